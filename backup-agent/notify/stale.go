package notify

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/pflag"

	"github.com/pgbackup/pgbackup/backup-agent/result"
)

// StaleOptions are the flags of `pgbackup notify --event stale`, which the
// controller's stale notification Job runs; each is also a PGBACKUP_*
// variable (package envflag).
type StaleOptions struct {
	Event        string
	URL          string
	Events       []string
	Source       string
	Destination  string
	LastSuccess  string
	LastBackupID string
	MaxAge       string
	Message      string
}

// AddFlags registers the options as flags.
func (o *StaleOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Event, "event", string(Stale), "the event: stale")
	fs.StringVar(&o.URL, "notify-url", o.URL, "the webhook; it holds a token, so pass it as PGBACKUP_NOTIFY_URL")
	fs.StringSliceVar(&o.Events, "notify-events", []string{string(Stale)}, "the events the webhook asks for; nothing is sent unless they include stale")
	fs.StringVar(&o.Source, "notify-source", o.Source, "what the payload says is stale (the controller sets NAMESPACE/NAME)")
	fs.StringVar(&o.Destination, "destination", o.Destination, "the backups' s3://BUCKET/PREFIX, for the payload")
	fs.StringVar(&o.LastSuccess, "last-success", o.LastSuccess, "when the newest successful backup finished (RFC 3339); empty when none ever did")
	fs.StringVar(&o.LastBackupID, "last-backup-id", o.LastBackupID, "that backup's id")
	fs.StringVar(&o.MaxAge, "max-age", o.MaxAge, "the resource's maxAge")
	fs.StringVar(&o.Message, "message", o.Message, "the BackupStale condition's message")
}

// Staleness reads the options into the payload's staleness, checking
// them; errors are ConfigInvalid and never contain the URL.
func (o StaleOptions) Staleness() (Config, Staleness, error) {
	var st Staleness
	if o.Event != string(Stale) {
		return Config{}, st, result.Errorf(result.ReasonConfigInvalid, "--event %q: only stale is sent this way (runs send failed and succeeded themselves)", o.Event)
	}
	if o.URL == "" {
		return Config{}, st, result.Errorf(result.ReasonConfigInvalid, "--notify-url (PGBACKUP_NOTIFY_URL) is required")
	}
	c := Config{WebhookURL: o.URL, Events: ParseEvents(o.Events), Source: o.Source}
	if err := c.Validate(); err != nil {
		return Config{}, st, err
	}
	st = Staleness{LastBackupID: o.LastBackupID, MaxAge: o.MaxAge, Message: o.Message}
	if o.LastSuccess != "" {
		t, err := time.Parse(time.RFC3339, o.LastSuccess)
		if err != nil {
			return Config{}, st, result.Errorf(result.ReasonConfigInvalid, "--last-success %q: want an RFC 3339 time", o.LastSuccess)
		}
		st.LastSuccess = &t
	}
	return c, st, nil
}

// Run checks the options and sends the stale notification.
func (o StaleOptions) Run(ctx context.Context, log logr.Logger) error {
	c, st, err := o.Staleness()
	if err != nil {
		return err
	}
	return SendStale(ctx, log, c, o.Destination, st)
}

// Staleness is what a stale notification says.
type Staleness struct {
	// LastSuccess is when the newest successful backup finished; nil when
	// none ever did.
	LastSuccess *time.Time `json:"lastSuccess"`
	// LastBackupID is that backup's id.
	LastBackupID string `json:"lastBackupId,omitempty"`
	// MaxAge is the resource's recovery point objective.
	MaxAge string `json:"maxAge"`
	// Message is the BackupStale condition's message.
	Message string `json:"message,omitempty"`
}

// SendStale tells the webhook that no backup succeeded within maxAge, if
// its events include stale (the caller checks that too). Unlike Send it
// returns the failure: the one-shot Job that calls it is retried.
func SendStale(ctx context.Context, log logr.Logger, c Config, destination string, st Staleness) error {
	if c.WebhookURL == "" || !slices.Contains(c.events(), Stale) {
		log.Info("Nothing to send: the webhook does not ask for stale")
		return nil
	}
	body, err := json.Marshal(Payload{Event: Stale, Source: c.Source, Destination: destination, Staleness: &st})
	if err != nil {
		return result.Wrap(result.ReasonInternal, err)
	}
	if err := c.deliver(ctx, log, Attempts, http.MethodPost, c.WebhookURL, body); err != nil {
		return result.Errorf(result.ReasonInternal, "webhook notification (stale) not delivered: %w", err)
	}
	log.Info("Webhook notified", "event", Stale, "host", host(c.WebhookURL))
	return nil
}
