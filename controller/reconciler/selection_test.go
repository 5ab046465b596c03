package reconciler_test

import (
	"context"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/pgbackup/pgbackup/backup-agent/selection"
	"github.com/pgbackup/pgbackup/controller/api/v1alpha1"
)

// What to dump is validated by the API server, before any run: the CRD's
// pgDumpExtraArgs rule accepts exactly the agent's allow-list, and refuses
// every option the agent refuses.
func TestSelectionValidated(t *testing.T) {
	ns := newNamespace(t)
	invalid := func(name, want string, edit func(*v1alpha1.PostgresSpec)) {
		t.Helper()
		pb := newBackup(ns, name)
		edit(&pb.Spec.Postgres)
		if err := k8s.Create(context.Background(), pb); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want Invalid with %q", name, err, want)
		}
	}
	for i, opt := range selection.RefusedNames() {
		if i%2 == 0 {
			opt += "=x" // with and without a value
		}
		invalid("refused-"+strings.Trim(strings.ReplaceAll(opt, "=", "-"), "-"), "pgDumpExtraArgs: "+opt+" is not an allowed pg_dump option", func(p *v1alpha1.PostgresSpec) {
			p.PgDumpExtraArgs = []string{"--no-owner", opt}
		})
	}
	for _, tc := range []struct{ name, arg string }{
		{"short-form", "-O"},
		{"value-missing", "--extension"},
		{"value-empty", "--extension="},
		{"value-with-comma", "--extension=a,b"},
		{"value-on-a-switch", "--no-owner=1"},
		{"two-in-one", "--no-owner --no-acl"},
		{"unknown", "--frobnicate"},
	} {
		invalid(tc.name, "is not an allowed pg_dump option", func(p *v1alpha1.PostgresSpec) { p.PgDumpExtraArgs = []string{tc.arg} })
	}
	invalid("both-lists", "a database is in both databases and excludeDatabases", func(p *v1alpha1.PostgresSpec) {
		p.Databases, p.ExcludeDatabases = []string{"app", "orders"}, []string{"orders"}
	})
	invalid("comma-in-excluded-name", "excludeDatabases[0]", func(p *v1alpha1.PostgresSpec) { p.ExcludeDatabases = []string{"a,b"} })
	invalid("filter-narrows-nothing", "a filter needs schemas, excludeSchemas, excludeTables or excludeTableData", func(p *v1alpha1.PostgresSpec) {
		p.Filters = []v1alpha1.DumpFilter{{Database: "app"}}
	})
	invalid("empty-pattern", "filters[0].excludeTables[0]", func(p *v1alpha1.PostgresSpec) {
		p.Filters = []v1alpha1.DumpFilter{{ExcludeTables: []string{""}}}
	})

	// Every allowed option at once, with filters and exclusions: accepted,
	// and in the CronJob as the agent reads them.
	pb := newBackup(ns, "narrowed")
	p := &pb.Spec.Postgres
	for _, opt := range selection.AllowedNames() {
		p.PgDumpExtraArgs = append(p.PgDumpExtraArgs, selection.Example(opt))
	}
	p.ExcludeDatabases = []string{"scratch"}
	p.Filters = []v1alpha1.DumpFilter{{Database: "app", ExcludeTableData: []string{"public.events_*"}}, {ExcludeSchemas: []string{"tmp"}}}
	create(t, pb)
	var cj *batchv1.CronJob
	eventually(t, "CronJob created", func() (err error) {
		cj, err = getCronJob(ns, "narrowed")
		return err
	})
	env := map[string]string{}
	for _, e := range cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Env {
		env[e.Name] = e.Value
	}
	if got := env["PGBACKUP_DUMP_FILTERS"]; got != `[{"database":"app","excludeTableData":["public.events_*"]},{"excludeSchemas":["tmp"]}]` {
		t.Errorf("PGBACKUP_DUMP_FILTERS = %s", got)
	}
	if got := env["PGBACKUP_EXCLUDE_DATABASES"]; got != "scratch" {
		t.Errorf("PGBACKUP_EXCLUDE_DATABASES = %q", got)
	}
	if err := selection.CheckExtraArgs(strings.Split(env["PGBACKUP_PG_DUMP_EXTRA_ARGS"], ",")); err != nil || len(strings.Split(env["PGBACKUP_PG_DUMP_EXTRA_ARGS"], ",")) != len(selection.Allowed) {
		t.Errorf("PGBACKUP_PG_DUMP_EXTRA_ARGS = %q: %v", env["PGBACKUP_PG_DUMP_EXTRA_ARGS"], err)
	}
}
