package main

import (
	"bytes"
	"strings"
	"testing"
)

const passing = `{"Action":"start","Package":"p"}
{"Action":"run","Package":"p","Test":"TestA"}
{"Action":"output","Package":"p","Test":"TestA","Output":"=== RUN   TestA\n"}
{"Action":"output","Package":"p","Test":"TestA","Output":"--- PASS: TestA (0.00s)\n"}
{"Action":"pass","Package":"p","Test":"TestA"}
{"Action":"output","Package":"p","Output":"ok  \tp\t0.01s\n"}
{"Action":"pass","Package":"p"}
`

const skipping = `{"Action":"run","Package":"p","Test":"TestDB"}
{"Action":"output","Package":"p","Test":"TestDB","Output":"    db_test.go:9: integration test: needs Docker\n"}
{"Action":"output","Package":"p","Test":"TestDB","Output":"--- SKIP: TestDB (0.00s)\n"}
{"Action":"skip","Package":"p","Test":"TestDB"}
{"Action":"output","Package":"p","Output":"ok  \tp\t0.01s\n"}
{"Action":"pass","Package":"p"}
`

func TestNoSkip(t *testing.T) {
	tests := []struct {
		name, in string
		code     int
		stderr   string
	}{
		{"all pass", passing, 0, ""},
		{"a skip fails the run and is named with its reason", passing + skipping, 1, "p TestDB: db_test.go:9: integration test: needs Docker"},
		{"a failure fails", `{"Action":"fail","Package":"p","Test":"TestX"}` + "\n", 1, ""},
		{"a package without tests is no skip", `{"Action":"skip","Package":"q"}` + "\n", 0, ""},
		{"plain lines pass through", "# p\nbuild failed\n", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := run(strings.NewReader(tt.in), &out, &errOut); code != tt.code {
				t.Fatalf("exit %d, want %d; stderr %s", code, tt.code, errOut.String())
			}
			if !strings.Contains(errOut.String(), tt.stderr) {
				t.Errorf("stderr %q lacks %q", errOut.String(), tt.stderr)
			}
		})
	}
	var out bytes.Buffer
	run(strings.NewReader(passing), &out, &bytes.Buffer{})
	if out.String() != "ok  \tp\t0.01s\n" {
		t.Errorf("output %q is not go test's", out.String())
	}
	// A failed test's output is shown.
	out.Reset()
	failing := `{"Action":"output","Package":"p","Test":"TestB","Output":"    b_test.go:3: boom\n"}` + "\n" +
		`{"Action":"output","Package":"p","Test":"TestB","Output":"--- FAIL: TestB (0.00s)\n"}` + "\n" +
		`{"Action":"fail","Package":"p","Test":"TestB"}` + "\n"
	run(strings.NewReader(failing), &out, &bytes.Buffer{})
	if out.String() != "    b_test.go:3: boom\n--- FAIL: TestB (0.00s)\n" {
		t.Errorf("a failed test's output %q", out.String())
	}
}
