package pgdump

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"syscall"

	"github.com/pgbackup/pgbackup/backup-agent/result"
)

// Feed runs a program that reads its input from stdin (pg_restore, psql)
// and copies input to it. If input fails (for example a checksum
// mismatch), the program is killed before it can see the end of its input,
// so it never mistakes a partial input for a whole one and commits it; the
// input's error is returned. Otherwise stdin is closed and the program's
// own failure, if any, is returned classified with c.Reason.
func Feed(ctx context.Context, c Command, input io.Reader) error {
	cmd := exec.CommandContext(ctx, c.Path, c.Args...)
	cmd.Env = c.Env
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = stopGrace
	stderr := &tailBuffer{max: stderrKeep}
	var sink io.Writer = stderr
	if c.Stderr != nil {
		sink = io.MultiWriter(stderr, c.Stderr)
	}
	cmd.Stderr = sink
	cmd.Stdout = sink // psql's notices; nothing on stdout is data here
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return fmt.Errorf("%s: stdin pipe: %w", programName(c.Path), err)
	}
	if err := cmd.Start(); err != nil {
		return result.Errorf(c.Reason, "start %s: %w", programName(c.Path), err)
	}
	// inputErr is the input's own failure, told apart from a write
	// failing because the program stopped reading (its exit says why).
	inputErr := make(chan error, 1)
	go func() {
		src := &recordingReader{r: input}
		_, _ = io.Copy(stdin, src)
		if src.err != nil {
			// SIGKILL: no handler, no chance to finish a transaction.
			_ = cmd.Process.Kill()
			inputErr <- src.err
			return
		}
		_ = stdin.Close()
		inputErr <- nil
	}()
	waitErr := cmd.Wait()
	if err := <-inputErr; err != nil {
		return err
	}
	if waitErr != nil {
		msg := strings.Join(strings.Fields(stderr.String()), " ")
		if msg == "" {
			msg = "no error output"
		}
		if ctx.Err() != nil {
			return result.Errorf(result.ReasonInterrupted, "%s stopped: %w", programName(c.Path), ctx.Err())
		}
		state := "failed"
		if cmd.ProcessState != nil {
			state = describeExit(cmd.ProcessState)
		}
		return result.Errorf(c.Reason, "%s failed (%s): %s%s", programName(c.Path), state, msg, Hint(msg))
	}
	return nil
}

// recordingReader remembers the first error other than io.EOF its source
// returned.
type recordingReader struct {
	r   io.Reader
	err error
}

func (r *recordingReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) && r.err == nil {
		r.err = err
	}
	return n, err
}

// FeedThrough runs first with input on its stdin and feeds its output,
// through filter, to second: pg_restore writing a script for psql. If input
// fails, or first does, second is killed before it sees the end of its
// input, as Feed does; the input's error comes first, then first's, then
// second's.
func FeedThrough(ctx context.Context, first Command, input io.Reader, filter func(io.Reader) io.Reader, second Command) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	src := &recordingReader{r: input}
	first.Stdin = src
	out, err := Start(ctx, first)
	if err != nil {
		return err
	}
	defer func() { _ = out.Close() }()
	err = Feed(ctx, second, filter(&checkedEnd{r: out, src: src}))
	if src.err != nil {
		return src.err
	}
	return err
}

// checkedEnd is a stream that ends in an error, not io.EOF, when the input
// of its program failed: a program that took a cut input for a whole one
// must not pass its end on.
type checkedEnd struct {
	r   io.Reader
	src *recordingReader
}

func (c *checkedEnd) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if errors.Is(err, io.EOF) && c.src.err != nil {
		return n, c.src.err
	}
	return n, err
}
