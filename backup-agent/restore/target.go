package restore

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"unicode"

	"github.com/pgbackup/pgbackup/backup-agent/result"
)

// secretParams are the libpq parameters of a --target URL's query that
// carry a secret (passfile names a file of passwords).
var secretParams = []string{"password", "passfile", "sslpassword"}

// redactedMark stands in for a secret wherever the target is shown.
const redactedMark = "xxxxx"

// serviceName is the group of the private service file that hands
// sslpassword to the client programs (see target.toolEnv).
const serviceName = "pgbackup-restore"

// target is the database to restore into. Its secrets are taken out of
// the URL when it is parsed, so that nothing shown (plan, logs, errors)
// and nothing put on a command line can carry them by accident: String
// is the redacted form, conninfo the one without secrets, and only
// connString, for connections made by this process, has them all.
type target struct {
	full *url.URL // as given: pgx connections in this process only
	bare *url.URL // without any secret: command lines
	// shown is the URL with every secret replaced by redactedMark.
	shown string
	// db is the database to restore into.
	db string
	// password, passfile and sslpassword are the secrets given in the
	// URL (password from the query, else from the userinfo).
	password, passfile, sslpassword string
}

// parseTarget checks the --target URL. Errors show it only redacted.
func parseTarget(v string) (target, error) {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return target{}, fmt.Errorf("--target must be a postgres:// URL naming the database to restore into")
	}
	t := target{full: u, db: strings.TrimPrefix(u.Path, "/")}
	if err := t.split(); err != nil {
		return target{}, err
	}
	if t.db == "" || strings.Contains(t.db, "/") {
		return target{}, fmt.Errorf("--target %s names no database: add /DBNAME", t)
	}
	return t, nil
}

// split fills bare, shown and the secrets from full.
func (t *target) split() error {
	bare, shown := *t.full, *t.full
	q, shownQ := t.full.Query(), t.full.Query()
	if t.full.User != nil {
		bare.User = url.User(t.full.User.Username())
		if pw, ok := t.full.User.Password(); ok {
			t.password = pw
			shown.User = url.UserPassword(t.full.User.Username(), redactedMark)
		}
	}
	found := map[string]*string{"password": &t.password, "passfile": &t.passfile, "sslpassword": &t.sslpassword}
	for _, k := range secretParams {
		vs, ok := q[k]
		if !ok {
			continue
		}
		// libpq keeps the last of repeated parameters, pgx the first:
		// refuse the ambiguity instead of guessing.
		if len(vs) != 1 {
			return fmt.Errorf("--target gives %s %d times: give it once", k, len(vs))
		}
		*found[k] = vs[0]
		q.Del(k)
		shownQ.Set(k, redactedMark)
	}
	bare.RawQuery, shown.RawQuery = q.Encode(), shownQ.Encode()
	if t.full.RawQuery == "" {
		bare.RawQuery, shown.RawQuery = "", ""
	}
	t.bare = &bare
	// url.URL.String escapes the mark's userinfo as it is: nothing to undo.
	t.shown = shown.String()
	if t.sslpassword != "" {
		return t.checkServiceFile()
	}
	return nil
}

// checkServiceFile refuses what the private service file cannot carry.
func (t *target) checkServiceFile() error {
	if t.full.Query().Has("service") || os.Getenv("PGSERVICE") != "" {
		return fmt.Errorf("--target: sslpassword cannot be combined with a libpq service (service= or PGSERVICE): put sslpassword in that service's file instead")
	}
	// A service file line is "key=value" with trailing white space cut.
	if strings.ContainsFunc(t.sslpassword, unicode.IsControl) || strings.TrimRightFunc(t.sslpassword, unicode.IsSpace) != t.sslpassword {
		return fmt.Errorf("--target: sslpassword holds control characters or ends in white space, which libpq's service file cannot carry")
	}
	return nil
}

// String is the target with its secrets redacted, fit for plans, logs and
// errors.
func (t target) String() string { return t.shown }

// connString is the complete URL, secrets included, for connections this
// process makes (pgx reads every libpq parameter, secrets too). It must
// never be shown.
func (t target) connString() string { return t.full.String() }

// conninfo is the target as a libpq URL for a command line: without its
// secrets, pointed at database db.
func (t target) conninfo(db string) string {
	u := *t.bare
	u.Path = "/" + db
	u.RawPath = ""
	return u.String()
}

// toolEnv is the environment of a client program connecting to the
// target: the agent's own, plus the target's secrets where libpq reads
// them. password goes in PGPASSWORD and passfile in PGPASSFILE. libpq has
// no variable for sslpassword, and a command line is visible to every
// user of the machine (ps, /proc), so it goes in a service file that
// only this user can read (a 0600 file in a 0700 directory under dir),
// named by PGSERVICEFILE and selected with PGSERVICE: libpq takes from a
// service the parameters the connection string leaves unset. The
// returned cleanup removes the file; call it once the program has exited.
func (t target) toolEnv(dir string) (env []string, cleanup func(), err error) {
	env = toolBaseEnv(os.Environ())
	if t.password != "" {
		env = append(env, "PGPASSWORD="+t.password)
	}
	if t.passfile != "" {
		env = append(env, "PGPASSFILE="+t.passfile)
	}
	if t.sslpassword == "" {
		return env, func() {}, nil
	}
	private, err := os.MkdirTemp(dir, "pgbackup-libpq-")
	if err != nil {
		return nil, nil, result.Errorf(result.ReasonConfigInvalid, "create the private service file for sslpassword: %w", err)
	}
	cleanup = func() { _ = os.RemoveAll(private) }
	path := filepath.Join(private, "pg_service.conf")
	body := "[" + serviceName + "]\nsslpassword=" + t.sslpassword + "\n"
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		cleanup()
		return nil, nil, result.Errorf(result.ReasonConfigInvalid, "write the private service file for sslpassword: %w", err)
	}
	return append(env, "PGSERVICEFILE="+path, "PGSERVICE="+serviceName), cleanup, nil
}

// toolBaseEnv is the agent's environment without what the client
// programs must not inherit: the agent's own settings (PGBACKUP_TARGET may
// carry the target URL, secrets and all) and the S3 credentials. libpq's
// variables (PGHOST, PGSSLMODE, ...) stay: they fill what the URL omits.
func toolBaseEnv(environ []string) []string {
	var env []string
	for _, kv := range environ {
		if !strings.HasPrefix(kv, "PGBACKUP_") && !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	return env
}
