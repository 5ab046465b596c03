package backup_test

import (
	"strings"
	"testing"
	"time"

	"github.com/pgbackup/pgbackup/backup-agent/result"
	"github.com/pgbackup/pgbackup/test/fixtures"
)

// Where the tests put the certificates in the agent's container, as the
// CronJob mounts them.
const (
	pgCAPath     = "/etc/pgbackup/postgres-ca/ca.crt"
	clientCert   = "/etc/pgbackup/postgres-client/tls.crt"
	clientKey    = "/etc/pgbackup/postgres-client/tls.key"
	s3CABundle   = "/etc/pgbackup/s3-ca/ca.crt"
	certRoleName = "backup_cert"
)

// Verified TLS end to end: PostgreSQL with a certificate of the test's own
// CA, reached with sslmode verify-full, by password and by client
// certificate; S3 over HTTPS with a CA bundle. A CA that did not issue the
// certificate fails the run at once with a reason that says so.
func TestBackupOverVerifiedTLS(t *testing.T) {
	ca := fixtures.NewCA(t)
	nw := fixtures.NewNetwork(t)
	st := &fixtures.Stack{Network: nw}
	st.PG = fixtures.StartPostgres(t, 17, fixtures.WithPostgresNetwork(nw, "pg"), fixtures.WithInitSQL(seedSQL))
	st.PG.EnableTLS(t, ca.Server(t, "pg"), ca, certRoleName)
	st.S3 = fixtures.StartS3(t, fixtures.WithS3Network(nw, "s3"), fixtures.WithS3TLS(ca))
	st.Bucket = st.S3.CreateBucket(t)
	e := &env{st}
	if !strings.HasPrefix(st.S3.InternalEndpoint, "https://") {
		t.Fatalf("the S3 fixture serves %s, want HTTPS", st.S3.InternalEndpoint)
	}
	client := ca.Client(t, certRoleName)
	files := map[string][]byte{pgCAPath: ca.PEM, s3CABundle: ca.PEM, clientCert: client.Cert, clientKey: client.Key}
	verified := map[string]string{"PGSSLMODE": "verify-full", "PGSSLROOTCERT": pgCAPath, "AWS_CA_BUNDLE": s3CABundle}
	run := func(t *testing.T, overrides map[string]string, files map[string][]byte) fixtures.AgentRun {
		t.Helper()
		vars := e.agentEnv()
		for k, v := range verified {
			vars[k] = v
		}
		for k, v := range overrides {
			if v == "" {
				delete(vars, k)
				continue
			}
			vars[k] = v
		}
		r := fixtures.RunAgent(t, fixtures.Agent{
			Args: []string{"backup", "--destination", "s3://" + e.Bucket + "/pg", "--databases", "app"},
			Env:  vars, Network: e.Network, Files: files,
		})
		t.Logf("agent exited %d in %v", r.ExitCode, r.Duration.Round(time.Millisecond))
		return r
	}
	succeeded := func(t *testing.T, r fixtures.AgentRun) {
		t.Helper()
		if r.ExitCode != 0 || r.Result == nil || r.Result.Result != result.Succeeded {
			t.Fatalf("backup failed: exit %d result %+v\n%s", r.ExitCode, r.Result, r.Output)
		}
	}

	t.Run("verify-full with a password, S3 over HTTPS", func(t *testing.T) {
		succeeded(t, run(t, nil, files))
	})
	t.Run("client certificate, its key world-readable as a Secret volume mounts it", func(t *testing.T) {
		// The fixture copies files as root with mode 0644, which libpq
		// refuses for a key: the agent must make a private copy.
		r := run(t, map[string]string{"PGUSER": certRoleName, "PGPASSWORD": "", "PGSSLCERT": clientCert, "PGSSLKEY": clientKey}, files)
		succeeded(t, r)
		if !strings.Contains(r.Output, "Client key copied to a private file") {
			t.Errorf("the agent did not copy the world-readable key:\n%s", r.Output)
		}
		if strings.Contains(r.Output, "BEGIN PRIVATE KEY") {
			t.Error("the key's content appears in the output")
		}
	})
	t.Run("the certificate role without a certificate is refused", func(t *testing.T) {
		r := run(t, map[string]string{"PGUSER": certRoleName, "PGPASSWORD": ""}, files)
		expectFailure(t, r, 3, result.ReasonAuthFailed, "client certificate")
	})
	t.Run("a CA that did not issue the server's certificate", func(t *testing.T) {
		other := fixtures.NewCA(t)
		r := run(t, nil, map[string][]byte{pgCAPath: other.PEM, s3CABundle: ca.PEM})
		expectFailure(t, r, 3, result.ReasonConnectionFailed, "TLS certificate is not trusted")
		if r.Duration > 30*time.Second {
			t.Errorf("an untrusted certificate took %v to fail: it must not be retried", r.Duration)
		}
	})
	t.Run("the CA's Secret is missing: the optional volume is empty", func(t *testing.T) {
		r := run(t, nil, map[string][]byte{s3CABundle: ca.PEM})
		expectFailure(t, r, 2, result.ReasonConfigInvalid, "PGSSLROOTCERT "+pgCAPath+": no such file; on Kubernetes it comes from postgres.sslRootCertRef")
	})
	t.Run("S3 without its CA bundle", func(t *testing.T) {
		r := run(t, map[string]string{"AWS_CA_BUNDLE": ""}, files)
		expectFailure(t, r, 5, result.ReasonStorageFailed, "its TLS certificate is not trusted")
	})
}
