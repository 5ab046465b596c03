package trigger

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pgbackup/pgbackup/backup-agent/result"
	"github.com/pgbackup/pgbackup/controller/api/v1alpha1"
	"github.com/pgbackup/pgbackup/controller/builder"
)

// assertRefused checks that err is the Forbid refusal naming job: reason
// Refused, exit code 7, and the Job's name in the message.
func assertRefused(t *testing.T, err error, job string) {
	t.Helper()
	var active *ActiveJobError
	switch {
	case err == nil:
		t.Fatalf("started a Job beside the active %s", job)
	case !errors.Is(err, ErrJobActive) || !errors.As(err, &active):
		t.Fatalf("error %v is not the Forbid refusal", err)
	case result.ReasonOf(err) != result.ReasonRefused || result.ExitCode(err) != result.ExitRefused:
		t.Errorf("reason %s, exit code %d; want Refused, %d", result.ReasonOf(err), result.ExitCode(err), result.ExitRefused)
	}
	if active.Job != job || !strings.Contains(err.Error(), job) {
		t.Errorf("refusal %q names %q, want the Job %s", err, active.Job, job)
	}
}

func TestStartRefusesWhileAJobIsActive(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	pb, cj := newBackup(t, ns, "orders")
	key := client.ObjectKeyFromObject(pb)

	first, err := Start(ctx, k8s, key, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// The API server named it: the prefix, then 5 random characters.
	if first.GenerateName != cj.Name+"-manual-" || !regexp.MustCompile(`^orders-manual-[a-z0-9]{5}$`).MatchString(first.Name) {
		t.Errorf("Job generateName %q, name %q; want orders-manual- and a generated name", first.GenerateName, first.Name)
	}
	if got := first.Annotations[builder.AnnotationBackupUID]; got != string(pb.UID) {
		t.Errorf("annotation %s = %q, want the PostgresBackup's UID %s", builder.AnnotationBackupUID, got, pb.UID)
	}
	if got := first.Labels[builder.LabelBackup]; got != "orders" {
		t.Errorf("label %s = %q, want orders", builder.LabelBackup, got)
	}
	if !metav1.IsControlledBy(first, cj) || first.Annotations[builder.AnnotationInstantiate] != "manual" {
		t.Errorf("Job %+v is not a manual Job of the CronJob", first.ObjectMeta)
	}

	// Forbid: a second trigger while the first Job runs creates nothing.
	_, err = Start(ctx, k8s, key, time.Now())
	assertRefused(t, err, first.Name)
	if names := jobNames(t, ns); len(names) != 1 {
		t.Errorf("Jobs after the refusal: %v, want only %s", names, first.Name)
	}

	// So does a scheduled Job of the CronJob (no UID annotation).
	finishJob(t, first)
	scheduled := newJob(t, cj, "orders-29000000", nil)
	_, err = Start(ctx, k8s, key, time.Now())
	assertRefused(t, err, scheduled.Name)

	// Once it finished, a trigger starts a Job with a fresh name.
	finishJob(t, scheduled)
	second, err := Start(ctx, k8s, key, time.Now())
	if err != nil {
		t.Fatalf("trigger after the runs finished: %v", err)
	}
	if second.Name == first.Name || !strings.HasPrefix(second.Name, "orders-manual-") {
		t.Errorf("second Job %q (first %q)", second.Name, first.Name)
	}
}

// TestOnlyOwnJobsCount: the Jobs that block a trigger are the ones the
// controller folds into the status, by owner UID or UID annotation, never
// by label or name.
func TestOnlyOwnJobsCount(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	pb, cj := newBackup(t, ns, "orders")
	_, other := newBackup(t, ns, "billing")
	key := client.ObjectKeyFromObject(pb)

	newJob(t, other, "billing-1", nil) // another resource's run
	// A verification of ours, running: started by hand from the verify
	// CronJob, it carries our UID, but it is not a backup run.
	pb.Spec.Verify = &v1alpha1.VerifySpec{Schedule: "@weekly"}
	vcj := builder.VerifyCronJob(pb, builder.Options{AgentImage: "pgbackup-agent:test"})
	if err := k8s.Create(ctx, vcj); err != nil {
		t.Fatalf("create verify CronJob: %v", err)
	}
	if err := k8s.Create(ctx, builder.ManualJob(vcj, time.Now())); err != nil {
		t.Fatalf("create verify Job: %v", err)
	}
	newJob(t, cj, "lookalike", func(j *batchv1.Job) {
		// Our label and a namesake's UID, but no owner: a deleted
		// "orders" of the same name, say.
		j.OwnerReferences = nil
		j.Annotations = map[string]string{builder.AnnotationBackupUID: "0a1b2c3d-0000-0000-0000-000000000000"}
	})
	job, err := Start(ctx, k8s, key, time.Now())
	if err != nil {
		t.Fatalf("foreign active Jobs blocked the trigger: %v", err)
	}
	finishJob(t, job)

	// A Job with our UID counts even when no longer owned by the CronJob.
	orphan := newJob(t, cj, "orders-orphan", func(j *batchv1.Job) {
		j.OwnerReferences = nil
		j.Annotations = map[string]string{builder.AnnotationBackupUID: string(pb.UID)}
	})
	_, err = Start(ctx, k8s, key, time.Now())
	assertRefused(t, err, orphan.Name)
}

func TestStartWhenIdle(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	pb, cj := newBackup(t, ns, "orders")
	key := client.ObjectKeyFromObject(pb)
	active := newJob(t, cj, "orders-29000000", nil)

	// Bounded: the deadline passes while the Job runs, and the error is
	// still the refusal naming it (exit 7), not a bare timeout.
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	_, err := StartWhenIdle(short, k8s, key, 50*time.Millisecond, nil)
	assertRefused(t, err, active.Name)
	if !strings.Contains(err.Error(), "gave up waiting") {
		t.Errorf("timeout error %q does not say it waited", err)
	}

	type started struct {
		job *batchv1.Job
		err error
	}
	waited := make(chan string, 10)
	done := make(chan started, 1)
	go func() {
		job, err := StartWhenIdle(ctx, k8s, key, 50*time.Millisecond, func(job string) { waited <- job })
		done <- started{job, err}
	}()
	select {
	case name := <-waited:
		if name != active.Name {
			t.Errorf("waiting for %q, want %s", name, active.Name)
		}
	case s := <-done:
		t.Fatalf("returned without waiting for the active Job: %v, %v", s.job, s.err)
	case <-time.After(10 * time.Second):
		t.Fatal("never said it was waiting")
	}
	time.Sleep(300 * time.Millisecond)
	if names := jobNames(t, ns); len(names) != 1 {
		t.Fatalf("Jobs while waiting: %v, want only %s", names, active.Name)
	}
	finishJob(t, active)
	select {
	case s := <-done:
		if s.err != nil || s.job == nil || !strings.HasPrefix(s.job.Name, "orders-manual-") {
			t.Fatalf("after the active Job finished: %v, %v", s.job, s.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("did not start once the active Job finished")
	}
}

// TestYieldToOlder closes the race of two triggers that both saw no active
// Job: the younger Job is deleted and its trigger refuses, naming the older.
func TestYieldToOlder(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	pb, cj := newBackup(t, ns, "orders")
	older := newJob(t, cj, "orders-29000000", nil)
	time.Sleep(1100 * time.Millisecond) // creation timestamps are per second

	ours := ManualJob(pb, cj, time.Now())
	if err := k8s.Create(ctx, ours); err != nil {
		t.Fatal(err)
	}
	assertRefused(t, yieldToOlder(ctx, k8s, pb, cj, ours), older.Name)
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(ours), &batchv1.Job{}); !apierrors.IsNotFound(err) {
		t.Errorf("the younger Job %s was not deleted: %v", ours.Name, err)
	}

	// The older Job itself does not yield.
	if err := yieldToOlder(ctx, k8s, pb, cj, older); err != nil {
		t.Errorf("the oldest active Job yielded: %v", err)
	}
	if names := jobNames(t, ns); !slices.Equal(names, []string{older.Name}) {
		t.Errorf("Jobs %v, want only %s", names, older.Name)
	}
}
