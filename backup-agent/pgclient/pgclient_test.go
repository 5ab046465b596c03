package pgclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgbackup/pgbackup/backup-agent/result"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		wantReason result.Reason
		wantText   string
	}{
		{"bad password", &pgconn.PgError{Code: "28P01", Message: `password authentication failed for user "app"`}, result.ReasonAuthFailed, "authentication refused"},
		{"no pg_hba entry", &pgconn.PgError{Code: "28000", Message: "no pg_hba.conf entry"}, result.ReasonAuthFailed, "check the user, the password or the client certificate"},
		{"missing database", &pgconn.PgError{Code: "3D000", Message: `database "nope" does not exist`}, result.ReasonConfigInvalid, `database "nope" does not exist`},
		{"too many connections", &pgconn.PgError{Code: "53300", Message: "too many clients"}, result.ReasonConnectionFailed, "not accepting connections"},
		{"starting up", &pgconn.PgError{Code: "57P03", Message: "the database system is starting up"}, result.ReasonConnectionFailed, "not accepting connections"},
		{"refused", fmt.Errorf("dial: %w", errors.New("connect: connection refused")), result.ReasonConnectionFailed, "unreachable"},
		{"cancelled", context.Canceled, result.ReasonInterrupted, ""},
		{"no standby", fmt.Errorf("ValidateConnect failed: %w", pgconn.ErrPrimaryConnection), result.ReasonConnectionFailed, "no server is what target_session_attrs="},
		{"untrusted certificate", fmt.Errorf("tls: %w", &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}), result.ReasonConnectionFailed, "TLS certificate is not trusted"},
		{"certificate for another host", fmt.Errorf("tls: %w", x509.HostnameError{Certificate: &x509.Certificate{}, Host: "db.example"}), result.ReasonConnectionFailed, `names the host "db.example"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Classify(tt.err, "db.example", 5432, "app")
			if got := result.ReasonOf(err); got != tt.wantReason {
				t.Fatalf("reason = %s, want %s (%v)", got, tt.wantReason, err)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Fatalf("message %q lacks %q", err.Error(), tt.wantText)
			}
			if tt.wantReason != result.ReasonInterrupted && !strings.Contains(err.Error(), `db.example:5432 as "app"`) {
				t.Fatalf("message %q does not name the server and user", err.Error())
			}
		})
	}
}

func TestSelect(t *testing.T) {
	all := []Database{{"app", 10}, {"orders", 20}, {"postgres", 5}}
	tests := []struct {
		name      string
		requested []string
		want      []string
		wantErr   string
	}{
		{"all by default", nil, []string{"app", "orders", "postgres"}, ""},
		{"requested order", []string{"postgres", "app"}, []string{"postgres", "app"}, ""},
		{"duplicates once", []string{"app", "app"}, []string{"app"}, ""},
		{"missing named", []string{"app", "nope", "gone"}, nil, `["nope" "gone"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Select(all, tt.requested)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || result.ExitCode(err) != result.ExitConfig {
					t.Fatalf("err = %v, want exit 2 naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, d := range got {
				names = append(names, d.Name)
			}
			if !reflect.DeepEqual(names, tt.want) {
				t.Fatalf("Select = %v, want %v", names, tt.want)
			}
		})
	}
}

func TestConnectBadStringHidesPassword(t *testing.T) {
	for _, conn := range []string{
		"postgres://app:hunter2@db:notaport/app",
		"host=db password=hunter2 port=notaport",
	} {
		_, err := Connect(context.Background(), logr.Discard(), Options{ConnString: conn})
		if result.ExitCode(err) != result.ExitConfig {
			t.Errorf("%q: err %v, want ConfigInvalid", conn, err)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error %q repeats the password", err)
		}
	}
}
