//go:build bench

package reconciler_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestBenchController creates BENCH_RESOURCES (default 1,000)
// PostgresBackups and reports how long until every CronJob exists and the
// peak memory of this process, which is the manager (kube-apiserver and etcd
// run in their own processes). Run with `make bench-controller`.
func TestBenchController(t *testing.T) {
	n := 1000
	if v := os.Getenv("BENCH_RESOURCES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			t.Fatalf("BENCH_RESOURCES: %v", err)
		}
	}
	ns := newNamespace(t)
	ctx := context.Background()

	var peakHeap atomic.Uint64
	stop := make(chan struct{})
	go func() {
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peakHeap.Load() {
				peakHeap.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()

	start := time.Now()
	work := make(chan int)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for i := range work {
				pb := newBackup(ns, fmt.Sprintf("db-%04d", i))
				if err := k8s.Create(ctx, pb); err != nil {
					t.Errorf("create: %v", err)
				}
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	created := time.Since(start)

	var count int
	for {
		var list batchv1.CronJobList
		if err := k8s.List(ctx, &list, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		if count = len(list.Items); count >= n {
			break
		}
		if time.Since(start) > 10*time.Minute {
			t.Fatalf("only %d of %d CronJobs after 10 minutes", count, n)
		}
		time.Sleep(200 * time.Millisecond)
	}
	all := time.Since(start)
	close(stop)
	t.Logf("%d PostgresBackups created in %s; every CronJob existed after %s (%.0f/s)",
		n, created.Round(time.Millisecond), all.Round(time.Millisecond), float64(n)/all.Seconds())
	t.Logf("manager process: peak RSS %s, peak Go heap in use %s", vmHWM(), mib(peakHeap.Load()))
}

func mib(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// vmHWM is the peak resident set size of this process.
func vmHWM() string {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			return strings.TrimSpace(rest)
		}
	}
	return "unknown"
}
