package notify

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"github.com/spf13/pflag"

	"github.com/pgbackup/pgbackup/backup-agent/result"
)

func TestStaleNotification(t *testing.T) {
	var mu sync.Mutex
	var got []Payload
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var p Payload
		if err := json.Unmarshal(b, &p); err != nil || r.Method != http.MethodPost {
			t.Errorf("%s with %s: %v", r.Method, b, err)
		}
		mu.Lock()
		got = append(got, p)
		s := status
		mu.Unlock()
		w.WriteHeader(s)
	}))
	defer srv.Close()
	url := srv.URL + "/hooks/secret-token"

	parse := func(t *testing.T, args ...string) StaleOptions {
		t.Helper()
		var o StaleOptions
		fs := pflag.NewFlagSet("notify", pflag.ContinueOnError)
		o.AddFlags(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		return o
	}

	o := parse(t, "--notify-url", url, "--notify-events", "failed,stale", "--notify-source", "shop/orders", "--destination", "s3://b/p",
		"--last-success", "2026-12-01T03:00:00Z", "--last-backup-id", "20261201T030000Z", "--max-age", "26h0m0s", "--message", "no backup for 6d")
	if err := o.Run(t.Context(), testr.New(t)); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(got) != 1 {
		t.Fatalf("%d posts, want 1", len(got))
	}
	p := got[0]
	st := p.Staleness
	if p.Event != Stale || p.Source != "shop/orders" || p.Destination != "s3://b/p" || p.Result != nil || st == nil ||
		st.LastSuccess == nil || !st.LastSuccess.Equal(time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)) || st.LastBackupID != "20261201T030000Z" ||
		st.MaxAge != "26h0m0s" || st.Message != "no backup for 6d" {
		t.Errorf("payload %+v, staleness %+v", p, st)
	}

	// Never a success: lastSuccess is null.
	got = nil
	if err := parse(t, "--notify-url", url, "--max-age", "1h").Run(t.Context(), testr.New(t)); err != nil || len(got) != 1 || got[0].Staleness.LastSuccess != nil {
		t.Fatalf("Run: %v, payloads %+v", err, got)
	}

	// A webhook that does not ask for stale gets nothing.
	got = nil
	if err := parse(t, "--notify-url", url, "--notify-events", "failed").Run(t.Context(), testr.New(t)); err != nil || len(got) != 0 {
		t.Fatalf("Run: %v, %d payloads; want nothing sent", err, len(got))
	}

	// Not delivered: an error (the Job retries), naming the host only.
	got = nil
	mu.Lock()
	status = http.StatusBadGateway
	mu.Unlock()
	err := parse(t, "--notify-url", url).Run(t.Context(), testr.New(t))
	if err == nil || result.ExitCode(err) != result.ExitInternal || strings.Contains(err.Error(), "secret-token") || len(got) != Attempts {
		t.Fatalf("Run against a failing webhook: %v after %d tries", err, len(got))
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--notify-url", url, "--event", "failed"}, "only stale"},
		{nil, "--notify-url (PGBACKUP_NOTIFY_URL) is required"},
		{[]string{"--notify-url", url, "--last-success", "yesterday"}, "RFC 3339"},
		{[]string{"--notify-url", "ftp://x/secret-token"}, "not an http:// or https:// URL"},
	} {
		err := parse(t, tc.args...).Run(t.Context(), testr.New(t))
		if result.ReasonOf(err) != result.ReasonConfigInvalid || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "secret-token") {
			t.Errorf("%q: %v, want ConfigInvalid with %q", tc.args, err, tc.want)
		}
	}
}
