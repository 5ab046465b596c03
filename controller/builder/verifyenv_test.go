package builder

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	// Test only, like package backup in agentenv_test.go: the verify
	// agent's flags are the contract of the verify container's environment.
	"github.com/pgbackup/pgbackup/backup-agent/verify"
	"github.com/pgbackup/pgbackup/controller/api/v1alpha1"
	"github.com/pgbackup/pgbackup/internal/envflag"
)

// TestVerifyEnvMatchesAgentFlags is TestAgentEnvMatchesAgentFlags for the
// verify container and `pgbackup verify`: every PGBACKUP_* variable the
// builder writes is a flag of the verify agent, parses, and reaches its
// option.
func TestVerifyEnvMatchesAgentFlags(t *testing.T) {
	for _, e := range os.Environ() {
		if name, _, _ := strings.Cut(e, "="); strings.HasPrefix(name, envflag.Prefix) {
			t.Setenv(name, "")
			os.Unsetenv(name)
		}
	}
	opts := verify.DefaultOptions()
	fs := pflag.NewFlagSet("verify", pflag.ContinueOnError)
	opts.AddFlags(fs)
	flags := map[string]string{}
	fs.VisitAll(func(f *pflag.Flag) { flags[envflag.Name(f.Name)] = f.Name })

	pb := withVerify()
	s3 := &pb.Spec.Destination.S3
	s3.ForcePathStyle = ptr.To(true)
	s3.RequestTimeout = &metav1.Duration{Duration: 45 * time.Second}
	s3.SSE, s3.KMSKeyID, s3.StorageClass, s3.Checksum = v1alpha1.SSEKMS, "alias/backups", "GLACIER_IR", "sha256"
	pb.Spec.Encryption = &v1alpha1.EncryptionSpec{AgeRecipients: []string{"age1a"}}
	pb.Spec.Verify.AgeIdentitySecretRef = &v1alpha1.SecretKeyRef{Name: "age", Key: "identity"}
	pb.Spec.Verify.Checks = []v1alpha1.VerifyCheck{{Name: "c", Database: "app", SQL: "SELECT true"}}

	var written []string
	for _, e := range VerifyCronJob(pb, Options{AgentImage: "img"}).Spec.JobTemplate.Spec.Template.Spec.Containers[0].Env {
		if !strings.HasPrefix(e.Name, envflag.Prefix) {
			continue
		}
		written = append(written, e.Name)
		if _, ok := flags[e.Name]; !ok {
			t.Errorf("the builder writes %s, but `pgbackup verify` has no such flag (its variables: %s)", e.Name, known(flags))
			continue
		}
		if e.ValueFrom != nil {
			t.Errorf("%s comes from %+v: agent flags are plain values", e.Name, e.ValueFrom)
			continue
		}
		t.Setenv(e.Name, e.Value)
	}
	if err := envflag.Apply(fs); err != nil {
		t.Fatalf("the verify agent cannot parse the CronJob's environment: %v", err)
	}
	checks := []struct {
		variable string
		ok       bool
	}{
		{"PGBACKUP_DESTINATION", opts.Destination.URL == "s3://backups/prod/orders"},
		{"PGBACKUP_BACKUP", opts.Backup == "latest"},
		{"PGBACKUP_TARGET", opts.Target == ScratchTarget},
		{"PGBACKUP_CHECKS", opts.Checks == `[{"name":"c","database":"app","sql":"SELECT true"}]`},
		{"PGBACKUP_IDENTITY", opts.Identity == IdentityFile},
		{"PGBACKUP_SPOOL_DIR", opts.SpoolDir == VerifySpoolDir},
		{"PGBACKUP_WAIT_FOR_TARGET", opts.WaitForTarget == 5*time.Minute},
		{"PGBACKUP_TERMINATION_LOG", opts.TerminationLog == TerminationLog},
		{"PGBACKUP_S3_PATH_STYLE", ptr.Deref(opts.Destination.PathStyle, false)},
		{"PGBACKUP_S3_REQUEST_TIMEOUT", opts.Destination.RequestTimeout == 45*time.Second},
		// verification.json is written with the backup's bucket settings.
		{"PGBACKUP_S3_SSE", opts.Destination.Objects.SSE == "aws:kms"},
		{"PGBACKUP_S3_SSE_KMS_KEY_ID", opts.Destination.Objects.KMSKeyID == "alias/backups"},
		{"PGBACKUP_S3_STORAGE_CLASS", opts.Destination.Objects.StorageClass == "GLACIER_IR"},
		{"PGBACKUP_S3_CHECKSUM", opts.Destination.Objects.Checksum == "sha256"},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s did not set its option as the spec says (options %+v)", c.variable, opts)
		}
	}
	if len(written) != len(checks) {
		t.Errorf("the builder writes %d PGBACKUP_* variables %v, the test checks %d", len(written), written, len(checks))
	}
}
