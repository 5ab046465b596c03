package pgclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgbackup/pgbackup/backup-agent/result"
)

// DefaultConnectTimeout applies when PGCONNECT_TIMEOUT is not set.
const DefaultConnectTimeout = 10 * time.Second

// Options control Connect.
type Options struct {
	// ConnString is a libpq URL or keyword/value string; empty means the
	// libpq environment alone (which also fills what ConnString omits).
	ConnString string
	// Database overrides PGDATABASE when not empty.
	Database string
	// Retries is how many times a failed connection is retried (not a
	// refused login).
	Retries int
	// Backoff is the first wait between attempts; it doubles each time.
	Backoff time.Duration
}

// Connect opens a connection from the libpq environment, retrying
// connection failures with exponential backoff.
func Connect(ctx context.Context, log logr.Logger, opts Options) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(opts.ConnString)
	if err != nil {
		// pgx's parse errors can quote the string, password included.
		return nil, result.Errorf(result.ReasonConfigInvalid, "postgres connection settings are invalid: %s", redactParseError(err, opts.ConnString))
	}
	switch {
	case opts.Database != "":
		cfg.Database = opts.Database
	case opts.ConnString == "" && os.Getenv("PGDATABASE") == "":
		// libpq would try a database named like the user, which a backup
		// role seldom has; every cluster has "postgres".
		cfg.Database = "postgres"
	}
	if os.Getenv("PGCONNECT_TIMEOUT") == "" {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	cfg.RuntimeParams["application_name"] = "pgbackup"

	backoff := opts.Backoff
	if backoff <= 0 {
		backoff = time.Second
	}
	for attempt := 0; ; attempt++ {
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err == nil {
			return conn, nil
		}
		trust := untrusted(err) != nil
		err = Classify(err, cfg.Host, cfg.Port, cfg.User)
		// A certificate that is not trusted stays untrusted: no retry.
		if result.ReasonOf(err) != result.ReasonConnectionFailed || trust || attempt >= opts.Retries || ctx.Err() != nil {
			if ctx.Err() != nil {
				return nil, result.Wrap(result.ReasonInterrupted, ctx.Err())
			}
			return nil, err
		}
		log.Info("Connection to PostgreSQL failed, retrying", "attempt", attempt+1, "retries", opts.Retries, "wait", backoff.String(), "error", err.Error())
		select {
		case <-ctx.Done():
			return nil, result.Wrap(result.ReasonInterrupted, ctx.Err())
		case <-time.After(backoff):
		}
		backoff *= 2
	}
}

// SQLSTATE classes and codes that mean the login was refused.
const (
	codeInvalidPassword      = "28P01"
	codeInvalidAuthorization = "28000"
	codeInvalidCatalogName   = "3D000" // database does not exist
	codeTooManyConnections   = "53300"
	codeCannotConnectNow     = "57P03" // starting up, shutting down, recovery
)

// Classify turns a connection error into AuthFailed (the server refused the
// login: never retried), ConfigInvalid (the database does not exist) or
// ConnectionFailed (anything else: retried). The message names the server
// and user but never the password.
func Classify(err error, host string, port uint16, user string) error {
	where := fmt.Sprintf("postgres %s:%d as %q", host, port, user)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case codeInvalidPassword, codeInvalidAuthorization:
			return result.Errorf(result.ReasonAuthFailed, "%s: authentication refused: %s (check the user, the password or the client certificate)", where, pgErr.Message)
		case codeInvalidCatalogName:
			return result.Errorf(result.ReasonConfigInvalid, "%s: %s", where, pgErr.Message)
		case codeTooManyConnections, codeCannotConnectNow:
			return result.Errorf(result.ReasonConnectionFailed, "%s: server not accepting connections: %s", where, pgErr.Message)
		}
		return result.Errorf(result.ReasonConnectionFailed, "%s: %s (SQLSTATE %s)", where, pgErr.Message, pgErr.Code)
	}
	if errors.Is(err, context.Canceled) {
		return result.Wrap(result.ReasonInterrupted, err)
	}
	if errors.Is(err, pgconn.ErrPrimaryConnection) || errors.Is(err, pgconn.ErrStandbyConnection) || errors.Is(err, pgconn.ErrReadOnlyConnection) {
		return result.Errorf(result.ReasonConnectionFailed, "%s: no server is what target_session_attrs=%s asks for: %v (a clusterRef's target standby needs a ready replica; prefer-standby falls back to the primary)", where, os.Getenv("PGTARGETSESSIONATTRS"), unwrapConnect(err))
	}
	if terr := untrusted(err); terr != nil {
		return result.Errorf(result.ReasonConnectionFailed, "%s: the server's TLS certificate is not trusted: %v (check the CA in sslRootCertRef (PGSSLROOTCERT), and that the certificate names the host %q for verify-full)", where, terr, host)
	}
	return result.Errorf(result.ReasonConnectionFailed, "%s: unreachable: %w", where, unwrapConnect(err))
}

// untrusted returns the certificate verification error inside err, if
// the connection failed because the server's certificate was not trusted.
func untrusted(err error) error {
	var verr *tls.CertificateVerificationError
	if errors.As(err, &verr) {
		return verr.Err
	}
	var (
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
	)
	switch {
	case errors.As(err, &unknown):
		return unknown
	case errors.As(err, &hostname):
		return hostname
	case errors.As(err, &invalid):
		return invalid
	}
	return nil
}

// unwrapConnect drops pgconn's "failed to connect to `user=... database=...`"
// preamble, which repeats what the message already says.
func unwrapConnect(err error) error {
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) && ce.Unwrap() != nil {
		return ce.Unwrap()
	}
	return err
}

// ServerVersion is the server's version as PostgreSQL reports it.
type ServerVersion struct {
	// Version is server_version, e.g. "17.2" or "15.18 (Debian 15.18-0+deb12u1)".
	Version string
	// Num is server_version_num, e.g. 170002.
	Num int
	// Standby is set when the server is a hot standby (in recovery).
	Standby bool
	// HotStandbyFeedback and MaxStandbyStreamingDelay are the standby's
	// settings that decide whether a long query survives a recovery
	// conflict.
	HotStandbyFeedback       bool
	MaxStandbyStreamingDelay string
}

// Major is the major version (15, 17, ...).
func (v ServerVersion) Major() int { return v.Num / 10000 }

// Server reads the server's version, and whether it is a standby.
func Server(ctx context.Context, conn *pgx.Conn) (ServerVersion, error) {
	var v ServerVersion
	err := conn.QueryRow(ctx, `SELECT current_setting('server_version'), current_setting('server_version_num')::int,
		pg_is_in_recovery(), current_setting('hot_standby_feedback') = 'on', current_setting('max_standby_streaming_delay')`).
		Scan(&v.Version, &v.Num, &v.Standby, &v.HotStandbyFeedback, &v.MaxStandbyStreamingDelay)
	if err != nil {
		return v, result.Errorf(result.ReasonConnectionFailed, "read server version: %w", err)
	}
	return v, nil
}

// Superuser reports whether the connected role is a superuser.
func Superuser(ctx context.Context, conn *pgx.Conn) (bool, error) {
	var super bool
	if err := conn.QueryRow(ctx, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user").Scan(&super); err != nil {
		return false, result.Errorf(result.ReasonConnectionFailed, "read role attributes: %w", err)
	}
	return super, nil
}

// Database is a database on the server.
type Database struct {
	Name string
	// Size is pg_database_size in bytes: an estimate of the raw dump size.
	Size int64
}

// Databases lists the databases a default backup covers: every database
// that allows connections and is not a template, ordered by name. The size
// is -1 when the role may not read it.
func Databases(ctx context.Context, conn *pgx.Conn) ([]Database, error) {
	rows, err := conn.Query(ctx, `
		SELECT datname,
		       CASE WHEN has_database_privilege(datname, 'CONNECT') THEN pg_database_size(datname) ELSE -1 END
		FROM pg_database
		WHERE datallowconn AND NOT datistemplate
		ORDER BY datname`)
	if err != nil {
		return nil, result.Errorf(result.ReasonConnectionFailed, "list databases: %w", err)
	}
	dbs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Database, error) {
		var d Database
		err := r.Scan(&d.Name, &d.Size)
		return d, err
	})
	if err != nil {
		return nil, result.Errorf(result.ReasonConnectionFailed, "list databases: %w", err)
	}
	return dbs, nil
}

// Select picks the requested databases from all, in the order requested.
// An empty request selects all. Missing names are one ConfigInvalid error
// naming every one of them.
func Select(all []Database, requested []string) ([]Database, error) {
	if len(requested) == 0 {
		return all, nil
	}
	byName := make(map[string]Database, len(all))
	for _, d := range all {
		byName[d.Name] = d
	}
	var picked []Database
	var missing []string
	seen := map[string]bool{}
	for _, name := range requested {
		if seen[name] {
			continue
		}
		seen[name] = true
		d, ok := byName[name]
		if !ok {
			missing = append(missing, name)
			continue
		}
		picked = append(picked, d)
	}
	if len(missing) > 0 {
		return nil, result.Errorf(result.ReasonConfigInvalid,
			"databases not found or not connectable on the server: %q (check --databases)", missing)
	}
	return picked, nil
}

// redactParseError describes a connection string parse error without the
// string itself, which may hold a password.
func redactParseError(err error, conn string) string {
	var pe *pgconn.ParseConfigError
	if errors.As(err, &pe) && pe.Unwrap() != nil {
		err = pe.Unwrap()
	}
	msg := err.Error()
	if conn != "" {
		msg = strings.ReplaceAll(msg, conn, "<connection string>")
	}
	return msg
}
