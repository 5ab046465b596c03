package storagetest

import (
	"context"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/pgbackup/pgbackup/backup-agent/result"
	"github.com/pgbackup/pgbackup/backup-agent/storage"
)

// Op names a Store method for fault injection.
type Op string

// The operations a Faulty store can fail.
const (
	OpUpload      Op = "Upload"
	OpPutIfAbsent Op = "PutIfAbsent"
	OpGet         Op = "Get"
	OpStat        Op = "Stat"
	OpList        Op = "List"
	OpDelete      Op = "Delete"
	OpUploads     Op = "Uploads"
	OpServerTime  Op = "ServerTime"
)

// Mode is how an injected fault behaves.
type Mode int

const (
	// FailBefore fails the call without doing it: the request never
	// reached the store.
	FailBefore Mode = iota
	// LoseAnswer does the call, then returns an error as if its answer had
	// been lost on the way back: the store changed, the caller cannot tell.
	LoseAnswer
)

// Fault is one injected failure.
type Fault struct {
	Op Op
	// KeyContains restricts the fault to keys (or prefixes) containing it;
	// empty matches every call of Op.
	KeyContains string
	// Times is how many matching calls fail; negative is forever.
	Times int
	Mode  Mode
	// Err is returned; a StorageFailed "injected" error when nil.
	Err error
}

// Faulty wraps a Store and fails chosen calls, for unit tests of what the
// agent does with lost answers and outages. Calls are also recorded.
type Faulty struct {
	storage.Store

	mu     sync.Mutex
	faults []*Fault
	calls  []string
}

// NewFaulty wraps s.
func NewFaulty(s storage.Store) *Faulty { return &Faulty{Store: s} }

// Inject adds a fault; faults are matched in the order they were added.
func (f *Faulty) Inject(ft Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = append(f.faults, &ft)
}

// Calls returns "Op key" for every call so far, in order.
func (f *Faulty) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// take records a call and returns the fault it triggers, if any.
func (f *Faulty) take(op Op, key string) *Fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, string(op)+" "+key)
	for _, ft := range f.faults {
		if ft.Op != op || ft.Times == 0 || !strings.Contains(key, ft.KeyContains) {
			continue
		}
		if ft.Times > 0 {
			ft.Times--
		}
		return ft
	}
	return nil
}

func (ft *Fault) err(op Op, key string) error {
	if ft.Err != nil {
		return ft.Err
	}
	what := "failed"
	if ft.Mode == LoseAnswer {
		what = "answer lost"
	}
	return result.Errorf(result.ReasonStorageFailed, "injected fault: %s %s: %s", op, key, what)
}

// around runs call unless a FailBefore fault matches, and replaces its
// error when a LoseAnswer fault does.
func (f *Faulty) around(op Op, key string, call func() error) error {
	ft := f.take(op, key)
	if ft != nil && ft.Mode == FailBefore {
		return ft.err(op, key)
	}
	err := call()
	if ft != nil && ft.Mode == LoseAnswer {
		return ft.err(op, key)
	}
	return err
}

// Upload implements storage.Store.
func (f *Faulty) Upload(ctx context.Context, key string, r io.Reader, opts ...storage.UploadOption) (storage.Object, error) {
	var obj storage.Object
	err := f.around(OpUpload, key, func() (err error) {
		obj, err = f.Store.Upload(ctx, key, r, opts...)
		return err
	})
	if err != nil {
		return storage.Object{}, err
	}
	return obj, nil
}

// PutIfAbsent implements storage.Store.
func (f *Faulty) PutIfAbsent(ctx context.Context, key string, body []byte, contentType string) error {
	return f.around(OpPutIfAbsent, key, func() error { return f.Store.PutIfAbsent(ctx, key, body, contentType) })
}

// Get implements storage.Store.
func (f *Faulty) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	var rc io.ReadCloser
	err := f.around(OpGet, key, func() (err error) {
		rc, err = f.Store.Get(ctx, key)
		return err
	})
	if err != nil {
		if rc != nil {
			_ = rc.Close()
		}
		return nil, err
	}
	return rc, nil
}

// Stat implements storage.Store.
func (f *Faulty) Stat(ctx context.Context, key string) (storage.Object, error) {
	var o storage.Object
	err := f.around(OpStat, key, func() (err error) {
		o, err = f.Store.Stat(ctx, key)
		return err
	})
	return o, err
}

// List implements storage.Store.
func (f *Faulty) List(ctx context.Context, prefix string, fn func(storage.Object) error) error {
	return f.around(OpList, prefix, func() error { return f.Store.List(ctx, prefix, fn) })
}

// Delete implements storage.Store; the fault matches if any key does.
func (f *Faulty) Delete(ctx context.Context, keys ...string) error {
	return f.around(OpDelete, strings.Join(keys, " "), func() error { return f.Store.Delete(ctx, keys...) })
}

// Uploads implements storage.Store.
func (f *Faulty) Uploads(ctx context.Context, prefix string) ([]storage.PendingUpload, error) {
	var ups []storage.PendingUpload
	err := f.around(OpUploads, prefix, func() (err error) {
		ups, err = f.Store.Uploads(ctx, prefix)
		return err
	})
	return ups, err
}

// ServerTime implements storage.Store.
func (f *Faulty) ServerTime(ctx context.Context) (time.Time, error) {
	var t time.Time
	err := f.around(OpServerTime, "", func() (err error) {
		t, err = f.Store.ServerTime(ctx)
		return err
	})
	return t, err
}
