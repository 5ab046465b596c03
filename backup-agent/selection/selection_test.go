package selection

import (
	"slices"
	"strings"
	"testing"
)

func TestParseFilters(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []Filter
		wantErr  string
	}{
		{name: "empty", in: "", want: nil},
		{name: "one filter", in: `[{"database":"app","excludeTableData":["public.events_*"]}]`,
			want: []Filter{{Database: "app", ExcludeTableData: []string{"public.events_*"}}}},
		{name: "every database", in: `[{"excludeSchemas":["scratch"]}]`, want: []Filter{{ExcludeSchemas: []string{"scratch"}}}},
		{name: "misspelt field", in: `[{"database":"app","excludeTable":["t"]}]`, wantErr: `unknown field "excludeTable"`},
		{name: "not an array", in: `{"database":"app"}`, wantErr: "not a JSON array"},
		{name: "trailing data", in: `[] []`, wantErr: "trailing data"},
		{name: "narrows nothing", in: `[{"database":"app"}]`, wantErr: `--dump-filters[0] (database "app"): sets none of`},
		{name: "empty pattern", in: `[{"schemas":[" "]}]`, wantErr: "schemas has an empty pattern"},
		{name: "long pattern", in: `[{"excludeTables":["` + strings.Repeat("x", MaxPatternLength+1) + `"]}]`, wantErr: "longer than 1024 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseFilters(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			for i := range got {
				if got[i].Database != tc.want[i].Database || !slices.Equal(got[i].ExcludeTableData, tc.want[i].ExcludeTableData) || !slices.Equal(got[i].ExcludeSchemas, tc.want[i].ExcludeSchemas) {
					t.Fatalf("got %+v, want %+v", got, tc.want)
				}
			}
		})
	}
}

func TestArgs(t *testing.T) {
	o := Options{
		Filters: []Filter{
			{ExcludeSchemas: []string{"scratch"}},
			{Database: "app", Schemas: []string{"app", "audit"}, ExcludeTables: []string{"app.tmp_*"}, ExcludeTableData: []string{`"Events"`}},
			{Database: "other", ExcludeTables: []string{"x"}},
		},
	}
	for _, tc := range []struct {
		name string
		o    Options
		db   string
		want []string
	}{
		{name: "nothing selected", o: Options{}, db: "app", want: nil},
		{name: "filters of every database and of app", o: o, db: "app", want: []string{"--strict-names", "--exclude-schema=scratch", "--schema=app", "--schema=audit", "--exclude-table=app.tmp_*", `--exclude-table-data="Events"`}},
		{name: "only the filter of every database", o: o, db: "billing", want: []string{"--strict-names", "--exclude-schema=scratch"}},
		{name: "extra args alone", o: Options{ExtraArgs: []string{"--no-owner"}}, db: "app", want: []string{"--strict-names", "--no-owner"}},
		{name: "a pattern that looks like an option stays a value", o: Options{Filters: []Filter{{ExcludeTables: []string{"--file=/etc/passwd"}}}}, db: "app", want: []string{"--strict-names", "--exclude-table=--file=/etc/passwd"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.o.Args(tc.db); !slices.Equal(got, tc.want) {
				t.Fatalf("Args(%q) = %q, want %q", tc.db, got, tc.want)
			}
		})
	}
	if got := o.UnmatchedFilters([]string{"app", "billing"}); !slices.Equal(got, []string{"other"}) {
		t.Fatalf("UnmatchedFilters = %q, want [other]", got)
	}
}

func TestExclude(t *testing.T) {
	kept, removed := Exclude([]string{"app", "scratch", "billing", ".."}, func(s string) string { return s }, []string{"scratch", "..", "absent"})
	if !slices.Equal(kept, []string{"app", "billing"}) || !slices.Equal(removed, []string{"scratch", ".."}) {
		t.Fatalf("kept %q removed %q", kept, removed)
	}
}

func TestCheckExtraArgs(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		wantErr string
	}{
		{args: nil},
		{args: []string{"--no-owner", "--no-privileges", "--extension=postgis*", "--no-comments"}},
		{args: []string{"-O"}, wantErr: "long form"},
		{args: []string{"no-owner"}, wantErr: "not an option"},
		{args: []string{"--file=/tmp/x"}, wantErr: "refused: the agent streams"},
		{args: []string{"--format=plain"}, wantErr: "use the format field"},
		{args: []string{"--schema-only"}, wantErr: "without its data"},
		{args: []string{"--data-only"}, wantErr: "without its schema"},
		{args: []string{"--section=data"}, wantErr: "one section"},
		{args: []string{"--inserts"}, wantErr: "row counts"},
		{args: []string{"--host=evil"}, wantErr: "connection option"},
		{args: []string{"--dbname=postgres://x"}, wantErr: "connection option"},
		{args: []string{"--role=admin"}, wantErr: "connection option"},
		{args: []string{"--exclude-table-data=t"}, wantErr: "excludeTableData"},
		{args: []string{"--extension"}, wantErr: "needs a value"},
		{args: []string{"--extension="}, wantErr: "needs a value"},
		{args: []string{"--no-owner=yes"}, wantErr: "takes no value"},
		{args: []string{"--frobnicate"}, wantErr: "not on the allow-list (--blobs,"},
		{args: []string{"--no-owner --file=x"}, wantErr: "one option per item"},
		{args: slices.Repeat([]string{"--no-owner"}, MaxExtraArgs+1), wantErr: "at most 32"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			err := CheckExtraArgs(tc.args)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestEveryRefusalIsNotAllowed(t *testing.T) {
	for name := range refusals {
		if _, ok := Allowed[name]; ok {
			t.Errorf("--%s is both allowed and refused", name)
		}
	}
}

func TestCheckPgDumpMajor(t *testing.T) {
	args := []string{"--no-owner", "--no-policies", "--exclude-extension=x"}
	if err := CheckPgDumpMajor(args, 18); err != nil {
		t.Fatal(err)
	}
	err := CheckPgDumpMajor(args, 17)
	if err == nil || !strings.Contains(err.Error(), "--no-policies needs pg_dump 18 or newer, and this server is dumped with pg_dump 17") || strings.Contains(err.Error(), "exclude-extension") {
		t.Fatalf("err = %v", err)
	}
}
