package builder

import (
	"encoding/json"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/pgbackup/pgbackup/backup-agent/result"
	"github.com/pgbackup/pgbackup/controller/api/v1alpha1"
)

// Labels and annotations (the backup label is a contract).
const (
	// LabelBackup names the PostgresBackup on every object made for it
	// (shortened to 63 characters when the name is longer).
	LabelBackup = "pgbackup.dev/backup"
	// AnnotationBackup holds the PostgresBackup's full name on Jobs and
	// Pods, which a label value may be too short for.
	AnnotationBackup = "pgbackup.dev/backup-name"
	// AnnotationBackupUID holds the UID of the PostgresBackup a Job was
	// started for by hand (`pgbackup trigger`). The controller folds a Job
	// into the status only when the CronJob the resource controls controls
	// it, or when it carries this annotation with the resource's UID: a
	// name alone may belong to a deleted resource of the same name.
	AnnotationBackupUID = "pgbackup.dev/backup-uid"
)

// ContainerName is the agent's container.
const ContainerName = "agent"

// Paths inside the agent's pod.
const (
	SpoolDir       = "/spool"
	TerminationLog = result.DefaultTerminationLog
)

// Defaults of the spec, for objects created before the CRD defaulted them.
const (
	DefaultStartingDeadlineSeconds = 300
	DefaultHistoryLimit            = 3
	DefaultBackoffLimit            = 1
	// DefaultActiveDeadlineSeconds bounds a run when the spec does not: 6
	// hours. Under Forbid a run that never ends blocks every later one and
	// records no failure.
	DefaultActiveDeadlineSeconds = 6 * 60 * 60
	// MinHistoryLimit is the least number of finished Jobs of each outcome
	// the CronJob keeps: the controller reads a run's result from its pod,
	// so with 0 a run ending while the controller is down (or before it saw
	// the Job finish) would vanish unrecorded.
	MinHistoryLimit = 1
	// TerminationGracePeriodSeconds is the agent pod's time between SIGTERM
	// and SIGKILL. It covers the agent's own cleanup after SIGTERM: stopping
	// pg_dump (10 s), aborting the multipart uploads (up to 30 s) and
	// deleting the objects the failed run created (up to 60 s), plus
	// margin, so a deadline or an eviction never kills it mid-cleanup.
	TerminationGracePeriodSeconds = 120
	// nonRootID is the agent image's user and group (distroless nonroot).
	nonRootID = 65532
)

// AWS credential keys expected in credentialsSecretRef.
const (
	KeyAccessKeyID     = "AWS_ACCESS_KEY_ID"
	KeySecretAccessKey = "AWS_SECRET_ACCESS_KEY"
	KeySessionToken    = "AWS_SESSION_TOKEN"
)

// Options are the controller-wide settings of the built objects.
type Options struct {
	// AgentImage runs the agent (`pgbackup backup`, `pgbackup verify`).
	AgentImage string
	// VerifyImageTemplate is the scratch PostgreSQL server's image of
	// verification runs whose spec names none: "{major}" is replaced with
	// the major of the last backed-up server. DefaultVerifyImageTemplate
	// when empty.
	VerifyImageTemplate string
	// Cluster is what the reconciler read of the resource's clusterRef,
	// if any (set per build, not per controller).
	Cluster ClusterFacts
}

// Labels are the labels of every object built for pb.
func Labels(pb *v1alpha1.PostgresBackup) map[string]string {
	return map[string]string{
		"app.kubernetes.io/name":       "pgbackup",
		"app.kubernetes.io/instance":   LabelValue(pb.Name),
		"app.kubernetes.io/component":  "backup",
		"app.kubernetes.io/managed-by": "pgbackup-controller",
		LabelBackup:                    LabelValue(pb.Name),
	}
}

// OwnerReference makes pb the controller of an object, so deleting pb
// deletes it.
func OwnerReference(pb *v1alpha1.PostgresBackup) metav1.OwnerReference {
	return *metav1.NewControllerRef(pb, v1alpha1.GroupVersion.WithKind("PostgresBackup"))
}

// CronJob builds the CronJob that runs pb's backups.
func CronJob(pb *v1alpha1.PostgresBackup, opts Options) *batchv1.CronJob {
	spec := &pb.Spec
	labels := Labels(pb)
	annotations := map[string]string{AnnotationBackup: pb.Name}
	return &batchv1.CronJob{
		TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "CronJob"},
		ObjectMeta: metav1.ObjectMeta{
			Name:            CronJobName(pb),
			Namespace:       pb.Namespace,
			Labels:          labels,
			Annotations:     annotations,
			OwnerReferences: []metav1.OwnerReference{OwnerReference(pb)},
		},
		Spec: batchv1.CronJobSpec{
			Schedule: strings.TrimSpace(spec.Schedule),
			TimeZone: spec.TimeZone,
			// Two dumps of one database at once only slow each other
			// down and race on retention.
			ConcurrencyPolicy:          batchv1.ForbidConcurrent,
			Suspend:                    ptr.To(ptr.Deref(spec.Suspend, false)),
			StartingDeadlineSeconds:    ptr.To(ptr.Deref(spec.StartingDeadlineSeconds, DefaultStartingDeadlineSeconds)),
			SuccessfulJobsHistoryLimit: ptr.To(historyLimit(spec.SuccessfulJobsHistoryLimit)),
			FailedJobsHistoryLimit:     ptr.To(historyLimit(spec.FailedJobsHistoryLimit)),
			JobTemplate: batchv1.JobTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: annotations},
				Spec:       jobSpec(pb, opts),
			},
		},
	}
}

// historyLimit is the spec's limit (or the default), at least
// MinHistoryLimit.
func historyLimit(v *int32) int32 {
	return max(ptr.Deref(v, DefaultHistoryLimit), MinHistoryLimit)
}

// ActiveDeadline is how long a run of pb may take: activeDeadlineSeconds,
// or DefaultActiveDeadlineSeconds when unset.
func ActiveDeadline(spec *v1alpha1.PostgresBackupSpec) time.Duration {
	return time.Duration(activeDeadlineSeconds(spec)) * time.Second
}

func activeDeadlineSeconds(spec *v1alpha1.PostgresBackupSpec) int64 {
	if s := ptr.Deref(spec.ActiveDeadlineSeconds, 0); s > 0 {
		return s
	}
	return DefaultActiveDeadlineSeconds
}

// RunningTooLong is how long a run may take before it counts as running
// too long: runningTooLongSeconds, or 80% of the effective deadline, which
// leaves the last fifth of the deadline to act on the alert.
func RunningTooLong(spec *v1alpha1.PostgresBackupSpec) time.Duration {
	if s := ptr.Deref(spec.RunningTooLongSeconds, 0); s > 0 {
		return time.Duration(s) * time.Second
	}
	return ActiveDeadline(spec) * 4 / 5
}

func jobSpec(pb *v1alpha1.PostgresBackup, opts Options) batchv1.JobSpec {
	spec := &pb.Spec
	return batchv1.JobSpec{
		BackoffLimit:          ptr.To(ptr.Deref(spec.BackoffLimit, DefaultBackoffLimit)),
		ActiveDeadlineSeconds: ptr.To(activeDeadlineSeconds(spec)),
		PodFailurePolicy:      podFailurePolicy(ContainerName),
		Template:              podTemplate(pb, opts),
	}
}

// podFailurePolicy: a retry cannot fix a bad configuration or a safety
// rail; an evicted pod is not the agent's failure and does not count.
func podFailurePolicy(container string) *batchv1.PodFailurePolicy {
	return &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{
		{
			Action: batchv1.PodFailurePolicyActionFailJob,
			OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{
				ContainerName: ptr.To(container),
				Operator:      batchv1.PodFailurePolicyOnExitCodesOpIn,
				Values:        []int32{result.ExitConfig, result.ExitRefused},
			},
		},
		{
			Action:          batchv1.PodFailurePolicyActionIgnore,
			OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue}},
		},
	}}
}

// podMeta is the pod template's metadata: the overrides' labels and
// annotations, then ours (which win: the controller selects by them).
func podMeta(pb *v1alpha1.PostgresBackup, o *v1alpha1.PodTemplateOverrides, labels map[string]string) metav1.ObjectMeta {
	l := maps.Clone(o.Labels)
	if l == nil {
		l = map[string]string{}
	}
	maps.Copy(l, labels)
	annotations := maps.Clone(o.Annotations)
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[AnnotationBackup] = pb.Name
	return metav1.ObjectMeta{Labels: l, Annotations: annotations}
}

// overrides is a copy of pb's pod template overrides (the built object
// shares nothing with pb), empty when there are none.
func overrides(pb *v1alpha1.PostgresBackup) *v1alpha1.PodTemplateOverrides {
	if o := pb.Spec.PodTemplate.DeepCopy(); o != nil {
		return o
	}
	return &v1alpha1.PodTemplateOverrides{}
}

// agentSecurityContext is the agent container's: nothing but its volumes
// is writable, and it can gain nothing.
func agentSecurityContext() *corev1.SecurityContext {
	return &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr.To(false),
		ReadOnlyRootFilesystem:   ptr.To(true),
		RunAsNonRoot:             ptr.To(true),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
	}
}

func podTemplate(pb *v1alpha1.PostgresBackup, opts Options) corev1.PodTemplateSpec {
	o := overrides(pb)
	spool := corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}
	if claim := SpoolClaimName(pb); claim != "" {
		spool = corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}
	}
	files := postgresTLS(pb, opts.Cluster)
	files.add(s3TLS(pb))
	return corev1.PodTemplateSpec{
		ObjectMeta: podMeta(pb, o, Labels(pb)),
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			// See TerminationGracePeriodSeconds: the agent's cleanup after
			// SIGTERM must finish before the kubelet's SIGKILL.
			TerminationGracePeriodSeconds: ptr.To[int64](TerminationGracePeriodSeconds),
			// The agent talks to PostgreSQL and S3 only; its result reaches
			// the controller through the termination message.
			AutomountServiceAccountToken: ptr.To(false),
			ServiceAccountName:           o.ServiceAccountName,
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot: ptr.To(true),
				RunAsUser:    ptr.To[int64](nonRootID),
				RunAsGroup:   ptr.To[int64](nonRootID),
				// fsGroup makes the spool PVC writable by the agent.
				FSGroup:             ptr.To[int64](nonRootID),
				FSGroupChangePolicy: ptr.To(corev1.FSGroupChangeOnRootMismatch),
				SeccompProfile:      &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			Containers: []corev1.Container{{
				Name:                     ContainerName,
				Image:                    opts.AgentImage,
				ImagePullPolicy:          corev1.PullIfNotPresent,
				Args:                     []string{"backup"},
				Env:                      mergeEnv(append(agentEnv(pb, opts.Cluster), files.env...), o.Env),
				Resources:                resources(pb.Spec.Resources),
				TerminationMessagePath:   TerminationLog,
				TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
				VolumeMounts: append([]corev1.VolumeMount{
					{Name: "spool", MountPath: SpoolDir},
					{Name: "tmp", MountPath: "/tmp"},
				}, files.mounts...),
				SecurityContext: agentSecurityContext(),
			}},
			Volumes: append([]corev1.Volume{
				{Name: "spool", VolumeSource: spool},
				{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			}, files.volumes...),
			NodeSelector:      maps.Clone(o.NodeSelector),
			Tolerations:       o.Tolerations,
			Affinity:          o.Affinity,
			ImagePullSecrets:  o.ImagePullSecrets,
			PriorityClassName: o.PriorityClassName,
		},
	}
}

// Destination is the agent's --destination for pb: s3://BUCKET[/PREFIX].
func Destination(pb *v1alpha1.PostgresBackup) string {
	s3 := pb.Spec.Destination.S3
	d := "s3://" + s3.Bucket
	if p := strings.Trim(s3.Prefix, "/"); p != "" {
		d += "/" + p
	}
	return d
}

// agentEnv configures the agent: its flags as PGBACKUP_* variables, libpq's
// and the AWS SDK's variables. Secrets are referenced, never read.
func agentEnv(pb *v1alpha1.PostgresBackup, cluster ClusterFacts) []corev1.EnvVar {
	spec := &pb.Spec
	env := []corev1.EnvVar{{Name: "PGBACKUP_DESTINATION", Value: Destination(pb)}}
	add := func(name, value string) {
		if value != "" {
			env = append(env, corev1.EnvVar{Name: name, Value: value})
		}
	}
	add("PGBACKUP_DATABASES", strings.Join(spec.Postgres.Databases, ","))
	add("PGBACKUP_EXCLUDE_DATABASES", strings.Join(spec.Postgres.ExcludeDatabases, ","))
	add("PGBACKUP_DUMP_FILTERS", dumpFilters(spec.Postgres.Filters))
	add("PGBACKUP_PG_DUMP_EXTRA_ARGS", strings.Join(spec.Postgres.PgDumpExtraArgs, ","))
	add("PGBACKUP_FORMAT", string(spec.Format))
	add("PGBACKUP_COMPRESSION", spec.Compression)
	if r := spec.Retention; r != nil {
		addInt := func(name string, v *int32) {
			if v != nil {
				add(name, strconv.Itoa(int(*v)))
			}
		}
		addInt("PGBACKUP_KEEP_LAST", r.KeepLast)
		addInt("PGBACKUP_KEEP_DAILY", r.KeepDaily)
		addInt("PGBACKUP_KEEP_WEEKLY", r.KeepWeekly)
		addInt("PGBACKUP_KEEP_MONTHLY", r.KeepMonthly)
		if r.MaxAge != nil {
			add("PGBACKUP_MAX_AGE", r.MaxAge.Duration.String())
		}
	}
	if e := spec.Encryption; e != nil {
		add("PGBACKUP_AGE_RECIPIENT", strings.Join(e.AgeRecipients, ","))
	}
	// Unset: the agent's own default applies (5m).
	if d := spec.LockWaitTimeout; d != nil {
		add("PGBACKUP_LOCK_WAIT_TIMEOUT", d.Duration.String())
	}
	add("PGBACKUP_SPOOL_DIR", SpoolDir)
	add("PGBACKUP_TERMINATION_LOG", TerminationLog)

	conn := resolveConnection(pb, cluster)
	add("PGHOST", strings.Join(conn.hosts, ","))
	if conn.port != 0 {
		add("PGPORT", strconv.Itoa(int(conn.port)))
	}
	add("PGTARGETSESSIONATTRS", conn.targetAttrs)
	add("PGUSER", conn.user)
	if ref := conn.userFrom; ref != nil {
		env = append(env, secretEnv("PGUSER", ref.Name, ref.Key, false))
	}
	add("PGSSLMODE", string(conn.sslMode))
	if ref := conn.passwordFrom; ref != nil {
		env = append(env, secretEnv("PGPASSWORD", ref.Name, ref.Key, false))
	}
	env = append(env, notifyEnv(pb)...)
	return append(env, storageEnv(pb)...)
}

// dumpFilters is the agent's --dump-filters: the filters as JSON, with the
// API's field names ("" when there are none).
func dumpFilters(fs []v1alpha1.DumpFilter) string {
	if len(fs) == 0 {
		return ""
	}
	b, err := json.Marshal(fs)
	if err != nil {
		// Strings and string lists always marshal.
		panic(fmt.Sprintf("marshal dump filters: %v", err))
	}
	return string(b)
}

// notifyEnv is where the agent reports the run's end: the URLs as
// secretKeyRefs, the events, and the resource's name for the payload.
func notifyEnv(pb *v1alpha1.PostgresBackup) []corev1.EnvVar {
	n := pb.Spec.Notify
	if n == nil {
		return nil
	}
	env := []corev1.EnvVar{{Name: "PGBACKUP_NOTIFY_SOURCE", Value: pb.Namespace + "/" + pb.Name}}
	if w := n.Webhook; w != nil {
		env = append(env, secretEnv("PGBACKUP_NOTIFY_URL", w.URLSecretRef.Name, w.URLSecretRef.Key, false))
		if len(w.Events) > 0 {
			events := make([]string, len(w.Events))
			for i, e := range w.Events {
				events[i] = string(e)
			}
			env = append(env, corev1.EnvVar{Name: "PGBACKUP_NOTIFY_EVENTS", Value: strings.Join(events, ",")})
		}
	}
	if ref := n.HeartbeatSecretRef; ref != nil {
		env = append(env, secretEnv("PGBACKUP_HEARTBEAT_URL", ref.Name, ref.Key, false))
	}
	return env
}

// storageEnv is how every agent subcommand reaches the bucket, besides
// PGBACKUP_DESTINATION: the AWS SDK's variables (credentials as secretKeyRefs)
// and the agent's S3 flags. The backup and the verify containers share it,
// so they always read the same bucket the same way.
func storageEnv(pb *v1alpha1.PostgresBackup) []corev1.EnvVar {
	s3 := &pb.Spec.Destination.S3
	var env []corev1.EnvVar
	add := func(name, value string) {
		if value != "" {
			env = append(env, corev1.EnvVar{Name: name, Value: value})
		}
	}
	// Unset: the agent's own default applies (2m).
	if d := s3.RequestTimeout; d != nil {
		add("PGBACKUP_S3_REQUEST_TIMEOUT", d.Duration.String())
	}
	if ref := s3.CredentialsSecretRef; ref != nil {
		env = append(env,
			secretEnv(KeyAccessKeyID, ref.Name, KeyAccessKeyID, false),
			secretEnv(KeySecretAccessKey, ref.Name, KeySecretAccessKey, false),
			secretEnv(KeySessionToken, ref.Name, KeySessionToken, true))
	}
	add("AWS_REGION", s3.Region)
	add("AWS_ENDPOINT_URL_S3", s3.Endpoint)
	if s3.ForcePathStyle != nil {
		add("PGBACKUP_S3_PATH_STYLE", strconv.FormatBool(*s3.ForcePathStyle))
	}
	add("PGBACKUP_S3_SSE", string(s3.SSE))
	add("PGBACKUP_S3_SSE_KMS_KEY_ID", s3.KMSKeyID)
	add("PGBACKUP_S3_STORAGE_CLASS", s3.StorageClass)
	add("PGBACKUP_S3_CHECKSUM", s3.Checksum)
	return env
}

func secretEnv(name, secret, key string, optional bool) corev1.EnvVar {
	sel := &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: secret}, Key: key}
	if optional {
		sel.Optional = ptr.To(true)
	}
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: sel}}
}

// mergeEnv returns base with extra applied: a variable of extra replaces
// the one of the same name in place, others are appended in order.
func mergeEnv(base, extra []corev1.EnvVar) []corev1.EnvVar {
	out := make([]corev1.EnvVar, 0, len(base)+len(extra))
	out = append(out, base...)
	index := make(map[string]int, len(out))
	for i, e := range out {
		index[e.Name] = i
	}
	for _, e := range extra {
		if i, ok := index[e.Name]; ok {
			out[i] = e
			continue
		}
		index[e.Name] = len(out)
		out = append(out, e)
	}
	return out
}

// resources are the spec's, or requests that let the scheduler place the
// pod sensibly: the upload buffers about (concurrency+1) parts in memory.
func resources(r *corev1.ResourceRequirements) corev1.ResourceRequirements {
	if r != nil {
		return *r.DeepCopy()
	}
	return corev1.ResourceRequirements{Requests: corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("100m"),
		corev1.ResourceMemory: resource.MustParse("256Mi"),
	}}
}
