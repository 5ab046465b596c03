package builder

import (
	"strings"

	"github.com/pgbackup/pgbackup/controller/api/v1alpha1"
)

// ClusterFacts is what the reconciler read of a clusterRef's cluster
// resource, for one build.
type ClusterFacts struct {
	// CASecret is the Secret holding (as ca.crt) the CA that issued a
	// CloudNativePG cluster's server certificate: its
	// spec.certificates.serverCASecret, or <name>-ca when empty.
	CASecret string
}

// connection is how the agent reaches PostgreSQL: libpq's host list and
// target_session_attrs, the login (plain or from a Secret's keys), and TLS.
type connection struct {
	hosts       []string
	targetAttrs string
	port        int32
	// user is a plain user name; userFrom and passwordFrom are Secret
	// keys (a clusterRef's credentials Secret, or passwordSecretRef).
	user                   string
	userFrom, passwordFrom *v1alpha1.SecretKeyRef
	sslMode                v1alpha1.SSLMode
	rootCert               *v1alpha1.CertificateRef
}

// The keys of the operators' credentials Secrets (both are
// kubernetes.io/basic-auth style).
const (
	clusterUserKey     = "username"
	clusterPasswordKey = "password"
)

// resolveConnection follows spec.postgres: host and user as given, or a
// clusterRef by its operator's documented conventions. Explicit sslMode
// and sslRootCertRef always win over a cluster's defaults.
//
// CloudNativePG: services <name>-rw (the primary), <name>-ro (replicas),
// credentials Secret <name>-app or <name>-superuser, server certificates
// issued by the CA in <name>-ca (or spec.certificates.serverCASecret) for
// the services' names, so verify-full is the default.
//
// Zalando: services <name> (the primary) and <name>-repl (replicas),
// credentials Secret <user>.<name>.credentials.postgresql.acid.zalan.do
// (underscores of the user become dashes), self-signed certificates by
// default, so require is the default.
//
// target standby connects to the replicas' service and insists on a
// standby; prefer-standby lists the replicas' service first and the
// primary's second, and libpq (prefer-standby) takes the first standby
// that answers, or the primary.
func resolveConnection(pb *v1alpha1.PostgresBackup, facts ClusterFacts) connection {
	pg := &pb.Spec.Postgres
	c := connection{port: pg.Port, sslMode: pg.SSLMode, rootCert: pg.SSLRootCertRef}
	ref := pg.ClusterRef
	if ref == nil {
		c.hosts, c.user, c.passwordFrom = []string{pg.Host}, pg.User, pg.PasswordSecretRef
		return c
	}
	var primary, replicas, secret string
	var defaultMode v1alpha1.SSLMode
	switch ref.Kind {
	case v1alpha1.ClusterZalando:
		primary, replicas = ref.Name, ref.Name+"-repl"
		user := ref.User
		if user == "" {
			user = "postgres"
		}
		secret = strings.ReplaceAll(user, "_", "-") + "." + ref.Name + ".credentials.postgresql.acid.zalan.do"
		defaultMode = "require"
	default: // v1alpha1.ClusterCNPG
		primary, replicas = ref.Name+"-rw", ref.Name+"-ro"
		secret = ref.Name + "-app"
		if ref.Credentials == "superuser" {
			secret = ref.Name + "-superuser"
		}
		defaultMode = "verify-full"
		if c.rootCert == nil && (c.sslMode == "" || c.sslMode == "verify-ca" || c.sslMode == "verify-full") {
			ca := facts.CASecret
			if ca == "" {
				ca = ref.Name + "-ca"
			}
			c.rootCert = &v1alpha1.CertificateRef{SecretKeyRef: &v1alpha1.SecretKeyRef{Name: ca, Key: caFile}}
		}
	}
	if c.sslMode == "" {
		c.sslMode = defaultMode
	}
	switch pg.Target {
	case v1alpha1.TargetStandby:
		c.hosts, c.targetAttrs = []string{replicas}, "standby"
	case v1alpha1.TargetPreferStandby:
		c.hosts, c.targetAttrs = []string{replicas, primary}, "prefer-standby"
	default:
		c.hosts, c.targetAttrs = []string{primary}, "primary"
	}
	c.userFrom = &v1alpha1.SecretKeyRef{Name: secret, Key: clusterUserKey}
	c.passwordFrom = &v1alpha1.SecretKeyRef{Name: secret, Key: clusterPasswordKey}
	return c
}
