package faults_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net"
	"net/url"
	"path"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/Shopify/toxiproxy/v2"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/rs/zerolog"

	"github.com/pgbackup/pgbackup/backup-agent/manifest"
	"github.com/pgbackup/pgbackup/backup-agent/result"
	"github.com/pgbackup/pgbackup/test/fixtures"
)

// prefix is where every test's backups go in its bucket.
const prefix = "pg"

// smallSQL is a database whose dump fits in one PutObject.
const smallSQL = `
CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL UNIQUE);
CREATE TABLE orders (id bigserial PRIMARY KEY, customer int NOT NULL REFERENCES customers, total numeric(12,2));
INSERT INTO customers (name) SELECT 'customer ' || g FROM generate_series(1, 200) g;
INSERT INTO orders (customer, total) SELECT 1 + g % 200, g * 1.5 FROM generate_series(1, 5000) g;
`

// mediumSQL makes a dump of about 27 MB: with --compression none, a
// multipart upload of four 8 MiB parts, and a COPY long enough to be cut.
const mediumSQL = `
CREATE TABLE medium (id int PRIMARY KEY, a text);
INSERT INTO medium SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 200000) g;
`

// world is one test's PostgreSQL and S3 on a private network, and the
// address (the network's gateway) on which the test's fault injectors
// listen for the agent.
type world struct {
	*fixtures.Stack
	gateway string
}

func newWorld(t *testing.T, initSQL string) *world {
	t.Helper()
	s := fixtures.StartStack(t, 17, initSQL)
	return &world{Stack: s, gateway: s.Gateway(t)}
}

// env is the agent's production environment with overrides (key, value,
// key, value...).
func (w *world) env(overrides ...string) map[string]string {
	vars := w.AgentEnv(w.PG)
	for i := 0; i+1 < len(overrides); i += 2 {
		vars[overrides[i]] = overrides[i+1]
	}
	return vars
}

// s3Proxy starts a fixtures.S3Proxy on the gateway in front of the S3
// server and returns it with the agent environment that uses it.
func (w *world) s3Proxy(t *testing.T) (*fixtures.S3Proxy, map[string]string) {
	t.Helper()
	p := fixtures.StartS3ProxyOn(t, w.gateway, w.S3.Endpoint)
	return p, w.env("AWS_ENDPOINT_URL_S3", p.URL)
}

// run runs pgbackup with args in a container on the network.
func (w *world) run(t *testing.T, vars map[string]string, args ...string) fixtures.AgentRun {
	t.Helper()
	return w.runThen(t, vars, "", args...)
}

// runThen runs pgbackup with args, then the shell command after in the
// same container (see fixtures.Agent.After).
func (w *world) runThen(t *testing.T, vars map[string]string, after string, args ...string) fixtures.AgentRun {
	t.Helper()
	run := fixtures.RunAgent(t, fixtures.Agent{Args: args, Env: vars, Network: w.Network, Timeout: 4 * time.Minute, After: after})
	t.Logf("pgbackup %s exited %d in %v", args[0], run.ExitCode, run.Duration.Round(time.Millisecond))
	if strings.Contains(run.Output, w.PG.Password) {
		t.Errorf("the PostgreSQL password appears in the output:\n%s", run.Output)
	}
	return run
}

// peakRSS reads the agent's peak resident set size from its last log
// line ("Resources used"), in bytes.
func peakRSS(t *testing.T, run fixtures.AgentRun) int64 {
	t.Helper()
	for _, line := range strings.Split(run.Output, "\n") {
		if !strings.Contains(line, `"Resources used"`) {
			continue
		}
		var entry struct {
			PeakRSSBytes int64 `json:"peakRSSBytes"`
		}
		if i := strings.Index(line, "{"); i >= 0 && json.Unmarshal([]byte(line[i:]), &entry) == nil && entry.PeakRSSBytes > 0 {
			return entry.PeakRSSBytes
		}
	}
	t.Fatalf("the agent logged no peak RSS; output:\n%s", run.Output)
	return 0
}

// backup runs `pgbackup backup` of database app into the bucket.
func (w *world) backup(t *testing.T, vars map[string]string, args ...string) fixtures.AgentRun {
	t.Helper()
	return w.run(t, vars, append([]string{"backup", "--destination", w.Destination(prefix), "--databases", "app"}, args...)...)
}

// expectFailure asserts the run failed with code and reason, and said so
// in its result.
func expectFailure(t *testing.T, run fixtures.AgentRun, code int, reason result.Reason) {
	t.Helper()
	if run.ExitCode != code {
		t.Fatalf("exit code %d, want %d (%s); output:\n%s", run.ExitCode, code, reason, run.Output)
	}
	if run.Result == nil {
		t.Fatalf("no result written; output:\n%s", run.Output)
	}
	if run.Result.Result != result.Failed || run.Result.Reason != reason {
		t.Fatalf("result %+v, want failed/%s", run.Result, reason)
	}
	t.Logf("result: %s: %s", run.Result.Reason, run.Result.Message)
}

// within asserts the run ended within limit.
func within(t *testing.T, run fixtures.AgentRun, limit time.Duration) {
	t.Helper()
	if run.Duration > limit {
		t.Errorf("the run took %v, want at most %v", run.Duration.Round(time.Millisecond), limit)
	}
}

// openUploads lists the bucket's open multipart uploads.
func (w *world) openUploads(t *testing.T) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := w.S3.Client().ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(w.Bucket)})
	if err != nil {
		t.Fatalf("list multipart uploads: %v", err)
	}
	var keys []string
	for _, u := range out.Uploads {
		keys = append(keys, aws.ToString(u.Key))
	}
	return keys
}

// nothingCommitted asserts the bucket holds no manifest, no object and no
// open multipart upload.
func (w *world) nothingCommitted(t *testing.T) {
	t.Helper()
	if keys := w.S3.ObjectKeys(t, w.Bucket, ""); len(keys) != 0 {
		t.Errorf("objects left in the bucket: %v", keys)
	}
	if ups := w.openUploads(t); len(ups) != 0 {
		t.Errorf("multipart uploads left open: %v", ups)
	}
}

// manifests returns the manifests in the bucket, by key.
func (w *world) manifests(t *testing.T) map[string]*manifest.Manifest {
	t.Helper()
	out := map[string]*manifest.Manifest{}
	for _, k := range w.S3.ObjectKeys(t, w.Bucket, "") {
		if path.Base(k) != "manifest.json" {
			continue
		}
		m, err := manifest.Unmarshal(w.Get(t, k))
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		out[k] = m
	}
	return out
}

// checkWhole asserts every object m names exists with the size and
// sha256 the manifest gives.
func (w *world) checkWhole(t *testing.T, m *manifest.Manifest) {
	t.Helper()
	objects := m.Databases
	if m.Globals != nil {
		objects = append(objects, *m.Globals)
	}
	for _, o := range objects {
		b := w.Get(t, o.Key)
		sum := sha256.Sum256(b)
		if int64(len(b)) != o.Size || hex.EncodeToString(sum[:]) != o.SHA256 {
			t.Errorf("%s: %d bytes, sha256 %x; the manifest says %d bytes, %s", o.Key, len(b), sum, o.Size, o.SHA256)
		}
	}
}

// exactlyOneBackup asserts the run succeeded and left exactly one backup,
// whole: its manifest, the objects it names with their sizes and sha256,
// nothing else under the prefix but the run's claim, and no open upload.
func (w *world) exactlyOneBackup(t *testing.T, run fixtures.AgentRun) *manifest.Manifest {
	t.Helper()
	if run.ExitCode != 0 || run.Result == nil || run.Result.Result != result.Succeeded {
		t.Fatalf("backup failed: exit %d, result %+v; output:\n%s", run.ExitCode, run.Result, run.Output)
	}
	id := run.Result.BackupID
	ms := w.manifests(t)
	if len(ms) != 1 {
		t.Fatalf("%d manifests in the bucket, want 1: %v", len(ms), keysOf(ms))
	}
	m := ms[prefix+"/"+id+"/manifest.json"]
	if m == nil || m.ID != id {
		t.Fatalf("no manifest of backup %s: %v", id, keysOf(ms))
	}
	if len(m.Databases) != 1 || m.Databases[0].Name != "app" {
		t.Fatalf("manifest databases %+v, want app", m.Databases)
	}
	w.checkWhole(t, m)
	known := map[string]bool{prefix + "/" + id + "/manifest.json": true, prefix + "/" + id + "/claim.json": true}
	for _, o := range m.Databases {
		known[o.Key] = true
	}
	if m.Globals != nil {
		known[m.Globals.Key] = true
	}
	for _, k := range w.S3.ObjectKeys(t, w.Bucket, "") {
		if !known[k] {
			t.Errorf("object %s is not part of backup %s", k, id)
		}
	}
	if ups := w.openUploads(t); len(ups) != 0 {
		t.Errorf("multipart uploads left open: %v", ups)
	}
	return m
}

func keysOf[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}

// startToxiproxy starts an in-process Toxiproxy proxy listening on host
// (the gateway) in front of upstream (host:port), stopped at the end of
// the test. Its Listen field is the address to give the agent.
func startToxiproxy(t *testing.T, name, host, upstream string) *toxiproxy.Proxy {
	t.Helper()
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	p := toxiproxy.NewProxy(srv, name, net.JoinHostPort(host, "0"), upstream)
	if err := p.Start(); err != nil {
		t.Fatalf("toxiproxy %s: %v", name, err)
	}
	t.Cleanup(p.Stop)
	return p
}

// addToxic adds a toxic, as Toxiproxy's API takes it in JSON, for example
// {"type":"timeout","stream":"upstream","attributes":{"timeout":0}}.
func addToxic(t *testing.T, p *toxiproxy.Proxy, toxic string) {
	t.Helper()
	if _, err := p.Toxics.AddToxicJson(strings.NewReader(toxic)); err != nil {
		t.Fatalf("toxiproxy %s: add %s: %v", p.Name, toxic, err)
	}
}

// pgLink puts Toxiproxy between the agent and PostgreSQL and returns it
// with the agent environment that uses it.
func (w *world) pgLink(t *testing.T) (*toxiproxy.Proxy, map[string]string) {
	t.Helper()
	p := startToxiproxy(t, "postgres", w.gateway, net.JoinHostPort(w.PG.Host, strconv.Itoa(w.PG.Port)))
	host, port, err := net.SplitHostPort(p.Listen)
	if err != nil {
		t.Fatal(err)
	}
	return p, w.env("PGHOST", host, "PGPORT", port)
}

// s3Link puts Toxiproxy between the agent and S3 and returns it with the
// agent environment that uses it.
func (w *world) s3Link(t *testing.T) (*toxiproxy.Proxy, map[string]string) {
	t.Helper()
	u, err := url.Parse(w.S3.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	p := startToxiproxy(t, "s3", w.gateway, u.Host)
	return p, w.env("AWS_ENDPOINT_URL_S3", "http://"+p.Listen)
}
