//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/pgbackup/pgbackup/test/fixtures"
)

const (
	// clusterName is the kind cluster the suite creates (and deletes).
	clusterName = "pgbackup-e2e"
	// releaseNamespace holds the Helm release (the controller).
	releaseNamespace = "pgbackup-system"
	// releaseName is the Helm release; the chart names its objects after it.
	releaseName = "pgbackup"
	// testNamespace holds PostgreSQL, S3 and the PostgresBackups.
	testNamespace = "e2e"
	// defaultNodeImage is the kind node image when KIND_NODE_IMAGE is unset.
	defaultNodeImage = "kindest/node:v1.37.2"
	// bucket is made by the S3 Deployment's init container.
	bucket = "backups"
	// sourceDatabase is the seeded database (POSTGRES_DB of the fixture).
	sourceDatabase = "shop"
)

// cluster is the suite's kind cluster and the tools that drive it.
type cluster struct {
	work       string // temporary directory: kubeconfig, binaries
	kubeconfig string
	kind       string
	helm       string
	kubectl    string
	pgbackup   string // the pgbackup binary, run on the host (trigger)
	controller string // controller image reference
	agent      string // agent image reference
	nodeImage  string
	kindConfig string
	created    bool
}

// repoRoot is the repository's root directory (the suite runs in test/e2e).
func repoRoot() string {
	wd, err := os.Getwd()
	if err != nil {
		return "../.."
	}
	return filepath.Join(wd, "..", "..")
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// chartAppVersion reads appVersion from the chart, the tag `make images`
// gives both images.
func chartAppVersion() (string, error) {
	b, err := os.ReadFile(filepath.Join(repoRoot(), "charts", "pgbackup", "Chart.yaml"))
	if err != nil {
		return "", err
	}
	m := regexp.MustCompile(`(?m)^appVersion:\s*"?([^"\s]+)"?\s*$`).FindSubmatch(b)
	if m == nil {
		return "", errors.New("no appVersion in charts/pgbackup/Chart.yaml")
	}
	return string(m[1]), nil
}

// newCluster reads the configuration from the environment.
func newCluster() (*cluster, error) {
	tag, err := chartAppVersion()
	if err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp("", "pgbackup-e2e.")
	if err != nil {
		return nil, err
	}
	c := &cluster{
		work:       work,
		kubeconfig: filepath.Join(work, "kubeconfig"),
		kind:       envOr("KIND", "kind"),
		helm:       envOr("HELM", "helm"),
		kubectl:    envOr("KUBECTL", "kubectl"),
		pgbackup:   os.Getenv("PGBACKUP_BIN"),
		controller: envOr("CONTROLLER_IMAGE", "pgbackup-controller:"+tag),
		agent:      envOr("AGENT_IMAGE", "pgbackup-agent:"+tag),
		nodeImage:  envOr("KIND_NODE_IMAGE", defaultNodeImage),
		kindConfig: os.Getenv("PGBACKUP_CI_KIND_CONFIG"),
	}
	for _, tool := range []string{c.kind, c.helm, c.kubectl, "docker"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("%s not found: run ../shared/ci/provision and source /var/cache/pgbackup-ci/env.sh, or use make test-e2e (it installs kind and helm)", tool)
		}
	}
	return c, nil
}

// verifyImageTemplate is the chart's verify.postgresImageTemplate: the
// fixture's PostgreSQL image (18, the major of the fixture server), which
// honours POSTGRES_HOST_AUTH_METHOD=trust like the official image.
var verifyImageTemplate = strings.TrimSuffix(fixtures.PostgresImage(e2eMajor), fmt.Sprintf(":%d", e2eMajor)) + ":{major}"

// e2eMajor is the PostgreSQL major of the cluster's fixture server
// (testdata/fixtures.yaml): the newest, which the agent image's pg_dump 18
// must dump.
const e2eMajor = 18

// fixtureImages are the test images the fixtures run.
func fixtureImages() []string {
	return []string{fixtures.PostgresImage(e2eMajor), fixtures.S3Image}
}

// run runs a command with the cluster's kubeconfig and returns its stdout;
// the error carries stderr.
func (c *cluster) run(ctx context.Context, stdin []byte, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+c.kubeconfig)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %w\n%s%s", filepath.Base(name), strings.Join(args, " "), err, stderr.String(), tail(stdout.String(), 2000))
	}
	return stdout.String(), nil
}

// kubectl runs kubectl with the cluster's kubeconfig.
func (c *cluster) kubectlRun(ctx context.Context, args ...string) (string, error) {
	return c.run(ctx, nil, c.kubectl, args...)
}

// apply applies a manifest (YAML or JSON) in a namespace.
func (c *cluster) apply(ctx context.Context, namespace string, manifest []byte) error {
	_, err := c.run(ctx, manifest, c.kubectl, "apply", "-n", namespace, "--server-side", "--force-conflicts", "--field-manager", "pgbackup-e2e", "-f", "-")
	return err
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// logf prints a progress line of the suite (outside any test's log).
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "e2e %s: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// timings records how long each phase took, for the summary.
type timings struct {
	mu    sync.Mutex
	lines []string
}

var phases timings

// time runs fn as a named phase and records its duration.
func (tm *timings) time(name string, fn func() error) error {
	t0 := time.Now()
	logf("%s ...", name)
	err := fn()
	d := time.Since(t0).Round(100 * time.Millisecond)
	status := "ok"
	if err != nil {
		status = "FAILED"
	}
	tm.add(name, d, status)
	logf("%s: %s (%v)", name, status, d)
	return err
}

func (tm *timings) add(name string, d time.Duration, status string) {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	tm.lines = append(tm.lines, fmt.Sprintf("%-58s %8v  %s", name, d.Round(100*time.Millisecond), status))
}

func (tm *timings) print() {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	fmt.Fprintln(os.Stderr, "\n==> e2e timings")
	for _, l := range tm.lines {
		fmt.Fprintln(os.Stderr, "    "+l)
	}
}

// setUp creates the cluster, loads the images, installs the chart and the
// fixtures, and waits until everything is ready.
func (c *cluster) setUp(ctx context.Context) error {
	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"check images and build pgbackup", c.prepare},
		{"create kind cluster " + clusterName, c.create},
		{"kind load docker-image (4 images)", c.loadImages},
		{"helm install + fixtures ready", c.install},
	}
	for _, s := range steps {
		if err := phases.time(s.name, func() error { return s.fn(ctx) }); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	return nil
}

// prepare checks that the images to load exist locally and builds the
// pgbackup binary when PGBACKUP_BIN is unset. The node image is not
// checked: kind pulls it where a registry can be reached.
func (c *cluster) prepare(ctx context.Context) error {
	for _, img := range append([]string{c.controller, c.agent}, fixtureImages()...) {
		if _, err := c.run(ctx, nil, "docker", "image", "inspect", img); err != nil {
			return fmt.Errorf("image %s is missing: make images test-images", img)
		}
	}
	if c.pgbackup == "" {
		c.pgbackup = filepath.Join(c.work, "pgbackup")
		cmd := exec.CommandContext(ctx, "go", "build", "-o", c.pgbackup, "./cmd/pgbackup")
		cmd.Dir = repoRoot()
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build pgbackup: %w\n%s", err, out)
		}
	}
	return nil
}

func (c *cluster) create(ctx context.Context) error {
	out, err := c.run(ctx, nil, c.kind, "get", "clusters")
	if err != nil {
		return err
	}
	for _, name := range strings.Fields(out) {
		if name == clusterName {
			logf("deleting a leftover cluster %s", clusterName)
			if _, err := c.run(ctx, nil, c.kind, "delete", "cluster", "--name", clusterName); err != nil {
				return err
			}
		}
	}
	args := []string{"create", "cluster", "--name", clusterName, "--image", c.nodeImage, "--kubeconfig", c.kubeconfig}
	if c.kindConfig != "" {
		args = append(args, "--config", c.kindConfig)
	}
	c.created = true // from here on, a failure still deletes the cluster
	if _, err := c.run(ctx, nil, c.kind, args...); err != nil {
		return err
	}
	_, err = c.kubectlRun(ctx, "wait", "--for=condition=Ready", "node", "--all", "--timeout=180s")
	return err
}

func (c *cluster) loadImages(ctx context.Context) error {
	args := append([]string{"load", "docker-image", "--name", clusterName, c.controller, c.agent}, fixtureImages()...)
	_, err := c.run(ctx, nil, c.kind, args...)
	return err
}

// splitImage splits [REGISTRY/]REPOSITORY:TAG for the chart's values.
func splitImage(ref string) (repo, tag string) {
	i := strings.LastIndex(ref, ":")
	if i < 0 || strings.Contains(ref[i:], "/") {
		return ref, ""
	}
	return ref[:i], ref[i+1:]
}

// install runs `helm install` and applies the fixtures at the same time,
// then waits for both.
func (c *cluster) install(ctx context.Context) error {
	var wg sync.WaitGroup
	errs := make([]error, 2)
	wg.Go(func() {
		ctrlRepo, ctrlTag := splitImage(c.controller)
		agentRepo, agentTag := splitImage(c.agent)
		_, errs[0] = c.run(ctx, nil, c.helm, "upgrade", "--install", releaseName,
			filepath.Join(repoRoot(), "charts", "pgbackup"),
			"--namespace", releaseNamespace, "--create-namespace", "--kubeconfig", c.kubeconfig,
			"--set", "image.repository="+ctrlRepo, "--set", "image.tag="+ctrlTag,
			"--set", "agent.image.repository="+agentRepo, "--set", "agent.image.tag="+agentTag,
			"--set", "logLevel=debug",
			// The scratch server of verifications: the fixture image, loaded
			// with the others (nothing is pulled).
			"--set", "verify.postgresImageTemplate="+verifyImageTemplate,
			"--wait", "--timeout", "4m")
	})
	wg.Go(func() { errs[1] = c.installFixtures(ctx) })
	wg.Wait()
	return errors.Join(errs...)
}

func (c *cluster) installFixtures(ctx context.Context) error {
	if _, err := c.kubectlRun(ctx, "create", "namespace", testNamespace); err != nil {
		return err
	}
	if _, err := c.kubectlRun(ctx, "create", "configmap", "seed", "-n", testNamespace,
		"--from-file=01-seed.sql="+filepath.Join("testdata", "seed.sql")); err != nil {
		return err
	}
	manifest, err := os.ReadFile(filepath.Join("testdata", "fixtures.yaml"))
	if err != nil {
		return err
	}
	if err := c.apply(ctx, testNamespace, manifest); err != nil {
		return err
	}
	for _, d := range []string{"postgres", "s3"} {
		if _, err := c.kubectlRun(ctx, "rollout", "status", "-n", testNamespace, "deployment/"+d, "--timeout=240s"); err != nil {
			return err
		}
	}
	return nil
}

// tearDown deletes the cluster unless E2E_KEEP=1.
func (c *cluster) tearDown() {
	if os.Getenv("E2E_KEEP") == "1" {
		logf("E2E_KEEP=1: cluster %s kept; export KUBECONFIG=%s", clusterName, c.kubeconfig)
		return
	}
	if c.created {
		_ = phases.time("delete kind cluster", func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			_, err := c.run(ctx, nil, c.kind, "delete", "cluster", "--name", clusterName)
			return err
		})
	}
	_ = os.RemoveAll(c.work)
}

// diagnose prints what usually explains a failure: the controller's logs,
// the events, the PostgresBackups and the failing pods' descriptions.
func (c *cluster) diagnose() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	section := func(title string, args ...string) {
		fmt.Fprintf(os.Stderr, "\n==> %s\n", title)
		out, err := c.kubectlRun(ctx, args...)
		fmt.Fprint(os.Stderr, out)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}
	section("nodes", "get", "nodes", "-o", "wide")
	section("pods, jobs, cronjobs, pvcs", "get", "pods,jobs,cronjobs,pvc", "-A", "-o", "wide")
	section("postgresbackups", "get", "pgb", "-n", testNamespace, "-o", "yaml")
	section("events", "get", "events", "-A", "--sort-by=.lastTimestamp")
	section("controller logs", "logs", "-n", releaseNamespace, "deployment/"+releaseName+"-controller", "--tail=300")
	out, err := c.kubectlRun(ctx, "get", "pods", "-A", "--no-headers",
		"-o", "custom-columns=NS:.metadata.namespace,NAME:.metadata.name,PHASE:.status.phase,READY:.status.containerStatuses[*].ready")
	if err != nil {
		return
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || f[2] == "Succeeded" || (f[2] == "Running" && !strings.Contains(f[3], "false")) {
			continue
		}
		section("pod "+f[0]+"/"+f[1], "describe", "pod", "-n", f[0], f[1])
		section("logs of "+f[0]+"/"+f[1], "logs", "-n", f[0], f[1], "--all-containers", "--tail=60")
	}
}
