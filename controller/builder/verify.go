package builder

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/pgbackup/pgbackup/controller/api/v1alpha1"
)

// Labels of the verification objects.
const (
	// LabelRole tells the verification CronJob, its Jobs and Pods
	// (RoleVerify) from the backup ones, which have no such label. It is a
	// classification, not proof: status folding trusts owner UIDs.
	LabelRole  = "pgbackup.dev/role"
	RoleVerify = "verify"
)

// Containers of the verify pod.
const (
	// VerifyContainerName runs `pgbackup verify`; its termination message
	// is the run's result.
	VerifyContainerName = "verify"
	// ScratchContainerName is the scratch PostgreSQL server, a native
	// sidecar (an init container with restartPolicy Always): it is up
	// before the agent starts and is stopped when the agent ends.
	ScratchContainerName = "scratch-postgres"
)

// Paths and settings of the verify pod (the agent's verify configuration
// is a contract with `pgbackup verify`).
const (
	// ScratchDir is the scratch volume: the server's data directory and the
	// agent's spool.
	ScratchDir      = "/scratch"
	ScratchPGData   = ScratchDir + "/pgdata"
	VerifySpoolDir  = ScratchDir + "/spool"
	IdentityDir     = "/etc/pgbackup/age"
	IdentityFile    = IdentityDir + "/identity"
	identityFileKey = "identity"
	// ScratchTarget is how the agent reaches the scratch server: over the
	// pod's loopback, as the superuser the image creates, without TLS.
	ScratchTarget = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	// WaitForTarget is how long the agent waits for the scratch server to
	// accept connections. The sidecar's startup probe normally holds the
	// agent back until it does; this covers a server that restarts.
	WaitForTarget = "5m"
	// postgresID is the uid and gid of the official postgres images' user:
	// the verify pod runs as it, so the server owns its data directory and
	// the agent can read what the server writes.
	postgresID = 999
)

// Defaults of verification.
const (
	// DefaultVerifyImageTemplate is the scratch server's image when neither
	// the spec nor the controller names one.
	DefaultVerifyImageTemplate = "postgres:{major}"
	// DefaultPostgresMajor fills the template before the server's version
	// is known (no backup reported it yet).
	DefaultPostgresMajor = 18
	// DefaultVerifyMaxAge is spec.verify.maxAge when unset: a weekly
	// schedule plus a day.
	DefaultVerifyMaxAge = 8 * 24 * time.Hour
	// VerifyHistoryLimit is how many finished verification Jobs of each
	// outcome the verify CronJob keeps: the status keeps only the newest
	// run, so one Job of each outcome is all the controller needs.
	VerifyHistoryLimit = 1
)

// scratchArgs start the server for a throwaway copy: listening on the
// pod's loopback only, and without the durability a copy that is deleted
// with the pod does not need (which makes the restore much faster).
var scratchArgs = []string{
	"postgres",
	"-c", "listen_addresses=127.0.0.1",
	"-c", "fsync=off",
	"-c", "synchronous_commit=off",
	"-c", "full_page_writes=off",
}

// VerifyCronJobName is the verification CronJob's name:
// <cronJobName>-verify, shortened to 52 characters.
func VerifyCronJobName(pb *v1alpha1.PostgresBackup) string {
	return Shorten(CronJobName(pb)+"-verify", MaxCronJobName)
}

// VerifyLabels are the labels of the verification objects.
func VerifyLabels(pb *v1alpha1.PostgresBackup) map[string]string {
	l := Labels(pb)
	l[LabelRole] = RoleVerify
	return l
}

// VerifyMaxAge is spec.verify.maxAge, or DefaultVerifyMaxAge.
func VerifyMaxAge(v *v1alpha1.VerifySpec) time.Duration {
	if v != nil && v.MaxAge != nil && v.MaxAge.Duration > 0 {
		return v.MaxAge.Duration
	}
	return DefaultVerifyMaxAge
}

// VerifyActiveDeadline is how long a verification run may take.
func VerifyActiveDeadline(v *v1alpha1.VerifySpec) time.Duration {
	return time.Duration(verifyDeadlineSeconds(v)) * time.Second
}

func verifyDeadlineSeconds(v *v1alpha1.VerifySpec) int64 {
	if s := ptr.Deref(v.ActiveDeadlineSeconds, 0); s > 0 {
		return s
	}
	return DefaultActiveDeadlineSeconds
}

// VerifyPostgresImage is the scratch server's image: spec.verify's, else
// the template with the major of the server the last successful backup
// came from (DefaultPostgresMajor before one is known). A newer major
// would restore too, but the same major is what a real restore would use.
func VerifyPostgresImage(pb *v1alpha1.PostgresBackup, opts Options) string {
	if v := pb.Spec.Verify; v != nil && v.PostgresImage != "" {
		return v.PostgresImage
	}
	tpl := opts.VerifyImageTemplate
	if tpl == "" {
		tpl = DefaultVerifyImageTemplate
	}
	major := DefaultPostgresMajor
	if s := pb.Status.LastSuccessfulBackup; s != nil && s.ServerVersionNum >= 10000 {
		major = int(s.ServerVersionNum / 10000)
	}
	return strings.ReplaceAll(tpl, "{major}", strconv.Itoa(major))
}

// VerifyCronJob builds the CronJob that verifies pb's backups, or nil when
// spec.verify is unset. The caller validates the spec first
// (ValidateVerify).
func VerifyCronJob(pb *v1alpha1.PostgresBackup, opts Options) *batchv1.CronJob {
	v := pb.Spec.Verify
	if v == nil {
		return nil
	}
	labels := VerifyLabels(pb)
	annotations := map[string]string{AnnotationBackup: pb.Name}
	return &batchv1.CronJob{
		TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "CronJob"},
		ObjectMeta: metav1.ObjectMeta{
			Name:            VerifyCronJobName(pb),
			Namespace:       pb.Namespace,
			Labels:          labels,
			Annotations:     annotations,
			OwnerReferences: []metav1.OwnerReference{OwnerReference(pb)},
		},
		Spec: batchv1.CronJobSpec{
			Schedule: verifySchedule(v),
			TimeZone: pb.Spec.TimeZone,
			// A second restore beside a running one only doubles the load.
			ConcurrencyPolicy:          batchv1.ForbidConcurrent,
			Suspend:                    ptr.To(ptr.Deref(v.Suspend, false) || v.EveryNth != nil),
			StartingDeadlineSeconds:    ptr.To(ptr.Deref(pb.Spec.StartingDeadlineSeconds, DefaultStartingDeadlineSeconds)),
			SuccessfulJobsHistoryLimit: ptr.To[int32](VerifyHistoryLimit),
			FailedJobsHistoryLimit:     ptr.To[int32](VerifyHistoryLimit),
			JobTemplate: batchv1.JobTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: annotations},
				Spec: batchv1.JobSpec{
					// A failed verification is a finding, not a hiccup: it
					// is reported, not retried until it passes.
					BackoffLimit:          ptr.To[int32](0),
					ActiveDeadlineSeconds: ptr.To(verifyDeadlineSeconds(v)),
					PodFailurePolicy:      podFailurePolicy(VerifyContainerName),
					Template:              verifyPodTemplate(pb, opts),
				},
			},
		},
	}
}

// everyNthSchedule is the schedule of a verify CronJob that runs everyNth:
// the CronJob is suspended and only the template of the Jobs the
// controller starts after backups; a schedule is required all the same.
const everyNthSchedule = "@yearly"

func verifySchedule(v *v1alpha1.VerifySpec) string {
	if v.EveryNth != nil {
		return everyNthSchedule
	}
	return strings.TrimSpace(v.Schedule)
}

// AnnotationVerifyBackupID names the backup a verification Job started
// after a backup (verify.everyNth) verifies.
const AnnotationVerifyBackupID = "pgbackup.dev/verify-backup-id"

// VerifyAfterBackupJob is the Job verify.everyNth starts for backup id:
// the verify CronJob's template, owned by that CronJob like a scheduled
// run (so status and history limits treat it alike), verifying exactly
// that backup. Its name follows from the id, so that starting it twice
// (a retried reconcile, two controllers) makes one Job.
func VerifyAfterBackupJob(vcj *batchv1.CronJob, id string) *batchv1.Job {
	job := ManualJob(vcj, time.Time{})
	job.Name = Shorten(vcj.Name+"-"+strings.ToLower(id), MaxLabelValue)
	job.Annotations[AnnotationInstantiate] = "after-backup"
	job.Annotations[AnnotationVerifyBackupID] = id
	for i := range job.Spec.Template.Spec.Containers {
		c := &job.Spec.Template.Spec.Containers[i]
		if c.Name == VerifyContainerName {
			c.Env = mergeEnv(c.Env, []corev1.EnvVar{{Name: "PGBACKUP_BACKUP", Value: id}})
		}
	}
	return job
}

func verifyPodTemplate(pb *v1alpha1.PostgresBackup, opts Options) corev1.PodTemplateSpec {
	v := pb.Spec.Verify
	o := overrides(pb)
	emptyDir := corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}
	// The two containers share the scratch volume only: the server's
	// sockets and temporary files are its own, the agent's /tmp is the
	// agent's.
	volumes := []corev1.Volume{
		{Name: "scratch", VolumeSource: scratchVolume(v.Storage, VerifyLabels(pb))},
		{Name: "run", VolumeSource: emptyDir},
		{Name: "pg-tmp", VolumeSource: *emptyDir.DeepCopy()},
		{Name: "tmp", VolumeSource: *emptyDir.DeepCopy()},
	}
	agentMounts := []corev1.VolumeMount{
		{Name: "scratch", MountPath: ScratchDir},
		{Name: "tmp", MountPath: "/tmp"},
	}
	if ref := v.AgeIdentitySecretRef; ref != nil {
		volumes = append(volumes, corev1.Volume{Name: "age-identity", VolumeSource: corev1.VolumeSource{
			Secret: &corev1.SecretVolumeSource{
				SecretName:  ref.Name,
				Items:       []corev1.KeyToPath{{Key: ref.Key, Path: identityFileKey}},
				DefaultMode: ptr.To[int32](0o400),
				// Optional: a missing Secret or key would hold the pod in
				// ContainerCreating until the deadline; empty, the agent
				// fails at once and names verify.ageIdentitySecretRef.
				Optional: ptr.To(true),
			},
		}})
		agentMounts = append(agentMounts, corev1.VolumeMount{Name: "age-identity", MountPath: IdentityDir, ReadOnly: true})
	}
	s3ca := s3TLS(pb)
	volumes, agentMounts = append(volumes, s3ca.volumes...), append(agentMounts, s3ca.mounts...)
	return corev1.PodTemplateSpec{
		ObjectMeta: podMeta(pb, o, VerifyLabels(pb)),
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			TerminationGracePeriodSeconds: ptr.To[int64](TerminationGracePeriodSeconds),
			// Like the backup pod: the agent reaches S3 and the scratch
			// server only. The service account is for IRSA and the like.
			AutomountServiceAccountToken: ptr.To(false),
			ServiceAccountName:           o.ServiceAccountName,
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot:        ptr.To(true),
				RunAsUser:           ptr.To[int64](postgresID),
				RunAsGroup:          ptr.To[int64](postgresID),
				FSGroup:             ptr.To[int64](postgresID),
				FSGroupChangePolicy: ptr.To(corev1.FSGroupChangeOnRootMismatch),
				SeccompProfile:      &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			InitContainers: []corev1.Container{scratchContainer(pb, opts)},
			Containers: []corev1.Container{{
				Name:                     VerifyContainerName,
				Image:                    opts.AgentImage,
				ImagePullPolicy:          corev1.PullIfNotPresent,
				Args:                     []string{"verify"},
				Env:                      mergeEnv(append(verifyEnv(pb), s3ca.env...), verifyExtraEnv(o.Env)),
				Resources:                resources(pb.Spec.Resources),
				TerminationMessagePath:   TerminationLog,
				TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
				VolumeMounts:             agentMounts,
				SecurityContext:          agentSecurityContext(),
			}},
			Volumes:           volumes,
			NodeSelector:      o.NodeSelector,
			Tolerations:       o.Tolerations,
			Affinity:          o.Affinity,
			ImagePullSecrets:  o.ImagePullSecrets,
			PriorityClassName: o.PriorityClassName,
		},
	}
}

// scratchContainer is the scratch PostgreSQL server.
//
// It trusts every connection (POSTGRES_HOST_AUTH_METHOD=trust) because
// nothing but the pod can reach it: it listens on the pod's loopback
// interface only, no port is declared, and the only other container is
// the agent. It holds a copy of data the pod downloads anyway, and dies
// with the pod. A password would be one more secret to make and leak,
// protecting nothing. It gets no credentials either: no S3 keys, no
// identity, no API token; its image may be the PostgresBackup's choice.
func scratchContainer(pb *v1alpha1.PostgresBackup, opts Options) corev1.Container {
	res := corev1.ResourceRequirements{Requests: corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("100m"),
		corev1.ResourceMemory: resource.MustParse("256Mi"),
	}}
	if r := pb.Spec.Verify.Resources; r != nil {
		res = *r.DeepCopy()
	}
	return corev1.Container{
		Name:            ScratchContainerName,
		Image:           VerifyPostgresImage(pb, opts),
		ImagePullPolicy: corev1.PullIfNotPresent,
		// A native sidecar: started, and probed ready, before the agent;
		// stopped once the agent has ended.
		RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways),
		Args:          append([]string(nil), scratchArgs...),
		Env: []corev1.EnvVar{
			{Name: "PGDATA", Value: ScratchPGData},
			{Name: "POSTGRES_HOST_AUTH_METHOD", Value: "trust"},
		},
		Resources: res,
		// The image's entrypoint runs initdb first, with a server listening
		// on its socket only: TCP answers when the real server is up.
		StartupProbe: &corev1.Probe{
			ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{
				Command: []string{"pg_isready", "-h", "127.0.0.1", "-p", "5432"},
			}},
			PeriodSeconds:    2,
			FailureThreshold: 150,
		},
		VolumeMounts: []corev1.VolumeMount{
			{Name: "scratch", MountPath: ScratchDir},
			{Name: "run", MountPath: "/var/run/postgresql"},
			{Name: "pg-tmp", MountPath: "/tmp"},
		},
		SecurityContext: &corev1.SecurityContext{
			AllowPrivilegeEscalation: ptr.To(false),
			ReadOnlyRootFilesystem:   ptr.To(true),
			RunAsNonRoot:             ptr.To(true),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		},
	}
}

// scratchVolume is an emptyDir (limited to size when set) or, with a
// storage class, a generic ephemeral volume of size in that class.
func scratchVolume(st *v1alpha1.VerifyStorageSpec, labels map[string]string) corev1.VolumeSource {
	if st == nil || st.StorageClassName == nil || st.Size == nil {
		ed := &corev1.EmptyDirVolumeSource{}
		if st != nil && st.Size != nil {
			ed.SizeLimit = ptr.To(st.Size.DeepCopy())
		}
		return corev1.VolumeSource{EmptyDir: ed}
	}
	return corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{
		VolumeClaimTemplate: &corev1.PersistentVolumeClaimTemplate{
			ObjectMeta: metav1.ObjectMeta{Labels: labels},
			Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				StorageClassName: ptr.To(*st.StorageClassName),
				Resources: corev1.VolumeResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceStorage: st.Size.DeepCopy()},
				},
			},
		},
	}}
}

// verifyEnv configures `pgbackup verify`: the bucket exactly as the backup
// container reads it, the newest backup, the scratch server as target.
func verifyEnv(pb *v1alpha1.PostgresBackup) []corev1.EnvVar {
	v := pb.Spec.Verify
	env := []corev1.EnvVar{
		{Name: "PGBACKUP_DESTINATION", Value: Destination(pb)},
		{Name: "PGBACKUP_BACKUP", Value: "latest"},
		{Name: "PGBACKUP_TARGET", Value: ScratchTarget},
	}
	if len(v.Checks) > 0 {
		// Plain fields and strings: this cannot fail.
		b, _ := json.Marshal(v.Checks)
		env = append(env, corev1.EnvVar{Name: "PGBACKUP_CHECKS", Value: string(b)})
	}
	if v.AgeIdentitySecretRef != nil {
		env = append(env, corev1.EnvVar{Name: "PGBACKUP_IDENTITY", Value: IdentityFile})
	}
	env = append(env,
		corev1.EnvVar{Name: "PGBACKUP_SPOOL_DIR", Value: VerifySpoolDir},
		corev1.EnvVar{Name: "PGBACKUP_WAIT_FOR_TARGET", Value: WaitForTarget},
		corev1.EnvVar{Name: "PGBACKUP_TERMINATION_LOG", Value: TerminationLog},
	)
	return append(env, storageEnv(pb)...)
}

// verifyExtraEnv is spec.podTemplate.env without libpq's and the agent's
// variables (PG*): those describe the backed-up server and the backup run
// (PGHOST, PGREQUIREAUTH, PGBACKUP_JOBS, ...), and would point the verify
// agent elsewhere or refuse the scratch server's trust authentication.
// The rest (AWS_CA_BUNDLE, proxies, ...) is about reaching the bucket and
// applies to both pods.
func verifyExtraEnv(env []corev1.EnvVar) []corev1.EnvVar {
	var out []corev1.EnvVar
	for _, e := range env {
		if !strings.HasPrefix(e.Name, "PG") {
			out = append(out, e)
		}
	}
	return out
}
