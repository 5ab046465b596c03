//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/pgbackup/pgbackup/backup-agent/manifest"
	"github.com/pgbackup/pgbackup/controller/api/v1alpha1"
)

// The verify scenarios run a restore verification on the cluster: the
// verify CronJob's pod starts the scratch PostgreSQL (the fixture image,
// through the chart's verify.postgresImageTemplate, see install) as a
// native sidecar and `pgbackup verify` beside it. Both PostgresBackups
// never run on their own (a schedule far away, a suspended verification):
// the backup is triggered, the verification is a Job made from the verify
// CronJob with kubectl create job --from, which makes the CronJob its
// controller, so the controller trusts its result.

// testVerifySucceeds backs up, verifies with a passing check and checks
// what a user sees: Verified=True, lastVerifiedBackup, the event, the
// metric and the verification record in S3.
func testVerifySucceeds(t *testing.T) {
	ctx := t.Context()
	const name = "verify-ok"
	pb := newVerifyBackup(name, v1alpha1.VerifyCheck{
		Name: "orders-present", Database: sourceDatabase, SQL: "SELECT count(*) > 0 FROM orders",
	})
	step(t, "create PostgresBackup with spec.verify", func() error { return createVerifyBackup(ctx, pb) })

	var id string
	step(t, "trigger a backup", func() error {
		var err error
		id, err = triggerWait(ctx, t, name)
		return err
	})

	var got *v1alpha1.PostgresBackup
	var vr verifyRun
	step(t, "a verification Job from the verify CronJob: Verified=True", func() error {
		var err error
		if vr, err = startVerify(ctx, name); err != nil {
			return err
		}
		got, err = waitCondition(ctx, name, v1alpha1.ConditionVerified, metav1.ConditionTrue, v1alpha1.ReasonVerified, 5*time.Minute)
		vr.verified = time.Now()
		return err
	})
	vr.report(ctx, t)

	step(t, "lastVerifiedBackup, lastVerification, kubectl get pgb -o wide", func() error {
		lv, lr := got.Status.LastVerifiedBackup, got.Status.LastVerification
		if lv == nil || lr == nil {
			return fmt.Errorf("status has no lastVerifiedBackup or lastVerification: %+v", got.Status)
		}
		t.Logf("lastVerifiedBackup %+v; lastVerification %+v", *lv, *lr)
		if lv.ID != id {
			return fmt.Errorf("lastVerifiedBackup.id = %s, want the backup %s", lv.ID, id)
		}
		// Rounded up: any restore that took time at all counts 1.
		if lv.RestoreSeconds < 1 {
			return fmt.Errorf("lastVerifiedBackup.restoreSeconds = %d, want >= 1", lv.RestoreSeconds)
		}
		if lr.Result != v1alpha1.ResultSucceeded || lr.JobName != vr.job || lr.ID != id {
			return fmt.Errorf("lastVerification = %+v, want Succeeded of %s by Job %s", *lr, id, vr.job)
		}
		if lr.TablesChecked < 1 || lr.TablesMismatched != 0 || lr.ChecksFailed != 0 {
			return fmt.Errorf("lastVerification counts: %d tables checked, %d mismatched, %d checks failed", lr.TablesChecked, lr.TablesMismatched, lr.ChecksFailed)
		}
		table, err := env.kubectlRun(ctx, "get", "pgb", "-n", testNamespace, name, "-o", "wide")
		if err != nil {
			return err
		}
		t.Logf("kubectl get pgb -o wide:\n%s", table)
		lines := strings.Split(strings.TrimSpace(table), "\n")
		if len(lines) != 2 {
			return fmt.Errorf("kubectl get pgb -o wide: want a header and one row:\n%s", table)
		}
		col := strings.Index(lines[0], "VERIFIED")
		if col < 0 || len(lines[1]) <= col || !strings.HasPrefix(lines[1][col:], "True") {
			return fmt.Errorf("kubectl get pgb -o wide: no VERIFIED True:\n%s", table)
		}
		return nil
	})

	step(t, "VerificationSucceeded event", func() error {
		return waitEvent(ctx, name, v1alpha1.EventVerificationSucceeded, "Normal", id)
	})

	step(t, "metrics: last verification succeeded, verified timestamp, restore seconds", func() error {
		if err := waitMetric(ctx, "pgbackup_last_verification_succeeded", name, func(v float64) bool { return v == 1 }); err != nil {
			return err
		}
		verified := got.Status.LastVerifiedBackup.Time.Unix()
		if err := waitMetric(ctx, "pgbackup_last_verified_timestamp_seconds", name, func(v float64) bool { return int64(v) >= verified }); err != nil {
			return err
		}
		return waitMetric(ctx, "pgbackup_restore_seconds", name, func(v float64) bool { return v > 0 })
	})

	step(t, "verification.json in S3: succeeded", func() error {
		rec, err := readVerification(ctx, t, name, id)
		if err != nil {
			return err
		}
		if rec.Result != manifest.VerificationSucceeded || rec.BackupID != id {
			return fmt.Errorf("verification record: result %q, backup %q; want succeeded, %s", rec.Result, rec.BackupID, id)
		}
		if len(rec.Checks) != 1 || rec.Checks[0].Name != "orders-present" || !rec.Checks[0].OK {
			return fmt.Errorf("verification record checks %+v, want orders-present ok", rec.Checks)
		}
		t.Logf("verification.json: %d tables checked, %d indexes checked (amcheck available %v), server %s",
			rec.Tables.Checked, rec.Indexes.Checked, rec.Indexes.Available, rec.ServerVersion)
		return nil
	})

	step(t, "delete PostgresBackup", func() error {
		_, err := env.kubectlRun(ctx, "delete", "pgb", "-n", testNamespace, name, "--wait=true", "--timeout=60s")
		return err
	})
}

// testVerifyFails verifies with a check that cannot hold: the run fails
// with VerificationFailed, naming the check, in the condition, the event,
// the metric, the status and the record.
func testVerifyFails(t *testing.T) {
	ctx := t.Context()
	const name = "verify-failed"
	const check = "exact-order-count"
	pb := newVerifyBackup(name, v1alpha1.VerifyCheck{
		Name: check, Database: sourceDatabase, SQL: "SELECT count(*) = 123456 FROM orders",
	})
	// Suspended: the manual Job is the only run (the other scenario relies
	// on a schedule far away instead).
	pb.Spec.Verify.Suspend = ptr.To(true)
	step(t, "create PostgresBackup with spec.verify (suspended)", func() error { return createVerifyBackup(ctx, pb) })

	var id string
	step(t, "trigger a backup", func() error {
		var err error
		id, err = triggerWait(ctx, t, name)
		return err
	})

	var got *v1alpha1.PostgresBackup
	var vr verifyRun
	step(t, "a verification Job with a failing check: Verified=False, VerificationFailed", func() error {
		var err error
		if vr, err = startVerify(ctx, name); err != nil {
			return err
		}
		got, err = waitCondition(ctx, name, v1alpha1.ConditionVerified, metav1.ConditionFalse, v1alpha1.ReasonVerificationFailed, 5*time.Minute)
		vr.verified = time.Now()
		return err
	})
	vr.report(ctx, t)

	step(t, "lastVerification failed, no lastVerifiedBackup", func() error {
		lr := got.Status.LastVerification
		if lr == nil {
			return fmt.Errorf("status has no lastVerification: %+v", got.Status)
		}
		t.Logf("lastVerification %+v", *lr)
		if lr.Result != v1alpha1.ResultFailed || lr.Reason != v1alpha1.ReasonVerificationFailed || lr.JobName != vr.job {
			return fmt.Errorf("lastVerification = %+v, want Failed, VerificationFailed, Job %s", *lr, vr.job)
		}
		if lr.ID != id || lr.ChecksFailed != 1 || lr.TablesMismatched != 0 {
			return fmt.Errorf("lastVerification: backup %q, %d checks failed, %d tables mismatched; want %s, 1, 0", lr.ID, lr.ChecksFailed, lr.TablesMismatched, id)
		}
		if !strings.Contains(lr.Message, check) {
			return fmt.Errorf("lastVerification.message does not name the check %s: %s", check, lr.Message)
		}
		if got.Status.LastVerifiedBackup != nil {
			return fmt.Errorf("lastVerifiedBackup = %+v after a failed verification only", *got.Status.LastVerifiedBackup)
		}
		return nil
	})

	step(t, "VerificationFailed event names the check", func() error {
		return waitEvent(ctx, name, v1alpha1.EventVerificationFailed, "Warning", check)
	})

	step(t, "metric: last verification succeeded 0", func() error {
		return waitMetric(ctx, "pgbackup_last_verification_succeeded", name, func(v float64) bool { return v == 0 })
	})

	step(t, "verification.json in S3: failed", func() error {
		rec, err := readVerification(ctx, t, name, id)
		if err != nil {
			return err
		}
		if rec.Result != manifest.VerificationFailed || rec.Reason != v1alpha1.ReasonVerificationFailed {
			return fmt.Errorf("verification record: result %q, reason %q; want failed, VerificationFailed", rec.Result, rec.Reason)
		}
		if len(rec.Checks) != 1 || rec.Checks[0].Name != check || rec.Checks[0].OK {
			return fmt.Errorf("verification record checks %+v, want %s not ok", rec.Checks, check)
		}
		return nil
	})

	step(t, "delete PostgresBackup", func() error {
		_, err := env.kubectlRun(ctx, "delete", "pgb", "-n", testNamespace, name, "--wait=true", "--timeout=60s")
		return err
	})
}

// newVerifyBackup is newBackup that never runs by itself, with spec.verify
// and one check.
func newVerifyBackup(name string, check v1alpha1.VerifyCheck) *v1alpha1.PostgresBackup {
	pb := newBackup(name, "postgres-superuser")
	pb.Spec.Schedule = "0 0 1 1 *" // runs are triggered
	pb.Spec.Verify = &v1alpha1.VerifySpec{
		Schedule: "0 0 1 1 *",
		Checks:   []v1alpha1.VerifyCheck{check},
	}
	return pb
}

// createVerifyBackup creates pb and waits until it is Ready and reports
// its verify CronJob (Verified Unknown, NotYetVerified, until a run ends).
func createVerifyBackup(ctx context.Context, pb *v1alpha1.PostgresBackup) error {
	if err := createBackup(ctx, pb); err != nil {
		return err
	}
	if _, err := waitCondition(ctx, pb.Name, v1alpha1.ConditionReady, metav1.ConditionTrue, "", 2*time.Minute); err != nil {
		return err
	}
	got, err := waitCondition(ctx, pb.Name, v1alpha1.ConditionVerified, metav1.ConditionUnknown, v1alpha1.ReasonNotYetVerified, time.Minute)
	if err != nil {
		return err
	}
	if got.Status.VerifyCronJobName == "" {
		return fmt.Errorf("status.verifyCronJobName is empty: %+v", got.Status)
	}
	return nil
}

// verifyRun is a verification Job the test started, and when.
type verifyRun struct {
	job      string
	created  time.Time
	verified time.Time // when the test saw the condition change
}

// startVerify creates a Job from the PostgresBackup's verify CronJob, as
// kubectl create job --from does (the CronJob becomes its controller).
func startVerify(ctx context.Context, name string) (verifyRun, error) {
	pb, err := getBackup(ctx, name)
	if err != nil {
		return verifyRun{}, err
	}
	vcj := pb.Status.VerifyCronJobName
	if vcj == "" {
		return verifyRun{}, fmt.Errorf("PostgresBackup %s has no verify CronJob in its status", name)
	}
	role, err := env.kubectlRun(ctx, "get", "cronjob", "-n", testNamespace, vcj, "-o", `jsonpath={.metadata.labels.pgbackup\.dev/role}`)
	if err != nil {
		return verifyRun{}, err
	}
	if role != "verify" {
		return verifyRun{}, fmt.Errorf("CronJob %s has the label pgbackup.dev/role=%q, want verify", vcj, role)
	}
	r := verifyRun{job: fmt.Sprintf("%s-e2e-%d", vcj, time.Now().Unix()%100000), created: time.Now()}
	if _, err := env.kubectlRun(ctx, "create", "job", "-n", testNamespace, r.job, "--from=cronjob/"+vcj); err != nil {
		return r, err
	}
	logf("verification Job %s created from CronJob %s", r.job, vcj)
	return r, nil
}

// report prints the verify pod's timeline: created, scratch server
// started, agent started and finished, the controller's status updated;
// and the agent's log when it did not succeed.
func (r verifyRun) report(ctx context.Context, t *testing.T) {
	t.Helper()
	if r.job == "" {
		return
	}
	ctx = context.WithoutCancel(ctx)
	out, err := env.kubectlRun(ctx, "get", "pods", "-n", testNamespace, "-l", "batch.kubernetes.io/job-name="+r.job, "-o", "json")
	if err != nil {
		t.Logf("verify pod of %s: %v", r.job, err)
		return
	}
	var pods struct {
		Items []struct {
			Metadata metav1.ObjectMeta `json:"metadata"`
			Status   struct {
				StartTime             *metav1.Time      `json:"startTime"`
				InitContainerStatuses []containerStatus `json:"initContainerStatuses"`
				ContainerStatuses     []containerStatus `json:"containerStatuses"`
			} `json:"status"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(out), &pods); err != nil || len(pods.Items) == 0 {
		t.Logf("verify pod of %s: none found (%v)", r.job, err)
		return
	}
	p := pods.Items[0]
	created := p.Metadata.CreationTimestamp.Time
	since := func(at time.Time) string {
		if at.IsZero() {
			return "?"
		}
		return "+" + at.Sub(created).Round(time.Second).String()
	}
	var scratch, agent containerTimes
	for _, cs := range p.Status.InitContainerStatuses {
		if cs.Name == "scratch-postgres" {
			scratch = cs.times()
		}
	}
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name == "verify" {
			agent = cs.times()
		}
	}
	var finished time.Time
	if out, err := env.kubectlRun(ctx, "get", "job", "-n", testNamespace, r.job,
		"-o", `jsonpath={.status.conditions[?(@.type=="Complete")].lastTransitionTime}{.status.conditions[?(@.type=="Failed")].lastTransitionTime}`); err == nil {
		finished, _ = time.Parse(time.RFC3339, strings.TrimSpace(out))
	}
	line := fmt.Sprintf("verify pod %s created %s: scratch-postgres started %s (restarts %d), stopped %s; verify started %s, finished %s (exit %d, %s); Job finished %s; status updated %s (seen by the test; %v after it created the Job)",
		p.Metadata.Name, created.UTC().Format("15:04:05"),
		since(scratch.started), scratch.restarts, since(scratch.finished), since(agent.started), since(agent.finished), agent.exit, agent.reason,
		since(finished), since(r.verified), r.verified.Sub(r.created).Round(time.Second))
	logf("%s: %s", t.Name(), line)
	t.Log(line)
	if !agent.started.IsZero() && !agent.finished.IsZero() {
		phases.add(t.Name()+": verify container (restore + checks)", agent.finished.Sub(agent.started), "")
	}
	if logs, err := env.kubectlRun(ctx, "logs", "-n", testNamespace, p.Metadata.Name, "-c", "verify", "--tail=40"); err == nil {
		t.Logf("verify container log (tail):\n%s", logs)
	}
}

type containerStatus struct {
	Name         string `json:"name"`
	RestartCount int32  `json:"restartCount"`
	State        struct {
		Running *struct {
			StartedAt metav1.Time `json:"startedAt"`
		} `json:"running"`
		Terminated *struct {
			StartedAt  metav1.Time `json:"startedAt"`
			FinishedAt metav1.Time `json:"finishedAt"`
			ExitCode   int32       `json:"exitCode"`
			Reason     string      `json:"reason"`
		} `json:"terminated"`
	} `json:"state"`
}

type containerTimes struct {
	started, finished time.Time
	exit              int32
	reason            string
	restarts          int32
}

func (cs containerStatus) times() containerTimes {
	ct := containerTimes{restarts: cs.RestartCount, reason: "running"}
	if s := cs.State.Running; s != nil {
		ct.started = s.StartedAt.Time
	}
	if s := cs.State.Terminated; s != nil {
		ct.started, ct.finished, ct.exit, ct.reason = s.StartedAt.Time, s.FinishedAt.Time, s.ExitCode, s.Reason
	}
	return ct
}

// waitEvent waits for an event of the PostgresBackup with the reason and
// type whose message contains part.
func waitEvent(ctx context.Context, name, reason, typ, part string) error {
	var last string
	return poll(ctx, 60*time.Second, func() (bool, string, error) {
		out, err := env.kubectlRun(ctx, "get", "events", "-n", testNamespace,
			"--field-selector", "involvedObject.kind=PostgresBackup,involvedObject.name="+name+",reason="+reason,
			"-o", "jsonpath={range .items[*]}{.type} {.reason}: {.message}{\"\\n\"}{end}")
		if err != nil {
			return false, "", err
		}
		last = strings.TrimSpace(out)
		for _, line := range strings.Split(last, "\n") {
			if strings.HasPrefix(line, typ+" "+reason+": ") && strings.Contains(line, part) {
				logf("event of %s: %s", name, line)
				return true, "", nil
			}
		}
		return false, fmt.Sprintf("no %s %s event naming %q; events: %q", typ, reason, part, last), nil
	})
}

// waitMetric waits until the controller's /metrics has the PostgresBackup's
// series of metric and ok accepts its value.
func waitMetric(ctx context.Context, metric, name string, ok func(float64) bool) error {
	path := fmt.Sprintf("/api/v1/namespaces/%s/services/%s-metrics:metrics/proxy/metrics", releaseNamespace, releaseName)
	series := fmt.Sprintf(`%s{name=%q,namespace=%q} `, metric, name, testNamespace)
	return poll(ctx, 60*time.Second, func() (bool, string, error) {
		out, err := env.kubectlRun(ctx, "get", "--raw", path)
		if err != nil {
			return false, "", err
		}
		for _, line := range strings.Split(out, "\n") {
			if v, found := strings.CutPrefix(line, series); found {
				f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				if err != nil {
					return false, "", fmt.Errorf("metric value %q: %w", v, err)
				}
				if ok(f) {
					logf("metric %s", line)
				}
				return ok(f), "saw " + line, nil
			}
		}
		return false, "no series " + series + "in /metrics", nil
	})
}

// readVerification reads PREFIX/<id>/verification.json from S3.
func readVerification(ctx context.Context, t *testing.T, prefix, id string) (*manifest.Verification, error) {
	s3c, err := forwardS3(t)
	if err != nil {
		return nil, err
	}
	key := manifest.VerificationKey(prefix, id)
	obj, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, fmt.Errorf("get s3://%s/%s: %w", bucket, key, err)
	}
	defer obj.Body.Close()
	b, err := io.ReadAll(obj.Body)
	if err != nil {
		return nil, err
	}
	rec, err := manifest.UnmarshalVerification(b)
	if err != nil {
		return nil, fmt.Errorf("s3://%s/%s: %w\n%s", bucket, key, err, b)
	}
	t.Logf("s3://%s/%s: result %s %s", bucket, key, rec.Result, rec.Message)
	return rec, nil
}
