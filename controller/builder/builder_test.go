package builder

import (
	"errors"
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

func minimal() *v1alpha1.PostgresBackup {
	return &v1alpha1.PostgresBackup{
		ObjectMeta: metav1.ObjectMeta{Name: "orders", Namespace: "db", UID: "uid-1"},
		Spec: v1alpha1.PostgresBackupSpec{
			Schedule: "0 3 * * *",
			Postgres: v1alpha1.PostgresSpec{Host: "pg.db.svc", User: "backup"},
			Destination: v1alpha1.DestinationSpec{S3: v1alpha1.S3Destination{
				Bucket: "backups", Prefix: "/prod/orders/",
			}},
		},
	}
}

func env(c corev1.Container) map[string]corev1.EnvVar {
	m := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		if _, dup := m[e.Name]; dup {
			panic("duplicate variable " + e.Name)
		}
		m[e.Name] = e
	}
	return m
}

func TestCronJob(t *testing.T) {
	opts := Options{AgentImage: "pgbackup/agent:v1"}
	tests := []struct {
		name  string
		edit  func(*v1alpha1.PostgresBackup)
		check func(t *testing.T, cj *batchv1.CronJob)
	}{
		{"defaults", nil, func(t *testing.T, cj *batchv1.CronJob) {
			s := cj.Spec
			if s.ConcurrencyPolicy != batchv1.ForbidConcurrent || s.Schedule != "0 3 * * *" || s.TimeZone != nil {
				t.Errorf("policy %q schedule %q tz %v", s.ConcurrencyPolicy, s.Schedule, s.TimeZone)
			}
			if *s.StartingDeadlineSeconds != 300 || *s.SuccessfulJobsHistoryLimit != 3 || *s.FailedJobsHistoryLimit != 3 || *s.Suspend {
				t.Errorf("deadline %d history %d/%d suspend %v", *s.StartingDeadlineSeconds, *s.SuccessfulJobsHistoryLimit, *s.FailedJobsHistoryLimit, *s.Suspend)
			}
			j := s.JobTemplate.Spec
			if *j.BackoffLimit != 1 || j.Template.Spec.RestartPolicy != corev1.RestartPolicyNever {
				t.Errorf("job %+v", j)
			}
			// Every run is bounded, and its cleanup fits the grace period.
			if j.ActiveDeadlineSeconds == nil || *j.ActiveDeadlineSeconds != 21600 {
				t.Errorf("activeDeadlineSeconds %v, want 21600", j.ActiveDeadlineSeconds)
			}
			if g := j.Template.Spec.TerminationGracePeriodSeconds; g == nil || *g != 120 {
				t.Errorf("terminationGracePeriodSeconds %v, want 120", g)
			}
			if r := j.PodFailurePolicy.Rules[0]; r.Action != batchv1.PodFailurePolicyActionFailJob || r.OnExitCodes.Values[0] != 2 || r.OnExitCodes.Values[1] != 7 {
				t.Errorf("pod failure policy %+v", r)
			}
			if cj.Name != "orders" || cj.Namespace != "db" || cj.Labels[LabelBackup] != "orders" || cj.Labels["app.kubernetes.io/name"] != "pgbackup" {
				t.Errorf("meta %s/%s %v", cj.Namespace, cj.Name, cj.Labels)
			}
			if ref := cj.OwnerReferences[0]; ref.Kind != "PostgresBackup" || ref.Name != "orders" || !*ref.Controller || ref.APIVersion != "pgbackup.dev/v1alpha1" {
				t.Errorf("owner %+v", ref)
			}
			if s.JobTemplate.Labels[LabelBackup] != "orders" || s.JobTemplate.Annotations[AnnotationBackup] != "orders" {
				t.Errorf("job template meta %+v", s.JobTemplate.ObjectMeta)
			}
		}},
		{"pod security and container", nil, func(t *testing.T, cj *batchv1.CronJob) {
			p := cj.Spec.JobTemplate.Spec.Template.Spec
			if *p.AutomountServiceAccountToken || !*p.SecurityContext.RunAsNonRoot || *p.SecurityContext.RunAsUser != 65532 ||
				*p.SecurityContext.FSGroup != 65532 || p.SecurityContext.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
				t.Errorf("pod security %+v", p.SecurityContext)
			}
			c := p.Containers[0]
			if c.Name != "agent" || c.Image != "pgbackup/agent:v1" || c.ImagePullPolicy != corev1.PullIfNotPresent || len(c.Args) != 1 || c.Args[0] != "backup" {
				t.Errorf("container %s %s %s %v", c.Name, c.Image, c.ImagePullPolicy, c.Args)
			}
			sc := c.SecurityContext
			if !*sc.ReadOnlyRootFilesystem || *sc.AllowPrivilegeEscalation || sc.Capabilities.Drop[0] != "ALL" {
				t.Errorf("container security %+v", sc)
			}
			if c.TerminationMessagePolicy != corev1.TerminationMessageFallbackToLogsOnError || c.TerminationMessagePath != "/dev/termination-log" {
				t.Errorf("termination %s %s", c.TerminationMessagePolicy, c.TerminationMessagePath)
			}
			if c.Resources.Requests.Memory().String() != "256Mi" || c.Resources.Requests.Cpu().String() != "100m" {
				t.Errorf("resources %v", c.Resources)
			}
			if p.Volumes[0].EmptyDir == nil || p.Volumes[1].EmptyDir == nil || c.VolumeMounts[0].MountPath != "/spool" || c.VolumeMounts[1].MountPath != "/tmp" {
				t.Errorf("volumes %+v mounts %+v", p.Volumes, c.VolumeMounts)
			}
		}},
		{"minimal environment", nil, func(t *testing.T, cj *batchv1.CronJob) {
			e := env(cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0])
			want := map[string]string{
				"PGBACKUP_DESTINATION": "s3://backups/prod/orders", "PGBACKUP_SPOOL_DIR": "/spool",
				"PGBACKUP_TERMINATION_LOG": "/dev/termination-log", "PGHOST": "pg.db.svc", "PGUSER": "backup",
			}
			for k, v := range want {
				if e[k].Value != v {
					t.Errorf("%s = %q, want %q", k, e[k].Value, v)
				}
			}
			if len(e) != len(want) {
				t.Errorf("env has %d variables, want %d: %v", len(e), len(want), e)
			}
		}},
		{"everything set", func(pb *v1alpha1.PostgresBackup) {
			s := &pb.Spec
			s.Schedule = " @daily "
			s.TimeZone = ptr.To("Europe/Berlin")
			s.Suspend = ptr.To(true)
			s.StartingDeadlineSeconds = ptr.To[int64](60)
			s.SuccessfulJobsHistoryLimit = ptr.To[int32](1)
			s.FailedJobsHistoryLimit = ptr.To[int32](5)
			s.BackoffLimit = ptr.To[int32](0)
			s.ActiveDeadlineSeconds = ptr.To[int64](3600)
			s.Format, s.Compression = v1alpha1.FormatPlain, "gzip:6"
			s.Postgres.Port, s.Postgres.SSLMode = 5433, "verify-full"
			s.Postgres.Databases = []string{"app", "orders"}
			s.Postgres.PasswordSecretRef = &v1alpha1.SecretKeyRef{Name: "pg", Key: "password"}
			s.Destination.S3.Region, s.Destination.S3.Endpoint = "eu-1", "http://minio:9000"
			s.Destination.S3.ForcePathStyle = ptr.To(true)
			s.Destination.S3.CredentialsSecretRef = &v1alpha1.SecretRef{Name: "s3"}
			s.Encryption = &v1alpha1.EncryptionSpec{AgeRecipients: []string{"age1a", "age1b"}}
			s.Retention = &v1alpha1.RetentionSpec{KeepLast: ptr.To[int32](7), KeepMonthly: ptr.To[int32](0), MaxAge: &metav1.Duration{Duration: 720 * time.Hour}}
		}, func(t *testing.T, cj *batchv1.CronJob) {
			s := cj.Spec
			if s.Schedule != "@daily" || *s.TimeZone != "Europe/Berlin" || !*s.Suspend || *s.StartingDeadlineSeconds != 60 ||
				*s.SuccessfulJobsHistoryLimit != 1 || *s.FailedJobsHistoryLimit != 5 {
				t.Errorf("cronjob spec %+v", s)
			}
			if j := s.JobTemplate.Spec; *j.BackoffLimit != 0 || *j.ActiveDeadlineSeconds != 3600 {
				t.Errorf("job backoff %d deadline %d", *j.BackoffLimit, *j.ActiveDeadlineSeconds)
			}
			e := env(s.JobTemplate.Spec.Template.Spec.Containers[0])
			for k, v := range map[string]string{
				"PGBACKUP_FORMAT": "plain", "PGBACKUP_COMPRESSION": "gzip:6", "PGBACKUP_DATABASES": "app,orders",
				"PGBACKUP_KEEP_LAST": "7", "PGBACKUP_KEEP_MONTHLY": "0", "PGBACKUP_MAX_AGE": "720h0m0s",
				"PGBACKUP_AGE_RECIPIENT": "age1a,age1b", "PGPORT": "5433", "PGSSLMODE": "verify-full",
				"AWS_REGION": "eu-1", "AWS_ENDPOINT_URL_S3": "http://minio:9000", "PGBACKUP_S3_PATH_STYLE": "true",
			} {
				if e[k].Value != v {
					t.Errorf("%s = %q, want %q", k, e[k].Value, v)
				}
			}
			if _, ok := e["PGBACKUP_KEEP_DAILY"]; ok {
				t.Error("PGBACKUP_KEEP_DAILY set though retention.keepDaily is not")
			}
			for name, want := range map[string][2]string{
				"PGPASSWORD": {"pg", "password"}, "AWS_ACCESS_KEY_ID": {"s3", "AWS_ACCESS_KEY_ID"},
				"AWS_SECRET_ACCESS_KEY": {"s3", "AWS_SECRET_ACCESS_KEY"}, "AWS_SESSION_TOKEN": {"s3", "AWS_SESSION_TOKEN"},
			} {
				v := e[name]
				if v.Value != "" || v.ValueFrom == nil || v.ValueFrom.SecretKeyRef.Name != want[0] || v.ValueFrom.SecretKeyRef.Key != want[1] {
					t.Errorf("%s = %+v, want secretKeyRef %v", name, v, want)
				}
			}
			if !*e["AWS_SESSION_TOKEN"].ValueFrom.SecretKeyRef.Optional || e["PGPASSWORD"].ValueFrom.SecretKeyRef.Optional != nil {
				t.Error("only the session token is optional")
			}
		}},
		{"timeouts", func(pb *v1alpha1.PostgresBackup) {
			pb.Spec.LockWaitTimeout = &metav1.Duration{Duration: 90 * time.Second}
			pb.Spec.Destination.S3.RequestTimeout = &metav1.Duration{Duration: 45 * time.Second}
		}, func(t *testing.T, cj *batchv1.CronJob) {
			e := env(cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0])
			if e["PGBACKUP_LOCK_WAIT_TIMEOUT"].Value != "1m30s" || e["PGBACKUP_S3_REQUEST_TIMEOUT"].Value != "45s" {
				t.Errorf("lock wait %q, request timeout %q", e["PGBACKUP_LOCK_WAIT_TIMEOUT"].Value, e["PGBACKUP_S3_REQUEST_TIMEOUT"].Value)
			}
		}},
		{"zero timeouts are passed on", func(pb *v1alpha1.PostgresBackup) {
			pb.Spec.LockWaitTimeout = &metav1.Duration{}
		}, func(t *testing.T, cj *batchv1.CronJob) {
			e := env(cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0])
			if v, ok := e["PGBACKUP_LOCK_WAIT_TIMEOUT"]; !ok || v.Value != "0s" {
				t.Errorf("PGBACKUP_LOCK_WAIT_TIMEOUT = %+v, want 0s (wait forever)", v)
			}
		}},
		{"history limits of 0 keep one Job", func(pb *v1alpha1.PostgresBackup) {
			pb.Spec.SuccessfulJobsHistoryLimit = ptr.To[int32](0)
			pb.Spec.FailedJobsHistoryLimit = ptr.To[int32](0)
		}, func(t *testing.T, cj *batchv1.CronJob) {
			if s, f := *cj.Spec.SuccessfulJobsHistoryLimit, *cj.Spec.FailedJobsHistoryLimit; s != 1 || f != 1 {
				t.Errorf("history limits %d/%d, want 1/1", s, f)
			}
		}},
		{"new spool PVC", func(pb *v1alpha1.PostgresBackup) {
			pb.Spec.Storage = &v1alpha1.StorageSpec{Size: ptr.To(resource.MustParse("10Gi"))}
		}, func(t *testing.T, cj *batchv1.CronJob) {
			if v := cj.Spec.JobTemplate.Spec.Template.Spec.Volumes[0]; v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != "orders-spool" {
				t.Errorf("spool volume %+v", v)
			}
		}},
		{"existing claim", func(pb *v1alpha1.PostgresBackup) {
			pb.Spec.Storage = &v1alpha1.StorageSpec{ExistingClaim: "scratch"}
		}, func(t *testing.T, cj *batchv1.CronJob) {
			if v := cj.Spec.JobTemplate.Spec.Template.Spec.Volumes[0]; v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != "scratch" {
				t.Errorf("spool volume %+v", v)
			}
		}},
		{"pod template overrides", func(pb *v1alpha1.PostgresBackup) {
			pb.Spec.Resources = &corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")}}
			pb.Spec.PodTemplate = &v1alpha1.PodTemplateOverrides{
				Labels:             map[string]string{"team": "db", LabelBackup: "hijack"},
				Annotations:        map[string]string{"a": "b"},
				NodeSelector:       map[string]string{"pool": "backup"},
				Tolerations:        []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpExists}},
				Affinity:           &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{}},
				ImagePullSecrets:   []corev1.LocalObjectReference{{Name: "regcred"}},
				PriorityClassName:  "low",
				ServiceAccountName: "backup-irsa",
				Env:                []corev1.EnvVar{{Name: "PGBACKUP_JOBS", Value: "4"}, {Name: "PGHOST", Value: "other"}},
			}
		}, func(t *testing.T, cj *batchv1.CronJob) {
			tpl := cj.Spec.JobTemplate.Spec.Template
			p := tpl.Spec
			if tpl.Labels["team"] != "db" || tpl.Labels[LabelBackup] != "orders" || tpl.Annotations["a"] != "b" || tpl.Annotations[AnnotationBackup] != "orders" {
				t.Errorf("pod meta %+v", tpl.ObjectMeta)
			}
			if p.NodeSelector["pool"] != "backup" || p.Tolerations[0].Key != "dedicated" || p.Affinity.NodeAffinity == nil ||
				p.ImagePullSecrets[0].Name != "regcred" || p.PriorityClassName != "low" || p.ServiceAccountName != "backup-irsa" {
				t.Errorf("pod spec %+v", p)
			}
			c := p.Containers[0]
			if e := env(c); e["PGBACKUP_JOBS"].Value != "4" || e["PGHOST"].Value != "other" {
				t.Errorf("env %+v", c.Env)
			}
			if c.Env[len(c.Env)-1].Name != "PGBACKUP_JOBS" {
				t.Errorf("extra variables go last: %+v", c.Env)
			}
			if c.Resources.Limits.Memory().String() != "1Gi" || len(c.Resources.Requests) != 0 {
				t.Errorf("resources %+v", c.Resources)
			}
		}},
		{"long name", func(pb *v1alpha1.PostgresBackup) {
			pb.Name = strings.Repeat("very-long-name-", 10)
		}, func(t *testing.T, cj *batchv1.CronJob) {
			if len(cj.Name) > 52 || len(cj.Labels[LabelBackup]) > 63 {
				t.Errorf("name %q (%d) label %q", cj.Name, len(cj.Name), cj.Labels[LabelBackup])
			}
			if errs := validation.IsDNS1123Subdomain(cj.Name); len(errs) > 0 {
				t.Errorf("name %q: %v", cj.Name, errs)
			}
			if cj.Spec.JobTemplate.Annotations[AnnotationBackup] != strings.Repeat("very-long-name-", 10) {
				t.Error("the annotation keeps the full name")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pb := minimal()
			if tt.edit != nil {
				tt.edit(pb)
			}
			before := pb.DeepCopy()
			cj := CronJob(pb, opts)
			tt.check(t, cj)
			if again := CronJob(pb, opts); !equality.Semantic.DeepEqual(again, cj) {
				t.Error("CronJob is not deterministic")
			}
			if !equality.Semantic.DeepEqual(pb, before) {
				t.Error("CronJob changed its input")
			}
		})
	}
}

func TestRunningTooLong(t *testing.T) {
	tests := []struct {
		name               string
		deadline, tooLong  *int64
		wantDeadline, want time.Duration
	}{
		{"defaults", nil, nil, 6 * time.Hour, 288 * time.Minute},
		{"80% of the spec's deadline", ptr.To[int64](3600), nil, time.Hour, 48 * time.Minute},
		{"set", ptr.To[int64](3600), ptr.To[int64](600), time.Hour, 10 * time.Minute},
		{"set, default deadline", nil, ptr.To[int64](7200), 6 * time.Hour, 2 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := &v1alpha1.PostgresBackupSpec{ActiveDeadlineSeconds: tt.deadline, RunningTooLongSeconds: tt.tooLong}
			if got := ActiveDeadline(spec); got != tt.wantDeadline {
				t.Errorf("ActiveDeadline = %v, want %v", got, tt.wantDeadline)
			}
			if got := RunningTooLong(spec); got != tt.want {
				t.Errorf("RunningTooLong = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestShorten(t *testing.T) {
	long := strings.Repeat("a", 60)
	tests := []struct {
		name, in string
		max      int
		want     string
	}{
		{"fits", "orders", 52, "orders"},
		{"exactly", strings.Repeat("b", 52), 52, strings.Repeat("b", 52)},
		{"hashed", long, 52, strings.Repeat("a", 43) + "-" + Shorten(long, 52)[44:]},
		{"trailing dash trimmed", strings.Repeat("a", 42) + "-" + strings.Repeat("c", 20), 52, strings.Repeat("a", 42) + "-" + Shorten(strings.Repeat("a", 42)+"-"+strings.Repeat("c", 20), 52)[43:]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Shorten(tt.in, tt.max)
			if got != tt.want || len(got) > tt.max {
				t.Errorf("Shorten = %q (%d), want %q", got, len(got), tt.want)
			}
			if strings.Contains(got, "--") {
				t.Errorf("Shorten = %q has a double dash", got)
			}
		})
	}
	if Shorten(long+"x", 52) == Shorten(long+"y", 52) {
		t.Error("names sharing a long prefix collide")
	}
}

func TestSpoolPVC(t *testing.T) {
	tests := []struct {
		name    string
		storage *v1alpha1.StorageSpec
		want    string // "" = no PVC
		class   *string
	}{
		{"no storage", nil, "", nil},
		{"existing claim", &v1alpha1.StorageSpec{ExistingClaim: "scratch"}, "", nil},
		{"size", &v1alpha1.StorageSpec{Size: ptr.To(resource.MustParse("5Gi"))}, "orders-spool", nil},
		{"size and class", &v1alpha1.StorageSpec{Size: ptr.To(resource.MustParse("5Gi")), StorageClassName: ptr.To("fast")}, "orders-spool", ptr.To("fast")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pb := minimal()
			pb.Spec.Storage = tt.storage
			pvc := SpoolPVC(pb)
			if tt.want == "" {
				if pvc != nil {
					t.Fatalf("got PVC %s, want none", pvc.Name)
				}
				return
			}
			if pvc.Name != tt.want || pvc.Namespace != "db" || pvc.Spec.AccessModes[0] != corev1.ReadWriteOnce ||
				pvc.Spec.Resources.Requests.Storage().String() != "5Gi" || pvc.Labels[LabelBackup] != "orders" ||
				pvc.OwnerReferences[0].Name != "orders" || ptr.Deref(pvc.Spec.StorageClassName, "") != ptr.Deref(tt.class, "") {
				t.Errorf("PVC %+v", pvc)
			}
		})
	}
}

func TestSchedule(t *testing.T) {
	tests := []struct {
		name, schedule string
		tz             *string
		wantReason     string
		wantMsg        string
	}{
		{"five fields", "0 3 * * *", nil, "", ""},
		{"macro", "@daily", ptr.To("Europe/Berlin"), "", ""},
		{"every", "@every 1h", nil, "", ""},
		{"six fields", "0 0 3 * * *", nil, v1alpha1.ReasonInvalidSchedule, "no seconds field"},
		{"garbage", "every day", nil, v1alpha1.ReasonInvalidSchedule, "not a valid cron expression"},
		{"out of range", "61 * * * *", nil, v1alpha1.ReasonInvalidSchedule, "not a valid cron expression"},
		{"TZ prefix", "TZ=UTC 0 3 * * *", nil, v1alpha1.ReasonInvalidSchedule, "set timeZone"},
		{"unknown zone", "0 3 * * *", ptr.To("Mars/Olympus"), v1alpha1.ReasonInvalidTimeZone, "not a known IANA time zone"},
		{"local zone", "0 3 * * *", ptr.To("Local"), v1alpha1.ReasonInvalidTimeZone, "not Local"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sched, loc, err := Schedule(&v1alpha1.PostgresBackupSpec{Schedule: tt.schedule, TimeZone: tt.tz})
			if tt.wantReason == "" {
				if err != nil || sched == nil || loc == nil {
					t.Fatalf("Schedule: %v", err)
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

func TestManualJob(t *testing.T) {
	cj := CronJob(minimal(), Options{AgentImage: "img"})
	cj.UID = "cj-uid"
	if cj.Spec.JobTemplate.Annotations[AnnotationBackupUID] != "" {
		t.Error("the CronJob's own Jobs are recognised by their owner, not an annotation")
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	job := ManualJob(cj, now)
	if !strings.HasPrefix(job.Name, "orders-manual-") || len(job.Name) > 63 || job.Namespace != "db" {
		t.Errorf("name %s/%s", job.Namespace, job.Name)
	}
	if ref := job.OwnerReferences[0]; ref.Kind != "CronJob" || ref.UID != "cj-uid" || !*ref.Controller {
		t.Errorf("owner %+v", ref)
	}
	if job.Annotations[AnnotationInstantiate] != "manual" || job.Annotations[AnnotationBackup] != "orders" || job.Labels[LabelBackup] != "orders" ||
		job.Annotations[AnnotationBackupUID] != "uid-1" {
		t.Errorf("meta %+v", job.ObjectMeta)
	}
	if job.Spec.Template.Spec.Containers[0].Image != "img" {
		t.Error("the Job does not run the CronJob's template")
	}
	job.Spec.Template.Spec.Containers[0].Image = "changed"
	if cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Image != "img" {
		t.Error("ManualJob shares its spec with the CronJob")
	}
}
