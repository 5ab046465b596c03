//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/pgbackup/pgbackup/backup-agent/manifest"
	"github.com/pgbackup/pgbackup/controller/api/v1alpha1"
)

// env is the cluster every test uses; TestMain makes it.
var env *cluster

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	t0 := time.Now()
	c, err := newCluster()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	env = c
	defer func() {
		phases.add("total", time.Since(t0), "")
		phases.print()
	}()
	defer c.tearDown()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	err = c.setUp(ctx)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: set-up failed:", err)
		c.diagnose()
		return 1
	}
	code := m.Run()
	if code != 0 {
		c.diagnose()
	}
	return code
}

// TestBackups runs the scenarios side by side on the one cluster (go test
// -parallel must be at least 3; make test-e2e sets it): each has its own
// PostgresBackup and S3 prefix, and most of their time is spent waiting for
// the next minute of a `*/1 * * * *` schedule. scheduled: a scheduled
// backup, its status, manifest, PVC, printer columns and metrics, a restore,
// trigger --wait, then deletion. wrong-password: AuthFailed. forbid: a
// backup held up by a lock never overlaps the next scheduled one.
// pod-deleted: the agent pod deleted mid-upload aborts its upload and the
// status shows the failure. verify-succeeds, verify-fails: a restore
// verification (verify_test.go) with a passing and a failing check.
// cluster-ref: a CloudNativePG-shaped cluster by clusterRef, over
// verify-full with a client certificate (clusterref_test.go).
func TestBackups(t *testing.T) {
	t.Run("scheduled", func(t *testing.T) {
		t.Parallel()
		testScheduled(t)
	})
	t.Run("wrong-password", func(t *testing.T) {
		t.Parallel()
		testWrongPassword(t)
	})
	t.Run("forbid", func(t *testing.T) {
		t.Parallel()
		testForbid(t)
	})
	t.Run("pod-deleted", func(t *testing.T) {
		t.Parallel()
		testPodDeleted(t)
	})
	t.Run("verify-succeeds", func(t *testing.T) {
		t.Parallel()
		testVerifySucceeds(t)
	})
	t.Run("verify-fails", func(t *testing.T) {
		t.Parallel()
		testVerifyFails(t)
	})
	t.Run("cluster-ref", func(t *testing.T) {
		t.Parallel()
		testClusterRef(t)
	})
}

// TestControllerDownAndRecreate runs after TestBackups, alone, because it
// stops the controller: a run that finishes while the controller is down
// shows its true result once the controller is back; a PostgresBackup
// deleted and created again finds its backups kept, and new runs add to
// them.
func TestControllerDownAndRecreate(t *testing.T) {
	ctx := t.Context()
	const name = "recover"
	pb := newBackup(name, "postgres-superuser")
	pb.Spec.Schedule = "0 0 1 1 *" // runs are triggered
	step(t, "create PostgresBackup", func() error {
		if err := createBackup(ctx, pb); err != nil {
			return err
		}
		_, err := waitCondition(ctx, name, v1alpha1.ConditionReady, metav1.ConditionTrue, "", 2*time.Minute)
		return err
	})
	scale := func(replicas string) error {
		if _, err := env.kubectlRun(ctx, "scale", "deployment/"+releaseName+"-controller", "-n", releaseNamespace, "--replicas="+replicas); err != nil {
			return err
		}
		if replicas == "0" {
			return poll(ctx, 2*time.Minute, func() (bool, string, error) {
				out, err := env.kubectlRun(ctx, "get", "pods", "-n", releaseNamespace, "-l", "app.kubernetes.io/component=controller", "-o", "name")
				return strings.TrimSpace(out) == "", "controller pods: " + out, err
			})
		}
		_, err := env.kubectlRun(ctx, "rollout", "status", "deployment/"+releaseName+"-controller", "-n", releaseNamespace, "--timeout=180s")
		return err
	}
	step(t, "stop the controller", func() error { return scale("0") })
	t.Cleanup(func() { _ = scale("1") })
	var first string
	step(t, "a run finishes while the controller is down", func() error {
		id, err := triggerWait(ctx, t, name)
		first = id
		return err
	})
	step(t, "the restarted controller shows the run's true result", func() error {
		if err := scale("1"); err != nil {
			return err
		}
		got, err := waitCondition(ctx, name, v1alpha1.ConditionLastBackupSucceeded, metav1.ConditionTrue, "", 2*time.Minute)
		if err != nil {
			return err
		}
		if got.Status.LastSuccessfulBackup == nil || got.Status.LastSuccessfulBackup.ID != first {
			return fmt.Errorf("lastSuccessfulBackup %+v, want %s", got.Status.LastSuccessfulBackup, first)
		}
		return nil
	})
	step(t, "delete and recreate: backups kept, a new run adds to them", func() error {
		if _, err := env.kubectlRun(ctx, "delete", "pgb", "-n", testNamespace, name, "--wait=true", "--timeout=60s"); err != nil {
			return err
		}
		ms, err := listBackups(ctx, name)
		if err != nil {
			return err
		}
		if findManifest(ms, first) == nil {
			return fmt.Errorf("after delete, backup %s is not listed (%d listed)", first, len(ms))
		}
		pb.ResourceVersion = ""
		if err := createBackup(ctx, pb); err != nil {
			return err
		}
		if _, err := waitCondition(ctx, name, v1alpha1.ConditionReady, metav1.ConditionTrue, "", 2*time.Minute); err != nil {
			return err
		}
		second, err := triggerWait(ctx, t, name)
		if err != nil {
			return err
		}
		if _, err := waitCondition(ctx, name, v1alpha1.ConditionLastBackupSucceeded, metav1.ConditionTrue, "", 2*time.Minute); err != nil {
			return err
		}
		if ms, err = listBackups(ctx, name); err != nil {
			return err
		}
		if findManifest(ms, first) == nil || findManifest(ms, second) == nil {
			return fmt.Errorf("list shows %d backups; want both %s and %s", len(ms), first, second)
		}
		return nil
	})
	step(t, "delete PostgresBackup", func() error {
		_, err := env.kubectlRun(ctx, "delete", "pgb", "-n", testNamespace, name, "--wait=true", "--timeout=60s")
		return err
	})
}

// triggerWait runs `pgbackup trigger NAME --wait` and returns the id of
// the backup it made.
func triggerWait(ctx context.Context, t *testing.T, name string) (string, error) {
	cmd := exec.CommandContext(ctx, env.pgbackup, "trigger", name, "-n", testNamespace, "--wait", "--timeout", "4m")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+env.kubeconfig)
	out, err := cmd.CombinedOutput()
	t.Logf("pgbackup trigger --wait:\n%s", out)
	if err != nil {
		return "", fmt.Errorf("pgbackup trigger: %w", err)
	}
	m := regexp.MustCompile(`(?m)^Succeeded: backup (\S+), `).FindSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("no result line in the output of pgbackup trigger")
	}
	return string(m[1]), nil
}

// step runs one timed step of a scenario and fails the test if it fails.
func step(t *testing.T, name string, fn func() error) {
	t.Helper()
	if err := phases.time(t.Name()+": "+name, fn); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func testScheduled(t *testing.T) {
	ctx := t.Context()
	const name = "scheduled"
	pb := newBackup(name, "postgres-superuser")
	pb.Spec.Storage = &v1alpha1.StorageSpec{Size: ptr.To(resource.MustParse("1Gi"))}
	step(t, "create PostgresBackup", func() error { return createBackup(ctx, pb) })

	var got *v1alpha1.PostgresBackup
	step(t, "first scheduled backup succeeds", func() error {
		var err error
		got, err = waitCondition(ctx, name, v1alpha1.ConditionLastBackupSucceeded, metav1.ConditionTrue, "", 4*time.Minute)
		return err
	})
	id := got.Status.LastSuccessfulBackup.ID
	if id == "" || got.Status.CronJobName == "" {
		t.Fatalf("status has no backup id or CronJob: %+v", got.Status)
	}
	t.Logf("backup %s, %d bytes", id, got.Status.LastSuccessfulBackup.Bytes)

	step(t, "manifest in S3, PVC bound, printer columns", func() error {
		ms, err := listBackups(ctx, name)
		if err != nil {
			return err
		}
		m := findManifest(ms, id)
		if m == nil {
			return fmt.Errorf("backup %s not listed in s3://%s/%s: %d backups", id, bucket, name, len(ms))
		}
		if len(m.Databases) == 0 || m.Databases[0].Name != sourceDatabase {
			return fmt.Errorf("manifest of %s has databases %+v, want %s", id, m.Databases, sourceDatabase)
		}
		phase, err := env.kubectlRun(ctx, "get", "pvc", "-n", testNamespace, name+"-spool", "-o", "jsonpath={.status.phase}")
		if err != nil {
			return err
		}
		if phase != "Bound" {
			return fmt.Errorf("PVC %s-spool is %q, want Bound", name, phase)
		}
		table, err := env.kubectlRun(ctx, "get", "pgb", "-n", testNamespace, name)
		if err != nil {
			return err
		}
		t.Logf("kubectl get pgb:\n%s", table)
		for _, col := range []string{"SCHEDULE", "SUSPENDED", "LAST SUCCESS", "LAST RESULT", "READY", "AGE"} {
			if !strings.Contains(table, col) {
				return fmt.Errorf("kubectl get pgb lacks the column %q:\n%s", col, table)
			}
		}
		if !regexp.MustCompile(`(?m)^` + name + `\s+\*/1 \* \* \* \*\s+false\s+\S+\s+Succeeded\s+True\s`).MatchString(table) {
			return fmt.Errorf("kubectl get pgb row is not the expected one:\n%s", table)
		}
		return nil
	})

	step(t, "metrics report the last success", func() error {
		return checkMetrics(ctx, name, got.Status.LastSuccessfulBackup.Time.Time)
	})

	step(t, "restore into a new database matches the source", func() error {
		return restoreAndCompare(ctx, name, id, "restored")
	})

	var triggered string
	step(t, "pgbackup trigger --wait", func() error {
		cmd := exec.CommandContext(ctx, env.pgbackup, "trigger", name, "-n", testNamespace, "--wait", "--timeout", "4m")
		cmd.Env = append(os.Environ(), "KUBECONFIG="+env.kubeconfig)
		out, err := cmd.CombinedOutput()
		t.Logf("pgbackup trigger --wait:\n%s", out)
		if err != nil {
			return fmt.Errorf("pgbackup trigger: %w", err)
		}
		m := regexp.MustCompile(`(?m)^Succeeded: backup (\S+), \d+ bytes in \d+s \(Job (\S+)\)$`).FindSubmatch(out)
		if m == nil {
			return fmt.Errorf("no result line in the output of pgbackup trigger")
		}
		triggered = string(m[1])
		ms, err := listBackups(ctx, name)
		if err != nil {
			return err
		}
		if findManifest(ms, triggered) == nil {
			return fmt.Errorf("the triggered backup %s is not in S3", triggered)
		}
		return nil
	})

	step(t, "delete: CronJob and Jobs go, backups stay", func() error {
		before, err := listBackups(ctx, name)
		if err != nil {
			return err
		}
		if _, err := env.kubectlRun(ctx, "delete", "pgb", "-n", testNamespace, name, "--wait=true", "--timeout=60s"); err != nil {
			return err
		}
		if err := poll(ctx, 90*time.Second, func() (bool, string, error) {
			out, err := env.kubectlRun(ctx, "get", "cronjobs,jobs", "-n", testNamespace, "-l", "pgbackup.dev/backup="+name, "-o", "name")
			if err != nil {
				return false, "", err
			}
			return strings.TrimSpace(out) == "", "still there: " + strings.Join(strings.Fields(out), " "), nil
		}); err != nil {
			return err
		}
		after, err := listBackups(ctx, name)
		if err != nil {
			return err
		}
		for _, m := range before {
			if findManifest(after, m.ID) == nil {
				return fmt.Errorf("backup %s disappeared from S3 with the PostgresBackup", m.ID)
			}
		}
		if findManifest(after, id) == nil || findManifest(after, triggered) == nil {
			return fmt.Errorf("backups %s and %s should both remain; S3 has %d", id, triggered, len(after))
		}
		return nil
	})
}

func testWrongPassword(t *testing.T) {
	ctx := t.Context()
	const name = "wrong-password"
	pb := newBackup(name, "postgres-wrong-password")
	pb.Spec.BackoffLimit = ptr.To[int32](0)
	step(t, "create PostgresBackup", func() error { return createBackup(ctx, pb) })

	var got *v1alpha1.PostgresBackup
	step(t, "LastBackupSucceeded=False, AuthFailed", func() error {
		var err error
		got, err = waitCondition(ctx, name, v1alpha1.ConditionLastBackupSucceeded, metav1.ConditionFalse, "AuthFailed", 4*time.Minute)
		return err
	})
	if got.Status.LastFailure == nil || got.Status.LastFailure.Reason != "AuthFailed" {
		t.Errorf("status.lastFailure = %+v, want reason AuthFailed", got.Status.LastFailure)
	}
	if got.Status.LastSuccessfulBackup != nil {
		t.Errorf("status.lastSuccessfulBackup = %+v after a failure only", got.Status.LastSuccessfulBackup)
	}
	if msg := got.Status.LastFailure.Message; strings.Contains(msg, "not-the-password") {
		t.Errorf("the failure message shows the password: %s", msg)
	}

	step(t, "BackupFailed event, nothing in S3", func() error {
		if err := poll(ctx, 30*time.Second, func() (bool, string, error) {
			out, err := env.kubectlRun(ctx, "get", "events", "-n", testNamespace,
				"--field-selector", "involvedObject.kind=PostgresBackup,involvedObject.name="+name+",reason="+v1alpha1.EventBackupFailed,
				"-o", "jsonpath={range .items[*]}{.type} {.reason}: {.message}{\"\\n\"}{end}")
			if err != nil {
				return false, "", err
			}
			return strings.Contains(out, "Warning BackupFailed"), "no BackupFailed event yet", nil
		}); err != nil {
			return err
		}
		ms, err := listBackups(ctx, name)
		if err != nil {
			return err
		}
		if len(ms) != 0 {
			return fmt.Errorf("a failed backup left %d manifests in S3", len(ms))
		}
		return nil
	})
	step(t, "delete PostgresBackup", func() error {
		_, err := env.kubectlRun(ctx, "delete", "pgb", "-n", testNamespace, name, "--wait=true", "--timeout=60s")
		return err
	})
}

// testForbid holds an ACCESS EXCLUSIVE lock on a table of the database
// "slow", so that pg_dump waits and the backup outlives its one-minute
// schedule, and checks that no two Jobs ever run at once.
func testForbid(t *testing.T) {
	ctx := t.Context()
	const name = "forbid"
	const lockApp = "e2e-lock"
	release := func() error {
		_, err := psql(context.WithoutCancel(ctx), "postgres",
			"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = '"+lockApp+"'")
		return err
	}
	step(t, "lock a table of database slow", func() error {
		// The session lives in the PostgreSQL pod; killing kubectl would not
		// end it, release() does.
		go func() {
			_, _ = env.kubectlRun(context.WithoutCancel(ctx), "exec", "-n", testNamespace, "deployment/postgres", "--",
				"env", "PGAPPNAME="+lockApp, "psql", "-X", "-U", "postgres", "-d", "slow",
				"-c", "BEGIN; LOCK TABLE held IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(900); COMMIT;")
		}()
		return poll(ctx, 60*time.Second, func() (bool, string, error) {
			out, err := psql(ctx, "slow", "SELECT count(*) FROM pg_locks WHERE relation = 'held'::regclass AND mode = 'AccessExclusiveLock' AND granted")
			return strings.TrimSpace(out) == "1", "lock not held yet", err
		})
	})
	t.Cleanup(func() { _ = release() })

	pb := newBackup(name, "postgres-superuser")
	pb.Spec.Postgres.Databases = []string{"slow"}
	step(t, "create PostgresBackup", func() error { return createBackup(ctx, pb) })

	step(t, "at most one active Job across two schedule times", func() error {
		var first time.Time
		var firstJob string
		most := 0
		deadline := time.Now().Add(5 * time.Minute)
		for {
			active, err := activeJobs(ctx, name)
			if err != nil {
				return err
			}
			most = max(most, len(active))
			if len(active) > 1 {
				return fmt.Errorf("%d Jobs active at once: %v", len(active), active)
			}
			if len(active) == 1 && first.IsZero() {
				first, firstJob = time.Now(), active[0]
				logf("%s: Job %s started; it waits for the lock", t.Name(), firstJob)
			}
			if len(active) == 0 && !first.IsZero() {
				return fmt.Errorf("Job %s finished while the table was locked", firstJob)
			}
			// Two schedule times after the first Job started: the CronJob
			// had two chances to start another one.
			if !first.IsZero() && time.Since(first) > 2*time.Minute+10*time.Second {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("no Job ran within 5 minutes (at most %d active)", most)
			}
			time.Sleep(3 * time.Second)
		}
		return nil
	})

	step(t, "the CronJob skipped its schedule (JobAlreadyActive)", func() error {
		// Proof that the schedule fired while the Job ran and that Forbid,
		// not a slow CronJob controller, kept the second Job away.
		return poll(ctx, 30*time.Second, func() (bool, string, error) {
			out, err := env.kubectlRun(ctx, "get", "events", "-n", testNamespace,
				"--field-selector", "involvedObject.kind=CronJob,involvedObject.name="+name+",reason=JobAlreadyActive", "-o", "name")
			return strings.TrimSpace(out) != "", "no JobAlreadyActive event on CronJob " + name, err
		})
	})

	step(t, "release the lock: the waiting backup succeeds", func() error {
		if err := release(); err != nil {
			return err
		}
		_, err := waitCondition(ctx, name, v1alpha1.ConditionLastBackupSucceeded, metav1.ConditionTrue, "", 3*time.Minute)
		return err
	})
	step(t, "delete PostgresBackup", func() error {
		_, err := env.kubectlRun(ctx, "delete", "pgb", "-n", testNamespace, name, "--wait=true", "--timeout=60s")
		return err
	})
}

// newBackup is a PostgresBackup of the fixture's database, every minute,
// to s3://backups/NAME, with the password in passwordSecret.
// testPodDeleted deletes the agent's pod while it uploads, as a node drain
// or an eviction does: the agent gets SIGTERM within its grace period,
// aborts its multipart upload and deletes what it stored; the status must
// show the failure, and S3 must hold no manifest and no open upload.
func testPodDeleted(t *testing.T) {
	ctx := t.Context()
	const name = "pod-deleted"
	step(t, "a database big enough to act during its upload", func() error {
		if _, err := psql(ctx, "postgres", "CREATE DATABASE bulky"); err != nil && !strings.Contains(err.Error(), "already exists") {
			return err
		}
		_, err := psql(ctx, "bulky", "CREATE TABLE IF NOT EXISTS big AS SELECT g AS id, md5(g::text) AS a, repeat(md5((g * 7)::text), 3) AS b FROM generate_series(1, 1500000) g")
		return err
	})
	pb := newBackup(name, "postgres-superuser")
	pb.Spec.Schedule = "0 0 1 1 *" // never during the test: the run is triggered
	pb.Spec.Postgres.Databases = []string{"bulky"}
	// A slow agent, so that the upload is open for many seconds.
	pb.Spec.Resources.Limits = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("200m")}
	// No retry: the deleted pod's run is the Job's only one (with the
	// default of 1 a new pod would run the backup again).
	pb.Spec.BackoffLimit = ptr.To[int32](0)
	step(t, "create PostgresBackup", func() error { return createBackup(ctx, pb) })

	s3c, err := forwardS3(t)
	if err != nil {
		t.Fatal(err)
	}
	var job string
	step(t, "trigger a backup; its upload opens", func() error {
		if _, err := waitCondition(ctx, name, v1alpha1.ConditionReady, metav1.ConditionTrue, "", 2*time.Minute); err != nil {
			return err
		}
		cmd := exec.CommandContext(ctx, env.pgbackup, "trigger", name, "-n", testNamespace)
		cmd.Env = append(os.Environ(), "KUBECONFIG="+env.kubeconfig)
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("pgbackup trigger: %w\n%s", err, out)
		}
		m := regexp.MustCompile(`job\.batch/(\S+) created`).FindSubmatch(out)
		if m == nil {
			return fmt.Errorf("no Job name in the output of pgbackup trigger:\n%s", out)
		}
		job = string(m[1])
		return poll(ctx, 3*time.Minute, func() (bool, string, error) {
			ups, err := openUploads(ctx, s3c, name+"/")
			return len(ups) > 0, "no multipart upload open under " + name + "/ yet", err
		})
	})
	step(t, "delete the agent pod mid-upload", func() error {
		_, err := env.kubectlRun(ctx, "delete", "pod", "-n", testNamespace, "-l", "batch.kubernetes.io/job-name="+job, "--wait=false")
		return err
	})
	step(t, "LastBackupSucceeded=False", func() error {
		got, err := waitCondition(ctx, name, v1alpha1.ConditionLastBackupSucceeded, metav1.ConditionFalse, "", 3*time.Minute)
		if err == nil && got.Status.LastFailure == nil {
			return fmt.Errorf("no lastFailure in the status: %+v", got.Status)
		}
		if err == nil {
			logf("%s: lastFailure %s: %s", t.Name(), got.Status.LastFailure.Reason, got.Status.LastFailure.Message)
		}
		return err
	})
	step(t, "no manifest, no open upload, no object left", func() error {
		return poll(ctx, time.Minute, func() (bool, string, error) {
			ups, err := openUploads(ctx, s3c, name+"/")
			if err != nil {
				return false, "", err
			}
			keys, err := objectKeys(ctx, s3c, name+"/")
			if err != nil {
				return false, "", err
			}
			return len(ups) == 0 && len(keys) == 0, fmt.Sprintf("open uploads %v, objects %v", ups, keys), nil
		})
	})
	step(t, "delete PostgresBackup", func() error {
		_, err := env.kubectlRun(ctx, "delete", "pgb", "-n", testNamespace, name, "--wait=true", "--timeout=60s")
		return err
	})
}

// forwardS3 port-forwards the S3 Service to a loopback port for the rest
// of the test and returns a client for it.
func forwardS3(t *testing.T) (*s3.Client, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, env.kubectl, "port-forward", "-n", testNamespace, "svc/s3", "--address", "127.0.0.1", ":7070")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+env.kubeconfig)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, fmt.Errorf("kubectl port-forward: %w", err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	lines := bufio.NewScanner(stdout)
	var port string
	for lines.Scan() {
		if m := regexp.MustCompile(`Forwarding from 127\.0\.0\.1:(\d+)`).FindStringSubmatch(lines.Text()); m != nil {
			port = m[1]
			break
		}
	}
	if port == "" {
		return nil, errors.New("kubectl port-forward printed no local port")
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	return s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String("http://127.0.0.1:" + port),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider("e2e-access-key", "e2e-secret-key-0123456789", ""),
	}), nil
}

// openUploads lists the multipart uploads open under prefix.
func openUploads(ctx context.Context, c *s3.Client, prefix string) ([]string, error) {
	out, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	if err != nil {
		return nil, fmt.Errorf("list multipart uploads: %w", err)
	}
	var keys []string
	for _, u := range out.Uploads {
		keys = append(keys, aws.ToString(u.Key))
	}
	return keys, nil
}

// objectKeys lists the objects under prefix.
func objectKeys(ctx context.Context, c *s3.Client, prefix string) ([]string, error) {
	out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	if err != nil {
		return nil, fmt.Errorf("list objects: %w", err)
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	return keys, nil
}

func newBackup(name, passwordSecret string) *v1alpha1.PostgresBackup {
	return &v1alpha1.PostgresBackup{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "PostgresBackup"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: testNamespace},
		Spec: v1alpha1.PostgresBackupSpec{
			Schedule: "*/1 * * * *",
			Postgres: v1alpha1.PostgresSpec{
				Host:              "postgres." + testNamespace + ".svc.cluster.local",
				Port:              5432,
				User:              "postgres",
				Databases:         []string{sourceDatabase},
				PasswordSecretRef: &v1alpha1.SecretKeyRef{Name: passwordSecret, Key: "password"},
				SSLMode:           "disable",
			},
			Destination: v1alpha1.DestinationSpec{S3: v1alpha1.S3Destination{
				Bucket:               bucket,
				Prefix:               name,
				Region:               "us-east-1",
				Endpoint:             s3Endpoint(),
				ForcePathStyle:       ptr.To(true),
				CredentialsSecretRef: &v1alpha1.SecretRef{Name: "s3-credentials"},
			}},
			Resources: &corev1.ResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceCPU:    resource.MustParse("50m"),
				corev1.ResourceMemory: resource.MustParse("64Mi"),
			}},
		},
	}
}

func s3Endpoint() string { return "http://s3." + testNamespace + ".svc.cluster.local:7070" }

func createBackup(ctx context.Context, pb *v1alpha1.PostgresBackup) error {
	b, err := json.Marshal(pb)
	if err != nil {
		return err
	}
	return env.apply(ctx, pb.Namespace, b)
}

func getBackup(ctx context.Context, name string) (*v1alpha1.PostgresBackup, error) {
	out, err := env.kubectlRun(ctx, "get", "pgb", "-n", testNamespace, name, "-o", "json")
	if err != nil {
		return nil, err
	}
	pb := &v1alpha1.PostgresBackup{}
	if err := json.Unmarshal([]byte(out), pb); err != nil {
		return nil, fmt.Errorf("decode PostgresBackup %s: %w", name, err)
	}
	return pb, nil
}

// waitCondition waits until the PostgresBackup's condition has the status
// (and the reason, when not empty).
func waitCondition(ctx context.Context, name, condition string, status metav1.ConditionStatus, reason string, timeout time.Duration) (*v1alpha1.PostgresBackup, error) {
	var pb *v1alpha1.PostgresBackup
	err := poll(ctx, timeout, func() (bool, string, error) {
		var err error
		if pb, err = getBackup(ctx, name); err != nil {
			return false, "", err
		}
		c := meta.FindStatusCondition(pb.Status.Conditions, condition)
		if c == nil {
			return false, condition + " not set", nil
		}
		now := fmt.Sprintf("%s=%s (%s: %s)", condition, c.Status, c.Reason, c.Message)
		return c.Status == status && (reason == "" || c.Reason == reason), now, nil
	})
	return pb, err
}

// poll calls check every 2 seconds until it reports done, fails, or the
// timeout passes; the error then says what check saw last.
func poll(ctx context.Context, timeout time.Duration, check func() (done bool, last string, err error)) error {
	deadline := time.Now().Add(timeout)
	for {
		done, last, err := check()
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not done after %v: %s", timeout, last)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}

// activeJobs names the Jobs of a PostgresBackup that have not finished.
func activeJobs(ctx context.Context, name string) ([]string, error) {
	out, err := env.kubectlRun(ctx, "get", "jobs", "-n", testNamespace, "-l", "pgbackup.dev/backup="+name, "-o", "json")
	if err != nil {
		return nil, err
	}
	var list struct {
		Items []struct {
			Metadata metav1.ObjectMeta `json:"metadata"`
			Status   struct {
				Active         int32        `json:"active"`
				CompletionTime *metav1.Time `json:"completionTime"`
				Conditions     []struct {
					Type   string `json:"type"`
					Status string `json:"status"`
				} `json:"conditions"`
			} `json:"status"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		return nil, err
	}
	var active []string
	for _, j := range list.Items {
		finished := false
		for _, c := range j.Status.Conditions {
			if (c.Type == "Complete" || c.Type == "Failed") && c.Status == "True" {
				finished = true
			}
		}
		if !finished {
			active = append(active, j.Metadata.Name)
		}
	}
	return active, nil
}

// psql runs a query in the PostgreSQL pod (local socket, no password) and
// returns its unaligned output.
func psql(ctx context.Context, database, query string) (string, error) {
	return env.kubectlRun(ctx, "exec", "-n", testNamespace, "deployment/postgres", "--",
		"psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-U", "postgres", "-d", database, "-c", query)
}

// digestSQL sums up a database of the seed: every table's rows, the
// sequences, a function over a view, and the schema's object counts.
const digestSQL = `
SELECT concat_ws(' ',
  (SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM customers t),
  (SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM products t),
  (SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM orders t),
  (SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM order_items t),
  (SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM events t),
  (SELECT count(*) FROM events_2026_h2),
  (SELECT last_value FROM orders_id_seq),
  customer_spend(42),
  (SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace),
  (SELECT count(*) FROM pg_constraint WHERE connamespace = 'public'::regnamespace),
  (SELECT count(*) FROM pg_proc WHERE pronamespace = 'public'::regnamespace))`

// restoreAndCompare restores the source database of a backup into a new
// database with `pgbackup restore` in a Job, and compares the digests.
func restoreAndCompare(ctx context.Context, name, id, target string) error {
	url := fmt.Sprintf("postgres://postgres@postgres.%s.svc.cluster.local:5432/%s?sslmode=disable", testNamespace, target)
	out, err := runAgent(ctx, "restore-"+strings.ToLower(id), "restore",
		"--destination", "s3://"+bucket+"/"+name, "--backup", id, "--database", sourceDatabase,
		"--target", url, "--create")
	if err != nil {
		return err
	}
	logf("restore of %s:\n%s", id, tail(out, 1500))
	want, err := psql(ctx, sourceDatabase, digestSQL)
	if err != nil {
		return err
	}
	got, err := psql(ctx, target, digestSQL)
	if err != nil {
		return err
	}
	if strings.TrimSpace(got) != strings.TrimSpace(want) || strings.TrimSpace(want) == "" {
		return fmt.Errorf("restored database %s differs from %s:\n  source:   %s\n  restored: %s", target, sourceDatabase, want, got)
	}
	logf("digests match: %s", strings.TrimSpace(got))
	return nil
}

// listBackups runs `pgbackup list -o json` for s3://backups/PREFIX in a Job.
func listBackups(ctx context.Context, prefix string) ([]*manifest.Manifest, error) {
	out, err := runAgent(ctx, fmt.Sprintf("list-%s-%d", prefix, time.Now().UnixMilli()), "list",
		"--destination", "s3://"+bucket+"/"+prefix, "-o", "json")
	if err != nil {
		return nil, err
	}
	// The pod's log holds stdout (the array) and stderr (JSON log lines).
	i := strings.Index(out, "\n[")
	if strings.HasPrefix(out, "[") {
		i = -1
	} else if i < 0 {
		return nil, fmt.Errorf("no JSON array in the output of pgbackup list:\n%s", out)
	}
	var ms []*manifest.Manifest
	if err := json.NewDecoder(strings.NewReader(out[i+1:])).Decode(&ms); err != nil {
		return nil, fmt.Errorf("decode pgbackup list: %w\n%s", err, out)
	}
	return ms, nil
}

func findManifest(ms []*manifest.Manifest, id string) *manifest.Manifest {
	for _, m := range ms {
		if m.ID == id {
			return m
		}
	}
	return nil
}

// runAgent runs `pgbackup ARGS...` in a Job with the agent image, the S3
// credentials and the PostgreSQL superuser's password, waits for it and
// returns its log; the error says how it failed.
func runAgent(ctx context.Context, name string, args ...string) (string, error) {
	name = strings.ToLower(name)
	secret := func(env, secret, key string) string {
		return fmt.Sprintf(`{"name": %q, "valueFrom": {"secretKeyRef": {"name": %q, "key": %q}}}`, env, secret, key)
	}
	argsJSON, _ := json.Marshal(args)
	job := fmt.Sprintf(`{
  "apiVersion": "batch/v1", "kind": "Job",
  "metadata": {"name": %q, "labels": {"app.kubernetes.io/name": "pgbackup-e2e"}},
  "spec": {
    "backoffLimit": 0, "ttlSecondsAfterFinished": 600,
    "template": {"spec": {
      "restartPolicy": "Never", "automountServiceAccountToken": false,
      "securityContext": {"runAsNonRoot": true, "runAsUser": 65532, "runAsGroup": 65532},
      "containers": [{
        "name": "pgbackup", "image": %q, "imagePullPolicy": "IfNotPresent", "args": %s,
        "env": [%s, %s, %s,
          {"name": "AWS_REGION", "value": "us-east-1"},
          {"name": "AWS_ENDPOINT_URL_S3", "value": %q}]
      }]
    }}
  }
}`, name, env.agent, argsJSON,
		secret("AWS_ACCESS_KEY_ID", "s3-credentials", "AWS_ACCESS_KEY_ID"),
		secret("AWS_SECRET_ACCESS_KEY", "s3-credentials", "AWS_SECRET_ACCESS_KEY"),
		secret("PGPASSWORD", "postgres-superuser", "password"),
		s3Endpoint())
	if err := env.apply(ctx, testNamespace, []byte(job)); err != nil {
		return "", err
	}
	var state string
	err := poll(ctx, 3*time.Minute, func() (bool, string, error) {
		out, err := env.kubectlRun(ctx, "get", "job", "-n", testNamespace, name,
			"-o", `jsonpath={range .status.conditions[?(@.status=="True")]}{.type}{" "}{end}`)
		if err != nil {
			return false, "", err
		}
		state = out
		return strings.Contains(out, "Complete") || strings.Contains(out, "Failed"), "Job " + name + " not finished", nil
	})
	logs, logErr := env.kubectlRun(ctx, "logs", "-n", testNamespace, "job/"+name)
	if err != nil {
		return logs, err
	}
	if logErr != nil {
		return "", logErr
	}
	if !strings.Contains(state, "Complete") {
		code, _ := env.kubectlRun(ctx, "get", "pods", "-n", testNamespace, "-l", "batch.kubernetes.io/job-name="+name,
			"-o", "jsonpath={.items[0].status.containerStatuses[0].state.terminated.exitCode}")
		return logs, fmt.Errorf("pgbackup %s failed (Job %s: %s, exit %s):\n%s", args[0], name, state, code, tail(logs, 2000))
	}
	return logs, nil
}

// checkMetrics reads the controller's /metrics through the API server's
// service proxy and checks the last-success timestamp of a PostgresBackup.
func checkMetrics(ctx context.Context, name string, want time.Time) error {
	path := fmt.Sprintf("/api/v1/namespaces/%s/services/%s-metrics:metrics/proxy/metrics", releaseNamespace, releaseName)
	series := fmt.Sprintf(`pgbackup_last_success_timestamp_seconds{name=%q,namespace=%q} `, name, testNamespace)
	var last string
	return poll(ctx, 60*time.Second, func() (bool, string, error) {
		out, err := env.kubectlRun(ctx, "get", "--raw", path)
		if err != nil {
			return false, "", err
		}
		for _, line := range strings.Split(out, "\n") {
			if v, ok := strings.CutPrefix(line, series); ok {
				last = line
				f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				if err != nil {
					return false, "", fmt.Errorf("metric value %q: %w", v, err)
				}
				// The gauge tracks the newest success, which may be newer
				// than the one the test saw.
				return int64(f) >= want.Unix(), "saw " + last, nil
			}
		}
		return false, "no series " + series + "in /metrics", nil
	})
}
