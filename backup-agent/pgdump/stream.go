package pgdump

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pgbackup/pgbackup/backup-agent/result"
)

// stderrKeep is how much of a program's stderr is kept for the error
// message: the end is what explains a failure.
const stderrKeep = 8 << 10

// stopGrace is how long a program gets after SIGTERM before it is killed.
const stopGrace = 10 * time.Second

// Command describes a program run whose standard output is streamed.
type Command struct {
	// Path is the program, Args its arguments (without the program name).
	Path string
	Args []string
	// Env is the complete environment of the program.
	Env []string
	// Reason classifies a failure of the program (DumpFailed for pg_dump).
	Reason result.Reason
	// Stderr, when set, also receives the program's standard error.
	Stderr io.Writer
	// Stdin, when set, is the program's standard input (Start only; Feed
	// has its own input).
	Stdin io.Reader
}

// Stream is the standard output of a running program. Read returns io.EOF
// only once the program has exited with status 0; a non-zero exit, a
// signal or a cancelled context make Read return an error instead, so a
// consumer never mistakes a truncated output for a complete one.
type Stream struct {
	cmd    *exec.Cmd
	stdout io.ReadCloser
	stderr *tailBuffer
	reason result.Reason
	name   string

	once    sync.Once
	waitErr error
}

// Start starts the program. Cancelling ctx sends it SIGTERM, then SIGKILL
// after a grace period.
func Start(ctx context.Context, c Command) (*Stream, error) {
	cmd := exec.CommandContext(ctx, c.Path, c.Args...)
	cmd.Env = c.Env
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = stopGrace
	s := &Stream{cmd: cmd, stderr: &tailBuffer{max: stderrKeep}, reason: c.Reason, name: programName(c.Path)}
	cmd.Stderr = s.stderr
	cmd.Stdin = c.Stdin
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("%s: stdout pipe: %w", s.name, err)
	}
	s.stdout = stdout
	if err := cmd.Start(); err != nil {
		return nil, result.Errorf(c.Reason, "start %s: %w", s.name, err)
	}
	return s, nil
}

// Read reads the program's output. At the end of the output it waits for
// the program and returns io.EOF only if it succeeded.
func (s *Stream) Read(p []byte) (int, error) {
	n, err := s.stdout.Read(p)
	if errors.Is(err, io.EOF) {
		if werr := s.wait(); werr != nil {
			return n, werr
		}
		return n, io.EOF
	}
	if err != nil {
		// The pipe broke (the process was killed, or Wait closed it):
		// report the program's fate, which says more than the pipe.
		if werr := s.wait(); werr != nil {
			return n, werr
		}
		return n, fmt.Errorf("%s: read output: %w", s.name, err)
	}
	return n, nil
}

// Close stops the program if it is still running and reaps it. It returns
// the program's failure, if any.
func (s *Stream) Close() error {
	// Close may run while a Read on another goroutine is inside wait, so
	// it reads nothing wait writes: signalling a process that has already
	// been waited for is a harmless os.ErrProcessDone.
	if s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
	}
	return s.wait()
}

func (s *Stream) wait() error {
	s.once.Do(func() {
		err := s.cmd.Wait()
		if err == nil {
			return
		}
		msg := strings.Join(strings.Fields(s.stderr.String()), " ")
		if msg == "" {
			msg = "no error output"
		}
		var exitErr *exec.ExitError
		switch {
		case s.cmd.ProcessState != nil && errors.As(err, &exitErr):
			s.waitErr = result.Errorf(s.reason, "%s failed (%s): %s%s", s.name, describeExit(s.cmd.ProcessState), msg, Hint(msg))
		default:
			s.waitErr = result.Errorf(s.reason, "%s failed: %w: %s", s.name, err, msg)
		}
	})
	return s.waitErr
}

// describeExit says how a process ended: "exit status 1" or "killed by signal terminated".
func describeExit(ps interface{ Sys() any }) string {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok {
		if ws.Signaled() {
			return "killed by signal " + ws.Signal().String()
		}
		return fmt.Sprintf("exit status %d", ws.ExitStatus())
	}
	return "failed"
}

// Hint adds advice to the PostgreSQL errors whose cause is not obvious.
func Hint(stderr string) string {
	switch {
	case strings.Contains(stderr, "conflict with recovery"):
		return " (hint: on a hot standby, long dumps need hot_standby_feedback=on or larger max_standby_streaming_delay/max_standby_archive_delay)"
	case strings.Contains(stderr, "could not obtain lock"), strings.Contains(stderr, "lock timeout"),
		// pg_dump --lock-wait-timeout sets statement_timeout around its LOCK TABLE.
		strings.Contains(stderr, "statement timeout") && strings.Contains(stderr, "LOCK TABLE"):
		return " (hint: pg_dump needs ACCESS SHARE locks on every table and waits at most --lock-wait-timeout for them; a session holding ACCESS EXCLUSIVE blocks it: find it in pg_locks)"
	case strings.Contains(stderr, "No space left on device"):
		return " (hint: the disk pg_dump writes to is full: for --format directory that is --spool-dir, the spool volume; give it more space (spec.storage.size) or use the custom format, which streams)"
	case strings.Contains(stderr, "server version") && strings.Contains(stderr, "mismatch"):
		return " (hint: pg_dump must be at least the server's major version)"
	case strings.Contains(stderr, "cannot drop inherited constraint"):
		return " (hint: pg_restore --clean cannot drop the keys of partitioned tables; restore into a new database with --create instead)"
	case strings.Contains(stderr, "permission denied"):
		return " (hint: the backup role needs to read every object; use a superuser or a role with pg_read_all_data)"
	}
	return ""
}

func programName(path string) string {
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		return path[i+1:]
	}
	return path
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
