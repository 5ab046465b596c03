package faults_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgbackup/pgbackup/test/faults"
)

// TestEveryRowHasItsTest keeps Rows and the suite in step: each row of
// this package names a test that exists, and each fault test is a row.
func TestEveryRowHasItsTest(t *testing.T) {
	files, err := filepath.Glob("*_test.go")
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]bool{}
	fset := token.NewFileSet()
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv == nil && strings.HasPrefix(fn.Name.Name, "Test") {
				tests[fn.Name.Name] = true
			}
		}
	}
	delete(tests, "TestEveryRowHasItsTest")
	for _, r := range faults.Rows {
		if r.Package != faults.Package {
			continue
		}
		top, _, _ := strings.Cut(r.Test, "/")
		if !tests[top] {
			t.Errorf("row %q names %s, which this package does not have", r.Fault, r.Test)
		}
		delete(tests, top)
	}
	for name := range tests {
		t.Errorf("%s is not a row of faults.Rows", name)
	}
}
