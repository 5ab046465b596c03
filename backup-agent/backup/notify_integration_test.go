package backup_test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/pgbackup/pgbackup/backup-agent/notify"
	"github.com/pgbackup/pgbackup/backup-agent/result"
)

// TestBackupNotifiesFromItsContainer: the agent, configured only through
// its environment as the CronJob configures it, POSTs each run's result
// to a webhook of the test's own and pings the heartbeat after the
// success only; the URLs' token never reaches its output.
func TestBackupNotifiesFromItsContainer(t *testing.T) {
	e := newEnv(t, 17, seedSQL)
	var mu sync.Mutex
	var payloads []notify.Payload
	beats := 0
	ln, err := net.Listen("tcp", net.JoinHostPort(e.Gateway(t), "0"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/hook/s3cr3t-t0k3n":
			var p notify.Payload
			if err := json.Unmarshal(body, &p); err != nil {
				t.Errorf("webhook body %q: %v", body, err)
			}
			payloads = append(payloads, p)
		case r.Method == http.MethodGet && r.URL.Path == "/beat/s3cr3t-t0k3n":
			beats++
		default:
			t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
		}
	}))
	_ = srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	defer srv.Close()
	vars := map[string]string{
		"PGBACKUP_NOTIFY_URL":    srv.URL + "/hook/s3cr3t-t0k3n",
		"PGBACKUP_HEARTBEAT_URL": srv.URL + "/beat/s3cr3t-t0k3n",
		"PGBACKUP_NOTIFY_EVENTS": "failed,succeeded",
		"PGBACKUP_NOTIFY_SOURCE": "shop/orders",
	}
	ok := e.backup(t, vars, "--databases", "app")
	if ok.ExitCode != 0 {
		t.Fatalf("backup exit %d; output:\n%s", ok.ExitCode, ok.Output)
	}
	vars["PGPASSWORD"] = "secret-wrong"
	failed := e.backup(t, vars, "--databases", "app")
	expectFailure(t, failed, 3, result.ReasonAuthFailed, "authentication refused")

	mu.Lock()
	defer mu.Unlock()
	if len(payloads) != 2 || beats != 1 {
		t.Fatalf("webhook got %d payloads and the heartbeat %d pings, want 2 and 1", len(payloads), beats)
	}
	for i, want := range []struct {
		event  notify.Event
		result *result.Result
	}{{notify.Succeeded, ok.Result}, {notify.Failed, failed.Result}} {
		p := payloads[i]
		if p.Event != want.event || p.Source != "shop/orders" || p.Destination != "s3://"+e.Bucket+"/pg" ||
			p.Result.Result != want.result.Result || p.Result.BackupID != want.result.BackupID || p.Result.Reason != want.result.Reason {
			t.Errorf("payload %d: %+v, want %s with the run's result %+v", i, p, want.event, want.result)
		}
	}
	for _, run := range []string{ok.Output, failed.Output} {
		if strings.Contains(run, "s3cr3t-t0k3n") {
			t.Errorf("the URLs' token is in the agent's output:\n%s", run)
		}
	}
	if !strings.Contains(ok.Output, `"msg":"Heartbeat sent"`) || !strings.Contains(failed.Output, `"msg":"Webhook notified","event":"failed"`) {
		t.Errorf("the logs do not say what was sent:\n%s\n%s", ok.Output, failed.Output)
	}
}
