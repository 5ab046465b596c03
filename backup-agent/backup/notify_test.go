package backup

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/go-logr/logr/testr"

	"github.com/pgbackup/pgbackup/backup-agent/notify"
	"github.com/pgbackup/pgbackup/backup-agent/result"
)

// hooks records what the webhook and the heartbeat received.
type hooks struct {
	mu       sync.Mutex
	payloads []notify.Payload
	beats    int
	status   int
}

func (h *hooks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	switch r.URL.Path {
	case "/hook/tok3n":
		var p notify.Payload
		_ = json.Unmarshal(body, &p)
		h.payloads = append(h.payloads, p)
	case "/beat/tok3n":
		h.beats++
	}
	if h.status != 0 {
		w.WriteHeader(h.status)
	}
}

// TestRunNotifies: the run's final result reaches the webhook and the
// heartbeat as configured, and a webhook that refuses it changes the
// outcome into nothing but a warning.
func TestRunNotifies(t *testing.T) {
	tests := []struct {
		name        string
		failDB      string
		events      []string
		status      int
		wantEvents  []notify.Event
		wantBeats   int
		wantWarning string
	}{
		{name: "success: heartbeat, webhook on succeeded", events: []string{"succeeded", "failed"}, wantEvents: []notify.Event{notify.Succeeded}, wantBeats: 1},
		{name: "success, default events: heartbeat only", wantBeats: 1},
		{name: "failure: webhook with the reason, no heartbeat", failDB: "app", wantEvents: []notify.Event{notify.Failed}},
		{name: "webhook refuses: still a success, with a warning", events: []string{"succeeded"}, status: http.StatusForbidden,
			wantEvents: []notify.Event{notify.Succeeded}, wantBeats: 1, wantWarning: "webhook notification (succeeded) not delivered: POST http://127.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fakePgDump(t, "17.2")
			if tt.failDB != "" {
				t.Setenv("FAKE_FAIL_DB", tt.failDB)
			}
			h := &hooks{status: tt.status}
			srv := httptest.NewServer(h)
			defer srv.Close()
			opts := options("app")
			opts.NotifyURL, opts.HeartbeatURL = srv.URL+"/hook/tok3n", srv.URL+"/beat/tok3n"
			opts.NotifyEvents, opts.NotifySource = tt.events, "prod/orders"
			res, err := Run(context.Background(), testr.New(t), opts, deps(newStore(), pg17))
			if (err != nil) != (tt.failDB != "") {
				t.Fatalf("run error %v", err)
			}
			h.mu.Lock()
			defer h.mu.Unlock()
			if len(h.payloads) != len(tt.wantEvents) || h.beats != tt.wantBeats {
				t.Fatalf("webhook got %d payloads, heartbeat %d pings; want %d and %d", len(h.payloads), h.beats, len(tt.wantEvents), tt.wantBeats)
			}
			for i, p := range h.payloads {
				if p.Event != tt.wantEvents[i] || p.Source != "prod/orders" || p.Destination != "s3://bucket/team/pg" || p.Result.Result != res.Result ||
					p.Result.Reason != res.Reason || p.Result.BackupID != res.BackupID {
					t.Errorf("payload %+v does not carry the run's result %+v", p, res)
				}
			}
			if tt.failDB != "" && (len(h.payloads) == 0 || h.payloads[0].Result.Reason != result.ReasonDumpFailed) {
				t.Errorf("the failure's payload lacks its reason: %+v", h.payloads)
			}
			var notes []string // the notifications' warnings (the fakes make others)
			for _, w := range res.Warnings {
				if strings.Contains(w, "webhook") || strings.Contains(w, "heartbeat") {
					notes = append(notes, w)
				}
			}
			warnings := strings.Join(notes, "\n")
			if tt.wantWarning == "" && len(notes) > 0 || !strings.Contains(warnings, tt.wantWarning) {
				t.Errorf("notification warnings %q, want %q", notes, tt.wantWarning)
			}
			if strings.Contains(warnings, "tok3n") {
				t.Errorf("a warning holds the URL's token: %q", res.Warnings)
			}
		})
	}
}

func TestRunRefusesBadNotifySettings(t *testing.T) {
	opts := options("app")
	opts.NotifyEvents = []string{"stale"}
	opts.NotifyURL = "hooks.example.com/tok3n"
	_, err := Run(context.Background(), testr.New(t), opts, deps(newStore(), pg17))
	if result.ReasonOf(err) != result.ReasonConfigInvalid || !strings.Contains(err.Error(), "webhook URL is not an http") || strings.Contains(err.Error(), "tok3n") {
		t.Fatalf("err %v: want ConfigInvalid naming the webhook URL, without its token", err)
	}
}
