package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

type summary struct {
	// skipped are "package Test: reason" of every skipped test.
	skipped []string
	// failed is set when a test or a package failed.
	failed bool
}

// summarize writes what `go test` without -v would print: each package's
// result, and the output of failed tests only (-json implies -v, so a
// test's output is held until it ends). It collects skips and failures.
// Lines that are not JSON (a build failure printed by go test itself) are
// copied as they are.
func summarize(in io.Reader, out io.Writer) (summary, error) {
	var s summary
	// The last output line of each test, which holds a skip's reason.
	reasons := map[string]string{}
	held := map[string][]string{}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil {
			if _, err := fmt.Fprintf(out, "%s\n", line); err != nil {
				return s, err
			}
			continue
		}
		key := e.Package + " " + e.Test
		switch e.Action {
		case "output":
			if e.Test != "" {
				held[key] = append(held[key], e.Output)
			} else if _, err := io.WriteString(out, e.Output); err != nil {
				return s, err
			}
			if t := strings.TrimSpace(e.Output); t != "" && !strings.HasPrefix(t, "--- SKIP") && !strings.HasPrefix(t, "=== ") {
				reasons[key] = t
			}
		case "skip":
			if e.Test != "" {
				s.skipped = append(s.skipped, strings.TrimSpace(key+": "+reasons[key]))
			}
			delete(held, key)
		case "pass":
			delete(held, key)
		case "fail":
			s.failed = true
			if _, err := io.WriteString(out, strings.Join(held[key], "")); err != nil {
				return s, err
			}
			delete(held, key)
		}
	}
	// Tests that never ended (a panic, a timeout) belong to a failed run:
	// their output is what explains it.
	for _, lines := range held {
		if _, err := io.WriteString(out, strings.Join(lines, "")); err != nil {
			return s, err
		}
	}
	return s, sc.Err()
}
