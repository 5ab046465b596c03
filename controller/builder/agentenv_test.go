package builder

import (
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	// Test only: the controller must not import the agent's run code, but
	// its flags are the contract the CronJob's environment is written for.
	"github.com/pgbackup/pgbackup/backup-agent/backup"
	"github.com/pgbackup/pgbackup/backup-agent/selection"
	"github.com/pgbackup/pgbackup/controller/api/v1alpha1"
	"github.com/pgbackup/pgbackup/internal/envflag"
)

// everything is a spec that makes the builder write every PGBACKUP_*
// variable it knows.
func everything() *v1alpha1.PostgresBackup {
	pb := minimal()
	s := &pb.Spec
	s.Format, s.Compression = v1alpha1.FormatDirectory, "zstd:7"
	s.Postgres.Databases = []string{"app", "orders"}
	s.Postgres.ExcludeDatabases = []string{"scratch", "tmp"}
	s.Postgres.Filters = []v1alpha1.DumpFilter{
		{Database: "app", Schemas: []string{"app"}, ExcludeTableData: []string{"public.events_*", `"Audit Log"`}},
		{ExcludeSchemas: []string{"tmp"}, ExcludeTables: []string{"a,b"}},
	}
	s.Postgres.PgDumpExtraArgs = []string{"--no-owner", "--extension=postgis*"}
	s.Destination.S3.ForcePathStyle = ptr.To(true)
	s.Destination.S3.RequestTimeout = &metav1.Duration{Duration: 45 * time.Second}
	s.Destination.S3.SSE, s.Destination.S3.KMSKeyID = v1alpha1.SSEKMS, "alias/backups"
	s.Destination.S3.StorageClass = "STANDARD_IA"
	s.Destination.S3.Checksum = "md5"
	s.LockWaitTimeout = &metav1.Duration{Duration: 90 * time.Second}
	s.Encryption = &v1alpha1.EncryptionSpec{AgeRecipients: []string{
		"age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p",
		"age1lggyhqrw2nlhcxprm67z43rta597azn8gknawjehu9d9dl0jq3yqqvfafg",
	}}
	s.Retention = &v1alpha1.RetentionSpec{
		KeepLast: ptr.To[int32](7), KeepDaily: ptr.To[int32](6), KeepWeekly: ptr.To[int32](5),
		KeepMonthly: ptr.To[int32](4), MaxAge: &metav1.Duration{Duration: 720 * time.Hour},
	}
	s.Notify = &v1alpha1.NotifySpec{
		Webhook: &v1alpha1.WebhookSpec{URLSecretRef: v1alpha1.SecretKeyRef{Name: "hooks", Key: "slack"},
			Events: []v1alpha1.NotifyEvent{v1alpha1.NotifyFailed, v1alpha1.NotifySucceeded}},
		HeartbeatSecretRef: &v1alpha1.SecretKeyRef{Name: "hooks", Key: "healthchecks"},
	}
	return pb
}

// secretFlags are the agent's flags whose values are secrets: the builder
// writes them as secretKeyRefs, never as values.
var secretFlags = map[string]v1alpha1.SecretKeyRef{
	"PGBACKUP_NOTIFY_URL":    {Name: "hooks", Key: "slack"},
	"PGBACKUP_HEARTBEAT_URL": {Name: "hooks", Key: "healthchecks"},
}

// TestAgentEnvMatchesAgentFlags renders the agent's pod and parses every
// PGBACKUP_* variable with the agent's own flag set, the way `pgbackup
// backup` does (package envflag): a flag renamed or removed on the agent's
// side, or a value it cannot parse, fails here instead of in every
// scheduled run.
func TestAgentEnvMatchesAgentFlags(t *testing.T) {
	for _, e := range os.Environ() {
		if name, _, _ := strings.Cut(e, "="); strings.HasPrefix(name, envflag.Prefix) {
			t.Setenv(name, "") // restored afterwards
			os.Unsetenv(name)
		}
	}
	opts := backup.DefaultOptions()
	fs := pflag.NewFlagSet("backup", pflag.ContinueOnError)
	opts.AddFlags(fs)
	flags := map[string]string{} // variable -> flag
	fs.VisitAll(func(f *pflag.Flag) { flags[envflag.Name(f.Name)] = f.Name })

	cj := CronJob(everything(), Options{AgentImage: "img"})
	var written []string
	for _, e := range cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Env {
		if !strings.HasPrefix(e.Name, envflag.Prefix) {
			continue
		}
		written = append(written, e.Name)
		if _, ok := flags[e.Name]; !ok {
			t.Errorf("the builder writes %s, but `pgbackup backup` has no such flag (its variables: %s)", e.Name, known(flags))
			continue
		}
		if ref, secret := secretFlags[e.Name]; secret {
			if e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil ||
				e.ValueFrom.SecretKeyRef.Name != ref.Name || e.ValueFrom.SecretKeyRef.Key != ref.Key {
				t.Errorf("%s is %+v, want a secretKeyRef to %s/%s", e.Name, e, ref.Name, ref.Key)
			}
			t.Setenv(e.Name, "https://hooks.example.com/"+ref.Key) // what the kubelet would resolve
			continue
		}
		if e.ValueFrom != nil {
			t.Errorf("%s comes from %+v: agent flags other than secrets are plain values", e.Name, e.ValueFrom)
			continue
		}
		t.Setenv(e.Name, e.Value)
	}
	if err := envflag.Apply(fs); err != nil {
		t.Fatalf("the agent cannot parse the CronJob's environment: %v", err)
	}

	// Every variable reached the option it is meant for, with its value.
	checks := []struct {
		variable string
		ok       bool
	}{
		{"PGBACKUP_DESTINATION", opts.Destination.URL == "s3://backups/prod/orders"},
		{"PGBACKUP_DATABASES", strings.Join(opts.Databases, ",") == "app,orders"},
		{"PGBACKUP_FORMAT", opts.Format == "directory"},
		{"PGBACKUP_COMPRESSION", opts.Compression == "zstd:7"},
		{"PGBACKUP_KEEP_LAST", opts.Retention.KeepLast == 7},
		{"PGBACKUP_KEEP_DAILY", opts.Retention.KeepDaily == 6},
		{"PGBACKUP_KEEP_WEEKLY", opts.Retention.KeepWeekly == 5},
		{"PGBACKUP_KEEP_MONTHLY", opts.Retention.KeepMonthly == 4},
		{"PGBACKUP_MAX_AGE", opts.Retention.MaxAge == 720*time.Hour},
		{"PGBACKUP_AGE_RECIPIENT", len(opts.AgeRecipients) == 2},
		{"PGBACKUP_SPOOL_DIR", opts.SpoolDir == SpoolDir},
		{"PGBACKUP_TERMINATION_LOG", opts.TerminationLog == TerminationLog},
		{"PGBACKUP_S3_PATH_STYLE", ptr.Deref(opts.Destination.PathStyle, false)},
		{"PGBACKUP_LOCK_WAIT_TIMEOUT", opts.LockWaitTimeout == 90*time.Second},
		{"PGBACKUP_S3_REQUEST_TIMEOUT", opts.Destination.RequestTimeout == 45*time.Second},
		{"PGBACKUP_S3_SSE", opts.Destination.Objects.SSE == "aws:kms"},
		{"PGBACKUP_S3_SSE_KMS_KEY_ID", opts.Destination.Objects.KMSKeyID == "alias/backups"},
		{"PGBACKUP_S3_STORAGE_CLASS", opts.Destination.Objects.StorageClass == "STANDARD_IA"},
		{"PGBACKUP_S3_CHECKSUM", opts.Destination.Objects.Checksum == "md5"},
		{"PGBACKUP_NOTIFY_URL", opts.NotifyURL == "https://hooks.example.com/slack"},
		{"PGBACKUP_NOTIFY_EVENTS", strings.Join(opts.NotifyEvents, ",") == "failed,succeeded"},
		{"PGBACKUP_HEARTBEAT_URL", opts.HeartbeatURL == "https://hooks.example.com/healthchecks"},
		{"PGBACKUP_NOTIFY_SOURCE", opts.NotifySource == "db/orders"},
		{"PGBACKUP_EXCLUDE_DATABASES", strings.Join(opts.ExcludeDatabases, ",") == "scratch,tmp"},
		{"PGBACKUP_DUMP_FILTERS", filtersArrive(t, opts.DumpFilters)},
		{"PGBACKUP_PG_DUMP_EXTRA_ARGS", strings.Join(opts.PgDumpExtraArgs, " ") == "--no-owner --extension=postgis*" && selection.CheckExtraArgs(opts.PgDumpExtraArgs) == nil},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s did not set its option as the spec says (options %+v)", c.variable, opts)
		}
	}
	// The list above is every variable the builder writes: a new one must
	// be added to it (and so be parsed by this test).
	if len(written) != len(checks) {
		t.Errorf("the builder writes %d PGBACKUP_* variables %v, the test checks %d", len(written), written, len(checks))
	}
}

// filtersArrive says whether the agent reads the spec's filters from
// --dump-filters exactly: the patterns that carry quotes and commas too.
func filtersArrive(t *testing.T, got string) bool {
	fs, err := selection.ParseFilters(got)
	if err != nil {
		t.Errorf("the agent refuses the builder's --dump-filters %s: %v", got, err)
		return false
	}
	want := selection.Options{Filters: []selection.Filter{
		{Database: "app", Schemas: []string{"app"}, ExcludeTableData: []string{"public.events_*", `"Audit Log"`}},
		{ExcludeSchemas: []string{"tmp"}, ExcludeTables: []string{"a,b"}},
	}}
	have := selection.Options{Filters: fs}
	return slices.Equal(have.Args("app"), want.Args("app")) && slices.Equal(have.Args("other"), want.Args("other"))
}

func known(flags map[string]string) string {
	names := make([]string, 0, len(flags))
	for n := range flags {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, " ")
}

// The env of a minimal spec is parsed too (no optional variable set).
func TestMinimalAgentEnvParses(t *testing.T) {
	opts := backup.DefaultOptions()
	fs := pflag.NewFlagSet("backup", pflag.ContinueOnError)
	opts.AddFlags(fs)
	for _, e := range CronJob(minimal(), Options{AgentImage: "img"}).Spec.JobTemplate.Spec.Template.Spec.Containers[0].Env {
		if strings.HasPrefix(e.Name, envflag.Prefix) {
			if fs.Lookup(flagName(e.Name)) == nil {
				t.Errorf("no agent flag for %s", e.Name)
			}
			t.Setenv(e.Name, e.Value)
		}
	}
	if err := envflag.Apply(fs); err != nil {
		t.Fatal(err)
	}
	if opts.LockWaitTimeout != backup.DefaultLockWaitTimeout {
		t.Errorf("lock wait %v: unset in the spec must leave the agent's default", opts.LockWaitTimeout)
	}
}

// flagName inverts envflag.Name.
func flagName(variable string) string {
	return strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(variable, envflag.Prefix), "_", "-"))
}
