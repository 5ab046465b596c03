package builder

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"

	"github.com/pgbackup/pgbackup/controller/api/v1alpha1"
)

func withVerify() *v1alpha1.PostgresBackup {
	pb := minimal()
	pb.Spec.Verify = &v1alpha1.VerifySpec{Schedule: "0 6 * * 0"}
	return pb
}

// verifyPod returns the verify CronJob's pod spec, its scratch server and
// its agent container.
func verifyPod(t *testing.T, cj *batchv1.CronJob) (corev1.PodSpec, corev1.Container, corev1.Container) {
	t.Helper()
	p := cj.Spec.JobTemplate.Spec.Template.Spec
	if len(p.InitContainers) != 1 || len(p.Containers) != 1 {
		t.Fatalf("init containers %d, containers %d; want 1 and 1", len(p.InitContainers), len(p.Containers))
	}
	return p, p.InitContainers[0], p.Containers[0]
}

func volume(p corev1.PodSpec, name string) *corev1.Volume {
	for i := range p.Volumes {
		if p.Volumes[i].Name == name {
			return &p.Volumes[i]
		}
	}
	return nil
}

func mounts(c corev1.Container) map[string]corev1.VolumeMount {
	m := map[string]corev1.VolumeMount{}
	for _, vm := range c.VolumeMounts {
		m[vm.MountPath] = vm
	}
	return m
}

func TestVerifyCronJob(t *testing.T) {
	opts := Options{AgentImage: "pgbackup/agent:v1"}
	tests := []struct {
		name  string
		edit  func(*v1alpha1.PostgresBackup)
		opts  *Options
		check func(t *testing.T, pb *v1alpha1.PostgresBackup, cj *batchv1.CronJob)
	}{
		{"shape", nil, nil, func(t *testing.T, pb *v1alpha1.PostgresBackup, cj *batchv1.CronJob) {
			s := cj.Spec
			if cj.Name != "orders-verify" || cj.Namespace != "db" || s.Schedule != "0 6 * * 0" || s.ConcurrencyPolicy != batchv1.ForbidConcurrent ||
				*s.Suspend || s.TimeZone != nil || *s.StartingDeadlineSeconds != 300 {
				t.Errorf("cronjob %s/%s %+v", cj.Namespace, cj.Name, s)
			}
			if *s.SuccessfulJobsHistoryLimit != 1 || *s.FailedJobsHistoryLimit != 1 {
				t.Errorf("history limits %d/%d, want 1/1", *s.SuccessfulJobsHistoryLimit, *s.FailedJobsHistoryLimit)
			}
			if ref := cj.OwnerReferences[0]; len(cj.OwnerReferences) != 1 || ref.Kind != "PostgresBackup" || ref.UID != "uid-1" || !*ref.Controller {
				t.Errorf("owner %+v", cj.OwnerReferences)
			}
			j := s.JobTemplate.Spec
			if *j.BackoffLimit != 0 || *j.ActiveDeadlineSeconds != 21600 {
				t.Errorf("backoff %d deadline %d", *j.BackoffLimit, *j.ActiveDeadlineSeconds)
			}
			if r := j.PodFailurePolicy.Rules; *r[0].OnExitCodes.ContainerName != "verify" || r[1].Action != batchv1.PodFailurePolicyActionIgnore {
				t.Errorf("pod failure policy %+v", r)
			}
			// Every object is the resource's and says it verifies.
			for what, m := range map[string]metav1.ObjectMeta{"cronjob": cj.ObjectMeta, "job": s.JobTemplate.ObjectMeta, "pod": j.Template.ObjectMeta} {
				if m.Labels[LabelRole] != "verify" || m.Labels[LabelBackup] != "orders" || m.Labels["app.kubernetes.io/name"] != "pgbackup" ||
					m.Annotations[AnnotationBackup] != "orders" {
					t.Errorf("%s meta %+v", what, m)
				}
			}
			if _, ok := CronJob(minimal(), opts).Labels[LabelRole]; ok {
				t.Error("the backup CronJob has a role label")
			}
		}},
		{"pod", nil, nil, func(t *testing.T, pb *v1alpha1.PostgresBackup, cj *batchv1.CronJob) {
			p, _, agent := verifyPod(t, cj)
			sc := p.SecurityContext
			if *p.AutomountServiceAccountToken || p.RestartPolicy != corev1.RestartPolicyNever || !*sc.RunAsNonRoot ||
				*sc.RunAsUser != 999 || *sc.RunAsGroup != 999 || *sc.FSGroup != 999 || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
				t.Errorf("pod %+v security %+v", p, sc)
			}
			if agent.Name != "verify" || agent.Image != "pgbackup/agent:v1" || !slices.Equal(agent.Args, []string{"verify"}) {
				t.Errorf("agent %s %s %v", agent.Name, agent.Image, agent.Args)
			}
			backup := CronJob(minimal(), opts).Spec.JobTemplate.Spec.Template.Spec.Containers[0]
			if !equality.Semantic.DeepEqual(agent.SecurityContext, backup.SecurityContext) || !equality.Semantic.DeepEqual(agent.Resources, backup.Resources) {
				t.Errorf("agent security %+v resources %+v differ from the backup agent's", agent.SecurityContext, agent.Resources)
			}
			if agent.TerminationMessagePath != "/dev/termination-log" || agent.TerminationMessagePolicy != corev1.TerminationMessageFallbackToLogsOnError {
				t.Errorf("termination %s %s", agent.TerminationMessagePath, agent.TerminationMessagePolicy)
			}
			if m := mounts(agent); m["/scratch"].Name != "scratch" || m["/tmp"].Name != "tmp" || len(m) != 2 {
				t.Errorf("agent mounts %+v", agent.VolumeMounts)
			}
		}},
		{"scratch server is a native sidecar", nil, nil, func(t *testing.T, pb *v1alpha1.PostgresBackup, cj *batchv1.CronJob) {
			_, pg, _ := verifyPod(t, cj)
			if pg.Name != "scratch-postgres" || pg.Image != "postgres:18" || ptr.Deref(pg.RestartPolicy, "") != corev1.ContainerRestartPolicyAlways {
				t.Errorf("sidecar %s %s restartPolicy %v", pg.Name, pg.Image, pg.RestartPolicy)
			}
			want := []string{"postgres", "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"}
			if !slices.Equal(pg.Args, want) || len(pg.Command) != 0 || len(pg.Ports) != 0 {
				t.Errorf("args %v command %v ports %v", pg.Args, pg.Command, pg.Ports)
			}
			if e := env(pg); len(e) != 2 || e["PGDATA"].Value != "/scratch/pgdata" || e["POSTGRES_HOST_AUTH_METHOD"].Value != "trust" {
				t.Errorf("env %+v: the scratch server gets no credentials", pg.Env)
			}
			if len(pg.EnvFrom) != 0 {
				t.Errorf("envFrom %+v", pg.EnvFrom)
			}
			p := pg.StartupProbe
			if p == nil || !slices.Equal(p.Exec.Command, []string{"pg_isready", "-h", "127.0.0.1", "-p", "5432"}) || p.PeriodSeconds != 2 || p.FailureThreshold != 150 {
				t.Errorf("startup probe %+v", p)
			}
			sc := pg.SecurityContext
			if !*sc.ReadOnlyRootFilesystem || *sc.AllowPrivilegeEscalation || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
				t.Errorf("security %+v", sc)
			}
			m := mounts(pg)
			if m["/scratch"].Name != "scratch" || m["/var/run/postgresql"].Name != "run" || m["/tmp"].Name != "pg-tmp" || len(m) != 3 {
				t.Errorf("mounts %+v", pg.VolumeMounts)
			}
			if pg.Resources.Requests.Memory().String() != "256Mi" {
				t.Errorf("resources %+v", pg.Resources)
			}
		}},
		{"emptyDir scratch", nil, nil, func(t *testing.T, pb *v1alpha1.PostgresBackup, cj *batchv1.CronJob) {
			p, _, _ := verifyPod(t, cj)
			for _, name := range []string{"scratch", "run", "pg-tmp", "tmp"} {
				if v := volume(p, name); v == nil || v.EmptyDir == nil || v.EmptyDir.SizeLimit != nil {
					t.Errorf("volume %s = %+v, want an unlimited emptyDir", name, v)
				}
			}
			if len(p.Volumes) != 4 {
				t.Errorf("volumes %+v", p.Volumes)
			}
		}},
		{"emptyDir with a size limit", func(pb *v1alpha1.PostgresBackup) {
			pb.Spec.Verify.Storage = &v1alpha1.VerifyStorageSpec{Size: ptr.To(resource.MustParse("20Gi"))}
		}, nil, func(t *testing.T, pb *v1alpha1.PostgresBackup, cj *batchv1.CronJob) {
			p, _, _ := verifyPod(t, cj)
			if v := volume(p, "scratch"); v.EmptyDir == nil || v.EmptyDir.SizeLimit.String() != "20Gi" {
				t.Errorf("scratch %+v", v)
			}
		}},
		{"ephemeral volume of a class", func(pb *v1alpha1.PostgresBackup) {
			pb.Spec.Verify.Storage = &v1alpha1.VerifyStorageSpec{Size: ptr.To(resource.MustParse("50Gi")), StorageClassName: ptr.To("fast")}
		}, nil, func(t *testing.T, pb *v1alpha1.PostgresBackup, cj *batchv1.CronJob) {
			p, _, _ := verifyPod(t, cj)
			v := volume(p, "scratch")
			if v.EmptyDir != nil || v.Ephemeral == nil {
				t.Fatalf("scratch %+v, want an ephemeral volume", v)
			}
			tpl := v.Ephemeral.VolumeClaimTemplate
			if *tpl.Spec.StorageClassName != "fast" || tpl.Spec.Resources.Requests.Storage().String() != "50Gi" ||
				tpl.Spec.AccessModes[0] != corev1.ReadWriteOnce || tpl.Labels[LabelBackup] != "orders" {
				t.Errorf("claim template %+v", tpl)
			}
		}},
		{"environment", nil, nil, func(t *testing.T, pb *v1alpha1.PostgresBackup, cj *batchv1.CronJob) {
			_, _, agent := verifyPod(t, cj)
			e := env(agent)
			want := map[string]string{
				"PGBACKUP_DESTINATION": "s3://backups/prod/orders", "PGBACKUP_BACKUP": "latest",
				"PGBACKUP_TARGET":    "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable",
				"PGBACKUP_SPOOL_DIR": "/scratch/spool", "PGBACKUP_WAIT_FOR_TARGET": "5m",
				"PGBACKUP_TERMINATION_LOG": "/dev/termination-log",
			}
			for k, v := range want {
				if e[k].Value != v {
					t.Errorf("%s = %q, want %q", k, e[k].Value, v)
				}
			}
			if len(e) != len(want) {
				t.Errorf("env has %d variables, want %d: %v", len(e), len(want), agent.Env)
			}
		}},
		{"bucket settings as the backup's", func(pb *v1alpha1.PostgresBackup) {
			s3 := &pb.Spec.Destination.S3
			s3.Region, s3.Endpoint, s3.ForcePathStyle = "eu-1", "http://minio:9000", ptr.To(true)
			s3.CredentialsSecretRef = &v1alpha1.SecretRef{Name: "s3"}
			s3.RequestTimeout = &metav1.Duration{Duration: 45 * time.Second}
			pb.Spec.Postgres.PasswordSecretRef = &v1alpha1.SecretKeyRef{Name: "pg", Key: "password"}
		}, nil, func(t *testing.T, pb *v1alpha1.PostgresBackup, cj *batchv1.CronJob) {
			_, _, agent := verifyPod(t, cj)
			e := env(agent)
			backup := env(CronJob(pb, opts).Spec.JobTemplate.Spec.Template.Spec.Containers[0])
			for _, name := range []string{"PGBACKUP_DESTINATION", "PGBACKUP_S3_REQUEST_TIMEOUT", "PGBACKUP_S3_PATH_STYLE", "AWS_REGION",
				"AWS_ENDPOINT_URL_S3", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"} {
				if _, ok := e[name]; !ok || !equality.Semantic.DeepEqual(e[name], backup[name]) {
					t.Errorf("%s = %+v, the backup container has %+v", name, e[name], backup[name])
				}
			}
			for name := range e {
				if strings.HasPrefix(name, "PG") && !strings.HasPrefix(name, "PGBACKUP_") {
					t.Errorf("%s set: the verify agent connects to the scratch server only", name)
				}
			}
		}},
		{"checks and identity", func(pb *v1alpha1.PostgresBackup) {
			pb.Spec.Encryption = &v1alpha1.EncryptionSpec{AgeRecipients: []string{"age1a"}}
			pb.Spec.Verify.AgeIdentitySecretRef = &v1alpha1.SecretKeyRef{Name: "age", Key: "key.txt"}
			pb.Spec.Verify.Checks = []v1alpha1.VerifyCheck{
				{Name: "recent-orders", Database: "shop", SQL: "SELECT count(*) > 0 FROM orders WHERE note = 'a\"b'"},
				{Name: "users", Database: "auth", SQL: "SELECT true"},
			}
		}, nil, func(t *testing.T, pb *v1alpha1.PostgresBackup, cj *batchv1.CronJob) {
			p, _, agent := verifyPod(t, cj)
			e := env(agent)
			var checks []map[string]string
			if err := json.Unmarshal([]byte(e["PGBACKUP_CHECKS"].Value), &checks); err != nil {
				t.Fatalf("PGBACKUP_CHECKS %q: %v", e["PGBACKUP_CHECKS"].Value, err)
			}
			want := []map[string]string{
				{"name": "recent-orders", "database": "shop", "sql": "SELECT count(*) > 0 FROM orders WHERE note = 'a\"b'"},
				{"name": "users", "database": "auth", "sql": "SELECT true"},
			}
			if !equality.Semantic.DeepEqual(checks, want) {
				t.Errorf("checks %v, want %v", checks, want)
			}
			if e["PGBACKUP_IDENTITY"].Value != "/etc/pgbackup/age/identity" {
				t.Errorf("PGBACKUP_IDENTITY = %q", e["PGBACKUP_IDENTITY"].Value)
			}
			if _, ok := e["PGBACKUP_AGE_RECIPIENT"]; ok {
				t.Error("the verify agent gets the recipients")
			}
			v := volume(p, "age-identity")
			if v == nil || v.Secret == nil || v.Secret.SecretName != "age" || len(v.Secret.Items) != 1 ||
				v.Secret.Items[0].Key != "key.txt" || v.Secret.Items[0].Path != "identity" || *v.Secret.DefaultMode != 0o400 ||
				!ptr.Deref(v.Secret.Optional, false) {
				t.Fatalf("identity volume %+v", v)
			}
			if m := mounts(agent)["/etc/pgbackup/age"]; m.Name != "age-identity" || !m.ReadOnly {
				t.Errorf("identity mount %+v", m)
			}
			if _, pg, _ := verifyPod(t, cj); mounts(pg)["/etc/pgbackup/age"].Name != "" {
				t.Error("the scratch server mounts the identity")
			}
			if bp := CronJob(pb, opts).Spec.JobTemplate.Spec.Template.Spec; volume(bp, "age-identity") != nil {
				t.Error("the backup pod mounts the identity")
			}
		}},
		{"image from the last backup's server", func(pb *v1alpha1.PostgresBackup) {
			pb.Status.LastSuccessfulBackup = &v1alpha1.SuccessfulBackup{ServerVersionNum: 160004}
		}, &Options{AgentImage: "a", VerifyImageTemplate: "registry.example.com/postgres:{major}-alpine"}, func(t *testing.T, pb *v1alpha1.PostgresBackup, cj *batchv1.CronJob) {
			if _, pg, _ := verifyPod(t, cj); pg.Image != "registry.example.com/postgres:16-alpine" {
				t.Errorf("image %s", pg.Image)
			}
		}},
		{"image override", func(pb *v1alpha1.PostgresBackup) {
			pb.Status.LastSuccessfulBackup = &v1alpha1.SuccessfulBackup{ServerVersionNum: 160004}
			pb.Spec.Verify.PostgresImage = "my/postgres:18"
		}, nil, func(t *testing.T, pb *v1alpha1.PostgresBackup, cj *batchv1.CronJob) {
			if _, pg, _ := verifyPod(t, cj); pg.Image != "my/postgres:18" {
				t.Errorf("image %s", pg.Image)
			}
		}},
		{"everything set", func(pb *v1alpha1.PostgresBackup) {
			pb.Spec.TimeZone = ptr.To("Europe/Berlin")
			pb.Spec.StartingDeadlineSeconds = ptr.To[int64](60)
			v := pb.Spec.Verify
			v.Schedule, v.Suspend, v.ActiveDeadlineSeconds = " @weekly ", ptr.To(true), ptr.To[int64](7200)
			v.Resources = &corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("4Gi")}}
			pb.Spec.Resources = &corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")}}
			pb.Spec.PodTemplate = &v1alpha1.PodTemplateOverrides{
				Labels:             map[string]string{"team": "db", LabelRole: "backup"},
				Annotations:        map[string]string{"a": "b"},
				NodeSelector:       map[string]string{"pool": "backup"},
				Tolerations:        []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpExists}},
				Affinity:           &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{}},
				ImagePullSecrets:   []corev1.LocalObjectReference{{Name: "regcred"}},
				PriorityClassName:  "low",
				ServiceAccountName: "backup-irsa",
				Env: []corev1.EnvVar{
					{Name: "AWS_CA_BUNDLE", Value: "/ca.pem"}, {Name: "PGREQUIREAUTH", Value: "scram-sha-256"},
					{Name: "PGBACKUP_JOBS", Value: "4"},
				},
			}
		}, nil, func(t *testing.T, pb *v1alpha1.PostgresBackup, cj *batchv1.CronJob) {
			s := cj.Spec
			if s.Schedule != "@weekly" || *s.TimeZone != "Europe/Berlin" || !*s.Suspend || *s.StartingDeadlineSeconds != 60 ||
				*s.JobTemplate.Spec.ActiveDeadlineSeconds != 7200 {
				t.Errorf("spec %+v", s)
			}
			tpl := s.JobTemplate.Spec.Template
			if tpl.Labels["team"] != "db" || tpl.Labels[LabelRole] != "verify" || tpl.Annotations["a"] != "b" {
				t.Errorf("pod meta %+v", tpl.ObjectMeta)
			}
			p, pg, agent := verifyPod(t, cj)
			if p.NodeSelector["pool"] != "backup" || p.Tolerations[0].Key != "dedicated" || p.Affinity.NodeAffinity == nil ||
				p.ImagePullSecrets[0].Name != "regcred" || p.PriorityClassName != "low" || p.ServiceAccountName != "backup-irsa" {
				t.Errorf("pod spec %+v", p)
			}
			if pg.Resources.Limits.Memory().String() != "4Gi" || len(pg.Resources.Requests) != 0 {
				t.Errorf("scratch resources %+v", pg.Resources)
			}
			if agent.Resources.Limits.Memory().String() != "1Gi" {
				t.Errorf("agent resources %+v", agent.Resources)
			}
			e := env(agent)
			if e["AWS_CA_BUNDLE"].Value != "/ca.pem" {
				t.Errorf("AWS_CA_BUNDLE = %+v: bucket settings of podTemplate.env reach the verify agent", e["AWS_CA_BUNDLE"])
			}
			for _, name := range []string{"PGREQUIREAUTH", "PGBACKUP_JOBS"} {
				if _, ok := e[name]; ok {
					t.Errorf("%s of podTemplate.env reached the verify agent", name)
				}
			}
		}},
		{"long name", func(pb *v1alpha1.PostgresBackup) {
			pb.Name = strings.Repeat("very-long-name-", 10)
		}, nil, func(t *testing.T, pb *v1alpha1.PostgresBackup, cj *batchv1.CronJob) {
			if len(cj.Name) > 52 || cj.Name == CronJobName(pb) {
				t.Errorf("name %q (%d)", cj.Name, len(cj.Name))
			}
			if errs := validation.IsDNS1123Subdomain(cj.Name); len(errs) > 0 {
				t.Errorf("name %q: %v", cj.Name, errs)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pb := withVerify()
			if tt.edit != nil {
				tt.edit(pb)
			}
			o := opts
			if tt.opts != nil {
				o = *tt.opts
			}
			before := pb.DeepCopy()
			cj := VerifyCronJob(pb, o)
			tt.check(t, pb, cj)
			if again := VerifyCronJob(pb, o); !equality.Semantic.DeepEqual(again, cj) {
				t.Error("VerifyCronJob is not deterministic")
			}
			if !equality.Semantic.DeepEqual(pb, before) {
				t.Error("VerifyCronJob changed its input")
			}
		})
	}
	if cj := VerifyCronJob(minimal(), opts); cj != nil {
		t.Errorf("VerifyCronJob without spec.verify = %+v, want nil", cj)
	}
}

func TestVerifyPostgresImage(t *testing.T) {
	tests := []struct {
		name     string
		version  int32 // 0: no successful backup
		template string
		image    string
		want     string
	}{
		{"default before any backup", 0, "", "", "postgres:18"},
		{"major of the server", 150007, "", "", "postgres:15"},
		{"template", 180001, "mirror/pg:{major}", "", "mirror/pg:18"},
		{"template without a placeholder", 180001, "mirror/pg:fixed", "", "mirror/pg:fixed"},
		{"spec wins", 150007, "mirror/pg:{major}", "own:1", "own:1"},
		{"too small to be a version", 42, "", "", "postgres:18"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pb := withVerify()
			pb.Spec.Verify.PostgresImage = tt.image
			if tt.version != 0 {
				pb.Status.LastSuccessfulBackup = &v1alpha1.SuccessfulBackup{ServerVersionNum: tt.version}
			}
			if got := VerifyPostgresImage(pb, Options{VerifyImageTemplate: tt.template}); got != tt.want {
				t.Errorf("image %q, want %q", got, tt.want)
			}
		})
	}
}

func TestValidateVerify(t *testing.T) {
	tests := []struct {
		name       string
		edit       func(*v1alpha1.PostgresBackup)
		wantReason string
		wantMsg    string
	}{
		{"unset", func(pb *v1alpha1.PostgresBackup) { pb.Spec.Verify = nil }, "", ""},
		{"valid", nil, "", ""},
		{"macro", func(pb *v1alpha1.PostgresBackup) { pb.Spec.Verify.Schedule = "@weekly" }, "", ""},
		{"six fields", func(pb *v1alpha1.PostgresBackup) { pb.Spec.Verify.Schedule = "0 0 6 * * 0" }, v1alpha1.ReasonInvalidSchedule, "verify.schedule"},
		{"garbage", func(pb *v1alpha1.PostgresBackup) { pb.Spec.Verify.Schedule = "weekly" }, v1alpha1.ReasonInvalidSchedule, "verify.schedule \"weekly\""},
		{"bad zone", func(pb *v1alpha1.PostgresBackup) { pb.Spec.TimeZone = ptr.To("Mars/Olympus") }, v1alpha1.ReasonInvalidTimeZone, "timeZone"},
		{"encrypted without identity", func(pb *v1alpha1.PostgresBackup) {
			pb.Spec.Encryption = &v1alpha1.EncryptionSpec{AgeRecipients: []string{"age1a"}}
		}, v1alpha1.ReasonVerifyIdentityMissing, "verify.ageIdentitySecretRef"},
		{"encrypted with identity", func(pb *v1alpha1.PostgresBackup) {
			pb.Spec.Encryption = &v1alpha1.EncryptionSpec{AgeRecipients: []string{"age1a"}}
			pb.Spec.Verify.AgeIdentitySecretRef = &v1alpha1.SecretKeyRef{Name: "age", Key: "identity"}
		}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pb := withVerify()
			if tt.edit != nil {
				tt.edit(pb)
			}
			err := ValidateVerify(&pb.Spec)
			if tt.wantReason == "" {
				if err != nil {
					t.Fatalf("ValidateVerify: %v", err)
				}
				return
			}
			var se *SpecError
			if !errors.As(err, &se) || se.Reason != tt.wantReason || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("err = %v, want reason %s containing %q", err, tt.wantReason, tt.wantMsg)
			}
		})
	}
}

func TestVerifyDefaults(t *testing.T) {
	if got := VerifyMaxAge(&v1alpha1.VerifySpec{}); got != 192*time.Hour {
		t.Errorf("default maxAge %v, want 8 days", got)
	}
	if got := VerifyMaxAge(&v1alpha1.VerifySpec{MaxAge: &metav1.Duration{Duration: time.Hour}}); got != time.Hour {
		t.Errorf("maxAge %v", got)
	}
	if got := VerifyActiveDeadline(&v1alpha1.VerifySpec{}); got != 6*time.Hour {
		t.Errorf("default deadline %v", got)
	}
}

// With verify.everyNth the CronJob is only the template of the Jobs the
// controller starts after backups: suspended, whatever spec.verify.suspend
// says; each such Job verifies exactly its backup and has a name that
// follows from the id.
func TestVerifyEveryNth(t *testing.T) {
	pb := minimal()
	pb.UID = "pb-uid"
	pb.Spec.Verify = &v1alpha1.VerifySpec{EveryNth: ptr.To[int32](1)}
	if err := ValidateVerify(&pb.Spec); err != nil {
		t.Fatal(err)
	}
	cj := VerifyCronJob(pb, Options{AgentImage: "agent:1"})
	if cj.Spec.Schedule != everyNthSchedule || !ptr.Deref(cj.Spec.Suspend, false) || cj.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent {
		t.Fatalf("everyNth CronJob: schedule %q suspend %v", cj.Spec.Schedule, cj.Spec.Suspend)
	}
	cj.UID = "vcj-uid"
	job := VerifyAfterBackupJob(cj, "20261202T040000Z-1")
	if job.Name != cj.Name+"-20261202t040000z-1" || job.Annotations[AnnotationVerifyBackupID] != "20261202T040000Z-1" ||
		job.Labels[LabelRole] != RoleVerify || job.Annotations[AnnotationBackupUID] != "pb-uid" {
		t.Errorf("job meta %+v", job.ObjectMeta)
	}
	if owner := metav1.GetControllerOf(job); owner == nil || owner.UID != "vcj-uid" || owner.Kind != "CronJob" {
		t.Errorf("job owner %+v", owner)
	}
	if again := VerifyAfterBackupJob(cj, "20261202T040000Z-1"); again.Name != job.Name {
		t.Errorf("names differ for one id: %s, %s", job.Name, again.Name)
	}
	var backup []string
	for _, e := range job.Spec.Template.Spec.Containers[0].Env {
		if e.Name == "PGBACKUP_BACKUP" {
			backup = append(backup, e.Value)
		}
	}
	if !slices.Equal(backup, []string{"20261202T040000Z-1"}) {
		t.Errorf("PGBACKUP_BACKUP = %v, want exactly the backup's id", backup)
	}
	if cjEnv := cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Env; slices.ContainsFunc(cjEnv, func(e corev1.EnvVar) bool { return e.Value == "20261202T040000Z-1" }) {
		t.Error("the Job's env leaked into the CronJob's template")
	}
	long := VerifyAfterBackupJob(&batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: strings.Repeat("n", 60) + "-verify"}}, "20261202T040000Z")
	if len(long.Name) > MaxLabelValue || len(validation.IsDNS1123Label(long.Name)) > 0 {
		t.Errorf("long name %q is not a valid Job name", long.Name)
	}

	for name, v := range map[string]*v1alpha1.VerifySpec{
		"both":    {Schedule: "@daily", EveryNth: ptr.To[int32](1)},
		"neither": {},
	} {
		pb.Spec.Verify = v
		if err := ValidateVerify(&pb.Spec); err == nil || !strings.Contains(err.Error(), "exactly one") {
			t.Errorf("%s: %v", name, err)
		}
	}
}
