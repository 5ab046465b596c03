package backup_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/pgbackup/pgbackup/backup-agent/manifest"
	"github.com/pgbackup/pgbackup/backup-agent/result"
	"github.com/pgbackup/pgbackup/test/fixtures"
)

// Dumping from a hot standby: the backup is whole and says where it was
// read; without hot_standby_feedback the result warns that recovery may
// cancel a long COPY; libpq's target_session_attrs (what a clusterRef's
// target sets) picks a standby when there is one and the primary when
// there is none, and "standby" with none fails the run.
func TestBackupFromAStandby(t *testing.T) {
	e := newEnv(t, 17, seedSQL)
	sb := fixtures.StartStandby(t, e.PG, e.Network, "standby", false)
	backup := func(t *testing.T, vars map[string]string) (fixtures.AgentRun, *manifest.Manifest) {
		t.Helper()
		run := e.backup(t, vars, "--databases", "app", "--connect-retries", "1")
		if run.ExitCode != 0 || run.Result == nil || run.Result.Result != result.Succeeded {
			return run, nil
		}
		m, err := manifest.Unmarshal(e.get(t, "pg/"+run.Result.BackupID+"/manifest.json"))
		if err != nil {
			t.Fatal(err)
		}
		return run, m
	}
	warned := func(r fixtures.AgentRun) bool {
		return slices.ContainsFunc(r.Result.Warnings, func(w string) bool { return strings.Contains(w, "without hot_standby_feedback") })
	}
	wantOrders := func(t *testing.T, m *manifest.Manifest) {
		t.Helper()
		app, _ := m.Database("app")
		for _, tb := range app.Tables {
			if tb.Name == "orders" && tb.Rows == 5000 {
				return
			}
		}
		t.Errorf("the dump lacks the 5000 rows of orders: %+v", app.Tables)
	}

	t.Run("standby without hot_standby_feedback", func(t *testing.T) {
		run, m := backup(t, map[string]string{"PGHOST": "standby"})
		if m == nil {
			t.Fatalf("backup failed: exit %d result %+v\n%s", run.ExitCode, run.Result, run.Output)
		}
		if !m.Server.Standby || !warned(run) {
			t.Errorf("server %+v, warnings %q: want standby and the hot_standby_feedback warning", m.Server, run.Result.Warnings)
		}
		wantOrders(t, m)
	})
	t.Run("standby with hot_standby_feedback", func(t *testing.T) {
		conn := sb.Connect(t, "postgres")
		for _, q := range []string{"ALTER SYSTEM SET hot_standby_feedback = on", "SELECT pg_reload_conf()"} {
			if _, err := conn.Exec(context.Background(), q); err != nil {
				t.Fatal(err)
			}
		}
		run, m := backup(t, map[string]string{"PGHOST": "standby"})
		if m == nil {
			t.Fatalf("backup failed: exit %d result %+v\n%s", run.ExitCode, run.Result, run.Output)
		}
		if !m.Server.Standby || warned(run) {
			t.Errorf("server %+v, warnings %q: want standby and no warning", m.Server, run.Result.Warnings)
		}
	})
	t.Run("prefer-standby finds the standby", func(t *testing.T) {
		run, m := backup(t, map[string]string{"PGHOST": "pg,standby", "PGTARGETSESSIONATTRS": "prefer-standby"})
		if m == nil || !m.Server.Standby {
			t.Fatalf("want a backup read from the standby: exit %d result %+v\n%s", run.ExitCode, run.Result, run.Output)
		}
		wantOrders(t, m)
	})
	t.Run("prefer-standby without a standby takes the primary", func(t *testing.T) {
		run, m := backup(t, map[string]string{"PGHOST": "no-replica-here,pg", "PGTARGETSESSIONATTRS": "prefer-standby"})
		if m == nil || m.Server.Standby {
			t.Fatalf("want a backup read from the primary: exit %d result %+v\n%s", run.ExitCode, run.Result, run.Output)
		}
	})
	t.Run("standby without a standby fails", func(t *testing.T) {
		run, _ := backup(t, map[string]string{"PGHOST": "pg", "PGTARGETSESSIONATTRS": "standby"})
		expectFailure(t, run, 3, result.ReasonConnectionFailed, "no server is what target_session_attrs=standby asks for")
	})
}
