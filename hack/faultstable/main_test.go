package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgbackup/pgbackup/test/faults"
)

func TestRender(t *testing.T) {
	const pkg = faults.Module + "/test/faults"
	rows := []faults.Row{
		{Fault: "passes", Expected: "exit 0", Package: pkg, Test: "TestA"},
		{Fault: "fails", Expected: "exit 5", Package: pkg, Test: "TestB"},
		{Fault: "sub | test", Expected: "exit 4", Package: faults.Module + "/backup-agent/backup", Test: "TestC/sub_case"},
		{Fault: "absent", Expected: "x", Package: pkg, Test: "TestD"},
		{Fault: "skips", Expected: "x", Package: pkg, Test: "TestE"},
		{Fault: "untested", Expected: "x", Note: "no test yet"},
		{Fault: "elsewhere", Expected: "x", Package: faults.Module + "/test/e2e", Test: "TestF", Note: "make test-e2e"},
	}
	input := strings.Join([]string{
		`{"Action":"start","Package":"` + pkg + `"}`,
		`not json: build output`,
		`{"Action":"run","Package":"` + pkg + `","Test":"TestA"}`,
		`{"Action":"pass","Package":"` + pkg + `","Test":"TestA","Elapsed":12.34}`,
		`{"Action":"pass","Package":"` + pkg + `","Test":"TestB","Elapsed":1}`,
		`{"Action":"fail","Package":"` + pkg + `","Test":"TestB","Elapsed":61.04}`, // a later run wins
		`{"Action":"pass","Package":"` + faults.Module + `/backup-agent/backup","Test":"TestC/sub_case","Elapsed":3.5}`,
		`{"Action":"pass","Package":"` + faults.Module + `/backup-agent/backup","Test":"TestD","Elapsed":3.5}`, // another package
		`{"Action":"skip","Package":"` + pkg + `","Test":"TestE","Elapsed":0}`,
		`{"Action":"pass","Package":"` + pkg + `","Elapsed":80}`,
	}, "\n")
	rs := results{}
	if err := rs.read(strings.NewReader(input)); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	render(&b, rows, rs)
	got := b.String()
	for _, want := range []string{
		"| passes | exit 0 | `test/faults.TestA` | PASS (12.3s) |\n",
		"| fails | exit 5 | `test/faults.TestB` | **FAIL** (1m1s) |\n",
		"| sub \\| test | exit 4 | `backup-agent/backup.TestC/sub_case` | PASS (3.5s) |\n",
		"| absent | x | `test/faults.TestD` | not run |\n",
		"| skips | x | `test/faults.TestE` | skipped |\n",
		"| untested | x | — | no test yet |\n",
		"| elsewhere | x | `test/e2e.TestF` | not run — make test-e2e |\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the table lacks %q:\n%s", want, got)
		}
	}
	if !strings.Contains(got, "do not edit") {
		t.Error("the page does not say it is generated")
	}
}

// TestRunWritesEveryRow runs the command on a file and checks the page has
// one line per row of the real matrix, each naming a test or saying why not.
func TestRunWritesEveryRow(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "faults.json")
	row := faults.Rows[0]
	if err := os.WriteFile(in, []byte(`{"Action":"pass","Package":"`+row.Package+`","Test":"`+row.Test+`","Elapsed":2}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "faults.md")
	if err := run(out, []string{in}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var lines int
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "| ") && !strings.HasPrefix(l, "| fault ") {
			lines++
		}
	}
	if lines != len(faults.Rows) {
		t.Errorf("%d table lines, want one per row (%d):\n%s", lines, len(faults.Rows), b)
	}
	if !strings.Contains(string(b), "`test/faults."+row.Test+"` | PASS (2s) |") {
		t.Errorf("the first row's result is missing:\n%s", b)
	}
	if err := run(out, []string{filepath.Join(dir, "missing.json")}); err == nil {
		t.Error("a missing input file is not an error")
	}
}

// TestRowsAreComplete keeps the matrix honest: every row says what is
// injected and expected, and names a test or says why it has none.
func TestRowsAreComplete(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range faults.Rows {
		if r.Fault == "" || r.Expected == "" {
			t.Errorf("row %+v: no fault or no expected outcome", r)
		}
		if r.Test == "" && r.Note == "" {
			t.Errorf("row %q: no test and no note saying why", r.Fault)
		}
		if r.Test != "" && !strings.HasPrefix(r.Package, faults.Module+"/") {
			t.Errorf("row %q: package %q is not pgbackup's", r.Fault, r.Package)
		}
		// One test may prove several rows (the e2e suite's do), but a
		// row of test/faults is its own test (TestEveryRowHasItsTest).
		if r.Package == faults.Package && seen[r.Test] {
			t.Errorf("test %s proves two rows", r.Test)
		}
		seen[r.Test] = r.Package == faults.Package
	}
}

func TestOtherTests(t *testing.T) {
	rows := []faults.Row{
		{Package: faults.Package, Test: "TestHere"},
		{Package: faults.Module + "/a", Test: "TestX/one"},
		{Package: faults.Module + "/a", Test: "TestX/two"},
		{Package: faults.Module + "/b", Test: "TestY"},
		{Package: faults.Module + "/test/e2e", Test: "TestZ/kind", Note: "make test-e2e"},
		{Note: "no test yet"},
	}
	run, pkgs := otherTests(rows)
	if run != "^(TestX|TestY)$" {
		t.Errorf("run %q", run)
	}
	if strings.Join(pkgs, " ") != faults.Module+"/a "+faults.Module+"/b" {
		t.Errorf("packages %v", pkgs)
	}
}
