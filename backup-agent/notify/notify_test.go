package notify

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"

	"github.com/pgbackup/pgbackup/backup-agent/result"
)

// token stands for the secret part of the URLs: it must appear in no
// log line and no warning.
const token = "s3cr3t-t0k3n"

// receiver is a webhook and heartbeat server that answers with the
// statuses it is given, in turn (200 once they run out).
type receiver struct {
	mu       sync.Mutex
	statuses []int
	hang     time.Duration
	requests []request
}

type request struct {
	method, path, contentType string
	body                      []byte
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.requests = append(r.requests, request{req.Method, req.URL.Path, req.Header.Get("Content-Type"), body})
	status := http.StatusOK
	if len(r.statuses) > 0 {
		status, r.statuses = r.statuses[0], r.statuses[1:]
	}
	hang := r.hang
	r.mu.Unlock()
	if hang > 0 {
		select {
		case <-time.After(hang):
		case <-req.Context().Done():
			return
		}
	}
	w.WriteHeader(status)
}

func (r *receiver) got(path string) []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []request
	for _, q := range r.requests {
		if q.path == path {
			out = append(out, q)
		}
	}
	return out
}

type logLines struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logLines) logger() logr.Logger {
	return funcr.New(func(prefix, args string) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.b.WriteString(prefix + " " + args + "\n")
	}, funcr.Options{Verbosity: 1})
}

func (l *logLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var (
	succeeded = result.Result{Result: result.Succeeded, BackupID: "20261207T010000Z", Bytes: 1234, DurationSeconds: 5, Databases: []string{"app"}}
	failed    = result.Result{Result: result.Failed, BackupID: "20261207T010000Z", Reason: result.ReasonDumpFailed, Message: "pg_dump failed"}
)

const (
	hookPath = "/hook/" + token
	beatPath = "/ping/" + token
)

func TestSend(t *testing.T) {
	tests := []struct {
		name         string
		res          result.Result
		events       []Event
		statuses     []int // the webhook's answers
		hang         time.Duration
		cancelled    bool
		wantHook     int // webhook requests
		wantEvent    Event
		wantBeat     int
		wantWarnings []string
	}{
		{name: "success, default events: heartbeat only", res: succeeded, wantBeat: 1},
		{name: "success, succeeded asked for", res: succeeded, events: []Event{Succeeded}, wantHook: 1, wantEvent: Succeeded, wantBeat: 1},
		{name: "failure, default events: webhook, no heartbeat", res: failed, wantHook: 1, wantEvent: Failed},
		{name: "failure, only succeeded asked for: nothing", res: failed, events: []Event{Succeeded}},
		{name: "5xx, then success: retried", res: failed, statuses: []int{503, 502}, wantHook: 3, wantEvent: Failed},
		{name: "5xx every time: a warning after 3 attempts", res: failed, statuses: []int{500, 500, 500}, wantHook: 3, wantEvent: Failed,
			wantWarnings: []string{"webhook notification (failed) not delivered: POST http://127.0.0.1", "answered 500 Internal Server Error"}},
		{name: "4xx: not retried", res: failed, statuses: []int{404}, wantHook: 1, wantEvent: Failed,
			wantWarnings: []string{"answered 404 Not Found"}},
		{name: "429: retried", res: failed, statuses: []int{429}, wantHook: 2, wantEvent: Failed},
		{name: "a webhook that never answers: bounded", res: succeeded, events: []Event{Succeeded}, hang: time.Minute, wantHook: 3, wantEvent: Succeeded, wantBeat: 3,
			wantWarnings: []string{"webhook notification (succeeded) not delivered", "no answer within 200ms", "heartbeat not delivered"}},
		{name: "interrupted run: still notified, once", res: failed, cancelled: true, statuses: []int{500}, wantHook: 1, wantEvent: Failed,
			wantWarnings: []string{"answered 500"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rcv := &receiver{statuses: tt.statuses, hang: tt.hang}
			srv := httptest.NewServer(rcv)
			defer srv.Close()
			cfg := Config{WebhookURL: srv.URL + hookPath, HeartbeatURL: srv.URL + beatPath, Events: tt.events,
				Source: "prod/orders", Timeout: 200 * time.Millisecond}
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			if tt.cancelled {
				cancel()
			}
			defer cancel()
			var log logLines
			started := time.Now()
			warnings := Send(ctx, log.logger(), cfg, "s3://backups/prod", tt.res)
			if took := time.Since(started); took > 10*time.Second {
				t.Errorf("Send took %s", took)
			}
			hook, beat := rcv.got(hookPath), rcv.got(beatPath)
			if len(hook) != tt.wantHook || len(beat) != tt.wantBeat {
				t.Fatalf("%d webhook and %d heartbeat requests, want %d and %d", len(hook), len(beat), tt.wantHook, tt.wantBeat)
			}
			for _, q := range hook {
				var p Payload
				if err := json.Unmarshal(q.body, &p); err != nil || q.method != http.MethodPost || q.contentType != "application/json" {
					t.Fatalf("webhook got %s %s %q (%v)", q.method, q.contentType, q.body, err)
				}
				if p.Event != tt.wantEvent || p.Source != "prod/orders" || p.Destination != "s3://backups/prod" ||
					p.Result.BackupID != tt.res.BackupID || p.Result.Result != tt.res.Result || p.Result.Reason != tt.res.Reason {
					t.Errorf("webhook payload %s, want event %s with the result", q.body, tt.wantEvent)
				}
			}
			for _, q := range beat {
				if q.method != http.MethodGet {
					t.Errorf("heartbeat %s, want GET", q.method)
				}
			}
			joined := strings.Join(warnings, "\n")
			if len(tt.wantWarnings) == 0 && len(warnings) > 0 {
				t.Errorf("warnings %q, want none", warnings)
			}
			for _, w := range tt.wantWarnings {
				if !strings.Contains(joined, w) {
					t.Errorf("warnings %q lack %q", warnings, w)
				}
			}
			if strings.Contains(joined, token) || strings.Contains(log.String(), token) {
				t.Errorf("the URL's token leaked:\nwarnings: %q\nlog:\n%s", warnings, log.String())
			}
		})
	}
}

func TestSendToAnUnreachableWebhook(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close() // nothing listens there now
	var log logLines
	warnings := Send(context.Background(), log.logger(), Config{WebhookURL: "http://user:" + token + "@" + addr + "/x?key=" + token}, "", failed)
	if len(warnings) != 1 || !strings.Contains(warnings[0], "connection refused") {
		t.Fatalf("warnings %q, want one saying the connection was refused", warnings)
	}
	if strings.Contains(warnings[0], token) || strings.Contains(log.String(), token) {
		t.Fatalf("the URL's credentials leaked: %q\n%s", warnings, log.String())
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		cfg     Config
		wantErr string
	}{
		{Config{}, ""},
		{Config{WebhookURL: "https://hooks.example.com/x", Events: []Event{Failed, Succeeded}}, ""},
		{Config{HeartbeatURL: "https://hc-ping.com/uuid"}, ""},
		{Config{WebhookURL: "ftp://example.com/" + token}, "webhook URL is not an http:// or https:// URL"},
		{Config{HeartbeatURL: "hc-ping.com/" + token}, "heartbeat URL is not an http:// or https:// URL"},
		{Config{WebhookURL: "https://hooks.example.com/x", Events: []Event{"stale!"}}, `notify event "stale!" is not one of failed, succeeded`},
		{Config{Events: []Event{Failed}}, "no webhook URL"},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		if tt.wantErr == "" {
			if err != nil {
				t.Errorf("Validate(%+v) = %v", tt.cfg, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) || result.ReasonOf(err) != result.ReasonConfigInvalid {
			t.Errorf("Validate(%+v) = %v, want ConfigInvalid with %q", tt.cfg, err, tt.wantErr)
		}
		if err != nil && strings.Contains(err.Error(), token) {
			t.Errorf("the error repeats the URL's token: %v", err)
		}
	}
	if got := ParseEvents([]string{" Failed", "", "succeeded "}); len(got) != 2 || got[0] != Failed || got[1] != Succeeded {
		t.Errorf("ParseEvents = %q", got)
	}
}
