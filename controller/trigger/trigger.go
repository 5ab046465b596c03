package trigger

import (
	"context"
	"errors"
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pgbackup/pgbackup/controller/api/v1alpha1"
	"github.com/pgbackup/pgbackup/controller/builder"
	"github.com/pgbackup/pgbackup/controller/status"
)

// ErrNoCronJob means the controller has not created the CronJob (yet).
var ErrNoCronJob = errors.New("the PostgresBackup has no CronJob yet: is the controller running and the resource Ready?")

// Start creates a Job from the CronJob of the PostgresBackup key names.
func Start(ctx context.Context, c client.Client, key client.ObjectKey, now time.Time) (*batchv1.Job, error) {
	pb := &v1alpha1.PostgresBackup{}
	if err := c.Get(ctx, key, pb); err != nil {
		return nil, fmt.Errorf("get PostgresBackup %s: %w", key, err)
	}
	cjName := pb.Status.CronJobName
	if cjName == "" {
		cjName = builder.CronJobName(pb)
	}
	cj := &batchv1.CronJob{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: key.Namespace, Name: cjName}, cj); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("CronJob %s/%s: %w", key.Namespace, cjName, ErrNoCronJob)
		}
		return nil, fmt.Errorf("get CronJob %s/%s: %w", key.Namespace, cjName, err)
	}
	job := builder.ManualJob(cj, now)
	if err := c.Create(ctx, job); err != nil {
		return nil, fmt.Errorf("create Job %s: %w", job.Name, err)
	}
	return job, nil
}

// Wait polls the Job every interval until it finishes and returns the run
// as the controller will record it.
func Wait(ctx context.Context, c client.Client, job *batchv1.Job, interval time.Duration) (v1alpha1.BackupRun, error) {
	var run v1alpha1.BackupRun
	err := wait.PollUntilContextCancel(ctx, interval, true, func(ctx context.Context) (bool, error) {
		live := &batchv1.Job{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(job), live); err != nil {
			return false, fmt.Errorf("get Job %s: %w", job.Name, err)
		}
		var pods corev1.PodList
		if err := c.List(ctx, &pods, client.InNamespace(job.Namespace), client.MatchingLabels{"batch.kubernetes.io/job-name": job.Name}); err != nil {
			return false, fmt.Errorf("list Pods of Job %s: %w", job.Name, err)
		}
		var done bool
		run, done = status.Run(live, pods.Items)
		return done, nil
	})
	if err != nil {
		return run, fmt.Errorf("wait for Job %s: %w", job.Name, err)
	}
	return run, nil
}
