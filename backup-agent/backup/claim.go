package backup

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/pgbackup/pgbackup/backup-agent/manifest"
	"github.com/pgbackup/pgbackup/backup-agent/result"
	"github.com/pgbackup/pgbackup/backup-agent/storage"
	"github.com/pgbackup/pgbackup/internal/version"
)

// maxIDSuffix bounds the ids tried for one start second.
const maxIDSuffix = 100

// claimRecord is the content of a claim object: who took the id. Its
// nonce tells this run's claim from any other's when an answer was lost.
type claimRecord struct {
	ID           string    `json:"id"`
	StartedAt    time.Time `json:"startedAt"`
	Host         string    `json:"host"`
	AgentVersion string    `json:"agentVersion"`
	Nonce        string    `json:"nonce"`
}

// claimID makes a backup id this run's own before anything is stored
// under it: a conditional put (If-None-Match: *) of PREFIX/<id>/claim.json
// for the start time's id, then -1, -2, ... while they are taken. Two runs
// that start in the same second, from one cluster or two, so never share
// an id, and so never write, or delete, each other's objects.
func (r *run) claimID(ctx context.Context) error {
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		return result.Wrap(result.ReasonInternal, fmt.Errorf("claim nonce: %w", err))
	}
	host, _ := os.Hostname()
	for n := 0; n < maxIDSuffix; n++ {
		id := manifest.NewID(r.started, n)
		body, err := json.Marshal(claimRecord{ID: id, StartedAt: r.started.UTC(), Host: host,
			AgentVersion: version.Get().Version, Nonce: hex.EncodeToString(nonce)})
		if err != nil {
			return result.Wrap(result.ReasonInternal, err)
		}
		ok, err := r.tryClaim(ctx, id, body)
		if err != nil {
			return err
		}
		if ok {
			r.id, r.claim, r.res.BackupID = id, body, id
			return nil
		}
	}
	return result.Errorf(result.ReasonStorageFailed, "no free backup id for %s: %d backups started in the same second", manifest.NewID(r.started, 0), maxIDSuffix)
}

// tryClaim reports whether this run now owns id.
func (r *run) tryClaim(ctx context.Context, id string, body []byte) (bool, error) {
	key := manifest.ClaimKey(r.set.prefix, id)
	err := r.store.PutIfAbsent(ctx, key, body, "application/json")
	switch {
	case errors.Is(err, storage.ErrExists):
		// Taken, or ours: a retried put whose first answer was lost
		// meets its own claim.
		if !r.isOurs(ctx, key, body) {
			return false, nil
		}
	case err != nil:
		return false, fmt.Errorf("claim backup id %s: %w", id, err)
	}
	// An agent older than claims writes no claim.json: an id directory
	// holding anything else is taken.
	if empty, err := r.onlyClaim(ctx, id, key); err != nil || !empty {
		if err == nil {
			_ = r.store.Delete(ctx, key) // our claim, in a directory that is not ours
		}
		return false, err
	}
	return true, nil
}

// isOurs reports whether the object at key holds exactly body.
func (r *run) isOurs(ctx context.Context, key string, body []byte) bool {
	rc, err := r.store.Get(ctx, key)
	if err != nil {
		return false
	}
	defer func() { _ = rc.Close() }()
	got, err := io.ReadAll(io.LimitReader(rc, int64(len(body))+1))
	return err == nil && bytes.Equal(got, body)
}

// onlyClaim reports whether the id's directory holds nothing but its claim.
func (r *run) onlyClaim(ctx context.Context, id, claimKey string) (bool, error) {
	other := errors.New("other object")
	err := r.store.List(ctx, manifest.Dir(r.set.prefix, id), func(o storage.Object) error {
		if o.Key != claimKey {
			return other
		}
		return nil
	})
	if errors.Is(err, other) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("claim backup id %s: %w", id, err)
	}
	return true, nil
}
