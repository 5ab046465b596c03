package pgdump

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/pgbackup/pgbackup/backup-agent/result"
)

func TestParseVersion(t *testing.T) {
	tests := []struct {
		out     string
		want    Version
		wantErr bool
	}{
		{out: "pg_dump (PostgreSQL) 17.2\n", want: Version{"17.2", 17, 2}},
		{out: "pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n", want: Version{"15.18", 15, 18}},
		{out: "pg_dump (PostgreSQL) 18beta1\n", want: Version{"18", 18, 0}},
		{out: "pg_dump (PostgreSQL) 9.6.24\n", want: Version{"9.6", 9, 6}},
		{out: "something else", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseVersion(tt.out)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseVersion(%q) = %+v, %v; want %+v, error %v", tt.out, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestCheckCompatible(t *testing.T) {
	if err := CheckCompatible(Version{"17.2", 17, 2}, 15, "15.18"); err != nil {
		t.Errorf("pg_dump 17 refused a 15 server: %v", err)
	}
	if err := CheckCompatible(Version{"17.2", 17, 2}, 17, "17.6"); err != nil {
		t.Errorf("pg_dump 17 refused a 17 server: %v", err)
	}
	if err := CheckCompatible(Version{"18.6", 18, 6}, 18, "18.1"); err != nil {
		t.Errorf("pg_dump 18 refused an 18 server: %v", err)
	}
	err := CheckCompatible(Version{"15.18", 15, 18}, 17, "17.2")
	if result.ReasonOf(err) != result.ReasonDumpFailed || !strings.Contains(err.Error(), "pg_dump 15.18") || !strings.Contains(err.Error(), "PostgreSQL 17.2") {
		t.Errorf("pg_dump 15 against 17: %v, want DumpFailed naming both versions", err)
	}
	// The way out is named: an image with the server's client tools.
	err = CheckCompatible(Version{"18.6", 18, 6}, 19, "19.0")
	for _, want := range []string{"PostgreSQL 19 client tools", "AGENT_PG_MAJOR=19", "-pg19", BinDirEnv} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("pg_dump 18 against 19: %v, want it to name %q", err, want)
		}
	}
	if err != nil && strings.Contains(err.Error(), "\n") {
		t.Errorf("the error is not one line: %q", err)
	}
}

func TestFind(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/pg_dump", []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(BinDirEnv, dir)
	if p, err := Find("pg_dump"); err != nil || p != dir+"/pg_dump" {
		t.Errorf("Find(pg_dump) = %q, %v", p, err)
	}
	if _, err := Find("pg_restore"); result.ExitCode(err) != result.ExitConfig || !strings.Contains(err.Error(), BinDirEnv) {
		t.Errorf("Find(pg_restore) = %v, want ConfigInvalid naming %s", err, BinDirEnv)
	}
}

func sh(script string) Command {
	return Command{Path: "/bin/sh", Args: []string{"-c", script}, Reason: result.ReasonDumpFailed}
}

func TestStream(t *testing.T) {
	tests := []struct {
		name     string
		script   string
		wantOut  string
		wantErr  []string // substrings; nil means success
		wantCode int
	}{
		{"success", "printf 'hello world'", "hello world", nil, 0},
		{"large output", "head -c 3000000 /dev/zero", strings.Repeat("\x00", 3000000), nil, 0},
		{"fails after output", "printf 'half'; echo 'pg_dump: error: connection lost' >&2; exit 1", "half", []string{"sh failed (exit status 1)", "connection lost"}, 4},
		{"killed", "printf 'half'; kill -9 $$", "half", []string{"killed by signal killed"}, 4},
		{"standby hint", "echo 'ERROR: canceling statement due to conflict with recovery' >&2; exit 1", "", []string{"hot_standby_feedback"}, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Start(context.Background(), sh(tt.script))
			if err != nil {
				t.Fatal(err)
			}
			out, err := io.ReadAll(s)
			if string(out) != tt.wantOut {
				t.Errorf("read %d bytes, want %d", len(out), len(tt.wantOut))
			}
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("ReadAll: %v", err)
				}
				if cerr := s.Close(); cerr != nil {
					t.Fatalf("Close after success: %v", cerr)
				}
				return
			}
			if err == nil {
				t.Fatal("a failed program's output read as complete (io.EOF)")
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
			if got := result.ExitCode(err); got != tt.wantCode {
				t.Errorf("exit code %d, want %d", got, tt.wantCode)
			}
			if s.Close() == nil {
				t.Error("Close after failure returned nil")
			}
		})
	}
}

func TestStreamCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	s, err := Start(ctx, sh("printf start; exec sleep 60"))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(s, buf); err != nil {
		t.Fatal(err)
	}
	cancel()
	began := time.Now()
	_, err = io.ReadAll(s)
	if err == nil {
		t.Fatal("cancelled program's output read as complete")
	}
	if d := time.Since(began); d > 5*time.Second {
		t.Errorf("cancel took %v: SIGTERM should stop the program at once", d)
	}
	if !strings.Contains(err.Error(), "terminated") {
		t.Errorf("error %q does not say the program was terminated", err)
	}
}

func TestStreamCloseStopsProgram(t *testing.T) {
	s, err := Start(context.Background(), sh("exec yes"))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1024)
	if _, err := io.ReadFull(s, buf); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Close() }()
	select {
	case err := <-done:
		if err == nil {
			t.Error("Close of a running program reported success")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not stop the program")
	}
}

func TestHintNamesTheLockWait(t *testing.T) {
	for _, stderr := range []string{
		// pg_dump 17 with --lock-wait-timeout
		"pg_dump: error: query failed: ERROR:  canceling statement due to statement timeout\npg_dump: detail: Query was: LOCK TABLE public.orders IN ACCESS SHARE MODE",
		"pg_dump: error: could not obtain lock on relation \"orders\"",
	} {
		if h := Hint(stderr); !strings.Contains(h, "ACCESS EXCLUSIVE") || !strings.Contains(h, "--lock-wait-timeout") {
			t.Errorf("Hint(%q) = %q", stderr, h)
		}
	}
	if h := Hint("ERROR:  canceling statement due to statement timeout\nQuery was: COPY public.big TO stdout"); h != "" {
		t.Errorf("a statement timeout outside LOCK TABLE got the lock hint: %q", h)
	}
}

func TestHintNamesAFullSpool(t *testing.T) {
	h := Hint("pg_dump: error: could not write to file: No space left on device\npg_dump: error: a worker process died unexpectedly")
	if !strings.Contains(h, "spool") || !strings.Contains(h, "spec.storage.size") {
		t.Errorf("Hint = %q", h)
	}
}

func TestFeedThrough(t *testing.T) {
	// second writes what it got to its own file, and "whole" only after the
	// end of its input. (Shell builtins only: a child would outlive the
	// shell's SIGKILL.) Each case has its own file, so that one case's
	// "whole" is never read by another.
	var out string
	var second Command
	setup := func(t *testing.T) {
		out = t.TempDir() + "/out"
		second = Command{Path: "/bin/sh", Args: []string{"-c", `while IFS= read -r l; do printf '%s\n' "$l"; done > ` + out + ` && echo whole >> ` + out}, Reason: result.ReasonRestoreFailed}
	}
	upper := func(r io.Reader) io.Reader { return r }
	read := func() string { b, _ := os.ReadFile(out); return string(b) }

	t.Run("whole", func(t *testing.T) {
		setup(t)
		first := Command{Path: "/bin/sh", Args: []string{"-c", "tr a-z A-Z"}, Reason: result.ReasonRestoreFailed}
		if err := FeedThrough(context.Background(), first, strings.NewReader("abc\n"), upper, second); err != nil {
			t.Fatal(err)
		}
		if got := read(); got != "ABC\nwhole\n" {
			t.Errorf("second got %q", got)
		}
	})
	t.Run("first fails", func(t *testing.T) {
		setup(t)
		first := Command{Path: "/bin/sh", Args: []string{"-c", "head -c 2; echo 'pg_restore: error: bad archive' >&2; exit 1"}, Reason: result.ReasonRestoreFailed}
		err := FeedThrough(context.Background(), first, strings.NewReader("abcdef"), upper, second)
		if result.ReasonOf(err) != result.ReasonRestoreFailed || !strings.Contains(err.Error(), "bad archive") {
			t.Errorf("err %v, want first's failure", err)
		}
		if strings.Contains(read(), "whole") {
			t.Error("second saw the end of its input after first failed")
		}
	})
	t.Run("input fails", func(t *testing.T) {
		setup(t)
		first := Command{Path: "/bin/cat", Reason: result.ReasonRestoreFailed}
		boom := errors.New("checksum mismatch")
		err := FeedThrough(context.Background(), first, io.MultiReader(strings.NewReader("abc"), iotest.ErrReader(boom)), upper, second)
		if !errors.Is(err, boom) {
			t.Errorf("err %v, want the input's", err)
		}
		if strings.Contains(read(), "whole") {
			t.Error("second saw the end of its input after the input failed")
		}
	})
}
