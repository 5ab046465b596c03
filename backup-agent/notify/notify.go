package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-logr/logr"

	"github.com/pgbackup/pgbackup/backup-agent/result"
)

// Event is a run's outcome a webhook can ask for.
type Event string

// The events.
const (
	Failed    Event = "failed"
	Succeeded Event = "succeeded"
	// Stale is sent by the controller (a one-shot `pgbackup notify`
	// Job), not by a run: no backup succeeded within the resource's
	// maxAge.
	Stale Event = "stale"
)

// Events are the known events, in their documented order.
var Events = []Event{Failed, Succeeded, Stale}

// DefaultEvents are the events a webhook receives when none are chosen.
var DefaultEvents = []Event{Failed}

// Bounds of one notification: each attempt waits at most
// DefaultTimeout for the answer; a webhook is tried Attempts times, with
// a pause of retryPause, then twice that, in between. A notification
// takes at most about 3 × 10 s + 3 s.
const (
	DefaultTimeout = 10 * time.Second
	Attempts       = 3
	retryPause     = time.Second
	// maxAnswer is how much of an answer's body is read (and thrown away)
	// so the connection can be reused.
	maxAnswer = 64 << 10
)

// Config says where notifications go. The zero Config sends nothing.
type Config struct {
	// WebhookURL receives a POST with the Payload as JSON; "" for none.
	WebhookURL string
	// Events are the outcomes the webhook is told about; DefaultEvents
	// when empty.
	Events []Event
	// HeartbeatURL receives a GET after every successful run; "" for none.
	HeartbeatURL string
	// Source names what ran, in the payload: the controller sets the
	// PostgresBackup's namespace/name.
	Source string
	// Timeout bounds each attempt; DefaultTimeout when zero.
	Timeout time.Duration
}

// Enabled reports whether anything is to be sent.
func (c Config) Enabled() bool { return c.WebhookURL != "" || c.HeartbeatURL != "" }

// Validate checks the URLs and events; its errors never contain a URL's
// path, query or credentials.
func (c Config) Validate() error {
	for _, u := range []struct{ what, url string }{{"webhook URL", c.WebhookURL}, {"heartbeat URL", c.HeartbeatURL}} {
		if u.url == "" {
			continue
		}
		p, err := url.Parse(u.url)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return result.Errorf(result.ReasonConfigInvalid, "the %s is not an http:// or https:// URL with a host", u.what)
		}
	}
	for _, e := range c.Events {
		if !slices.Contains(Events, e) {
			return result.Errorf(result.ReasonConfigInvalid, "notify event %q is not one of %s", e, joinEvents(Events))
		}
	}
	if len(c.Events) > 0 && c.WebhookURL == "" {
		return result.Errorf(result.ReasonConfigInvalid, "notify events are set but no webhook URL is")
	}
	return nil
}

// ParseEvents reads a list of event names.
func ParseEvents(names []string) []Event {
	events := make([]Event, 0, len(names))
	for _, n := range names {
		if n = strings.TrimSpace(n); n != "" {
			events = append(events, Event(strings.ToLower(n)))
		}
	}
	return events
}

func joinEvents(events []Event) string {
	s := make([]string, len(events))
	for i, e := range events {
		s[i] = string(e)
	}
	return strings.Join(s, ", ")
}

// Payload is the JSON body a webhook receives (its field names are
// stable; later versions only add fields).
type Payload struct {
	// Event is the outcome: failed or succeeded.
	Event Event `json:"event"`
	// Source is what ran (the PostgresBackup's namespace/name), when
	// known.
	Source string `json:"source,omitempty"`
	// Destination is the backups' s3://BUCKET/PREFIX.
	Destination string `json:"destination,omitempty"`
	// Result is the run's result line, as in the termination log (failed
	// and succeeded).
	Result *result.Result `json:"result,omitempty"`
	// Staleness says since when no backup succeeded (stale).
	Staleness *Staleness `json:"staleness,omitempty"`
}

// Send tells the webhook and the heartbeat about res, as c asks, and
// returns a warning for each notification that could not be delivered.
// It never fails the run: the caller adds the warnings to the result. ctx
// may already be cancelled (the run was interrupted): Send then still
// notifies, on a context of its own, within its bounds.
func Send(ctx context.Context, log logr.Logger, c Config, destination string, res result.Result) []string {
	// An interrupted run has seconds left before it is killed: one
	// attempt each, no retries.
	attempts := Attempts
	if ctx.Err() != nil {
		attempts = 1
	}
	ctx = context.WithoutCancel(ctx)
	event := Failed
	if res.Result == result.Succeeded {
		event = Succeeded
	}
	var warnings []string
	if c.WebhookURL != "" && slices.Contains(c.events(), event) {
		body, err := json.Marshal(Payload{Event: event, Source: c.Source, Destination: destination, Result: &res})
		if err == nil {
			err = c.deliver(ctx, log, attempts, http.MethodPost, c.WebhookURL, body)
		}
		if err != nil {
			warnings = append(warnings, fmt.Sprintf("webhook notification (%s) not delivered: %v", event, err))
			log.Info("Webhook notification not delivered (warning)", "event", event, "error", err.Error())
		} else {
			log.Info("Webhook notified", "event", event, "host", host(c.WebhookURL))
		}
	}
	if c.HeartbeatURL != "" && event == Succeeded {
		if err := c.deliver(ctx, log, attempts, http.MethodGet, c.HeartbeatURL, nil); err != nil {
			warnings = append(warnings, fmt.Sprintf("heartbeat not delivered: %v", err))
			log.Info("Heartbeat not delivered (warning)", "error", err.Error())
		} else {
			log.Info("Heartbeat sent", "host", host(c.HeartbeatURL))
		}
	}
	return warnings
}

func (c Config) events() []Event {
	if len(c.Events) == 0 {
		return DefaultEvents
	}
	return c.Events
}

// deliver sends one request, retrying what may succeed later: connection
// failures, timeouts, 408, 429 and 5xx answers. Its errors name the host
// only.
func (c Config) deliver(ctx context.Context, log logr.Logger, attempts int, method, target string, body []byte) error {
	var err error
	for attempt := 1; attempt <= attempts; attempt++ {
		if attempt > 1 {
			time.Sleep(retryPause << (attempt - 2))
		}
		var retry bool
		retry, err = c.try(ctx, method, target, body)
		if err == nil || !retry {
			break
		}
		log.V(1).Info("Notification attempt failed", "host", host(target), "attempt", attempt, "error", err.Error())
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, host(target), err)
	}
	return nil
}

// try sends the request once and says whether a failure is worth another
// try.
func (c Config) try(ctx context.Context, method, target string, body []byte) (bool, error) {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, target, bytes.NewReader(body))
	if err != nil {
		return false, errors.New("invalid request")
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("User-Agent", "pgbackup")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		// url.Error repeats the whole URL, token included: keep its cause.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return true, fmt.Errorf("no answer within %s", timeout)
		}
		return true, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswer))
	_ = resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return false, nil
	case resp.StatusCode == http.StatusRequestTimeout, resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode >= 500:
		return true, fmt.Errorf("answered %s", resp.Status)
	default:
		return false, fmt.Errorf("answered %s", resp.Status)
	}
}

// host is what may be said of a URL: its scheme and host, never its path,
// query or credentials, which may hold a token.
func host(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(invalid URL)"
	}
	return u.Scheme + "://" + u.Host
}
