package envflag

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func TestName(t *testing.T) {
	for flag, want := range map[string]string{
		"destination":     "PGBACKUP_DESTINATION",
		"keep-last":       "PGBACKUP_KEEP_LAST",
		"s3-path-style":   "PGBACKUP_S3_PATH_STYLE",
		"age-recipient":   "PGBACKUP_AGE_RECIPIENT",
		"termination-log": "PGBACKUP_TERMINATION_LOG",
	} {
		if got := Name(flag); got != want {
			t.Errorf("Name(%q) = %q, want %q", flag, got, want)
		}
	}
}

func TestApply(t *testing.T) {
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	dest := fs.String("destination", "", "")
	keep := fs.Int("keep-last", 0, "")
	dbs := fs.StringSlice("databases", nil, "")
	recips := fs.StringArray("age-recipient", nil, "")
	style := fs.Bool("s3-path-style", false, "")
	maxAge := fs.Duration("max-age", 0, "")
	if err := fs.Parse([]string{"--keep-last=7"}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PGBACKUP_DESTINATION", "s3://bucket/prefix")
	t.Setenv("PGBACKUP_KEEP_LAST", "99") // the command line wins
	t.Setenv("PGBACKUP_DATABASES", "app, orders,,")
	t.Setenv("PGBACKUP_AGE_RECIPIENT", "age1a,age1b")
	t.Setenv("PGBACKUP_S3_PATH_STYLE", "true")
	t.Setenv("PGBACKUP_MAX_AGE", "36h")
	if err := Apply(fs); err != nil {
		t.Fatal(err)
	}
	if *dest != "s3://bucket/prefix" || *keep != 7 || !*style || *maxAge != 36*time.Hour {
		t.Errorf("got dest=%q keep=%d style=%v maxAge=%v", *dest, *keep, *style, *maxAge)
	}
	if !reflect.DeepEqual(*dbs, []string{"app", "orders"}) || !reflect.DeepEqual(*recips, []string{"age1a", "age1b"}) {
		t.Errorf("lists: %v %v", *dbs, *recips)
	}
}

func TestApplyBadValueHidesIt(t *testing.T) {
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	fs.Int("keep-last", 0, "")
	t.Setenv("PGBACKUP_KEEP_LAST", "s3cr3t-not-a-number")
	err := Apply(fs)
	if err == nil {
		t.Fatal("bad value accepted")
	}
	if !strings.Contains(err.Error(), "PGBACKUP_KEEP_LAST") {
		t.Errorf("error %q does not name the variable", err)
	}
	if strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("error %q repeats the value", err)
	}
}
