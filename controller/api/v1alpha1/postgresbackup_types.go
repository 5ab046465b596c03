package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// BackupFormat is pg_dump's output format.
// +kubebuilder:validation:Enum=custom;directory;plain
type BackupFormat string

// The formats of the agent's --format flag.
const (
	FormatCustom    BackupFormat = "custom"
	FormatDirectory BackupFormat = "directory"
	FormatPlain     BackupFormat = "plain"
)

// SSLMode is libpq's sslmode.
// +kubebuilder:validation:Enum=disable;allow;prefer;require;verify-ca;verify-full
type SSLMode string

// PostgresBackupSpec is the desired schedule and configuration of the backups.
// +kubebuilder:validation:XValidation:rule="!has(self.notify) || !has(self.notify.webhook) || !has(self.notify.webhook.events) || !('stale' in self.notify.webhook.events) || has(self.maxAge)",message="notify.webhook.events stale needs maxAge (the age after which backups are stale)"
type PostgresBackupSpec struct {
	// schedule is when backups run: a five-field cron expression
	// ("0 3 * * *") or a macro such as "@daily". Kubernetes CronJobs have no
	// seconds field.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	Schedule string `json:"schedule"`

	// timeZone is the IANA time zone the schedule is read in (for example
	// "Europe/Berlin"); the kube-controller-manager's zone when unset.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	TimeZone *string `json:"timeZone,omitempty"`

	// suspend stops new runs; a running backup is not interrupted.
	// Verification has its own, verify.suspend.
	// +optional
	// +kubebuilder:default=false
	Suspend *bool `json:"suspend,omitempty"`

	// postgres is the server to back up.
	// +required
	Postgres PostgresSpec `json:"postgres"`

	// destination is where the backups go.
	// +required
	Destination DestinationSpec `json:"destination"`

	// format is pg_dump's output format.
	// +optional
	// +kubebuilder:default=custom
	Format BackupFormat `json:"format,omitempty"`

	// compression is zstd[:LEVEL], gzip[:LEVEL] or none. The default,
	// zstd:1, costs a third to a half of zstd:3's CPU and stores 2-17% more
	// or less depending on the data (docs/bench.md).
	// +optional
	// +kubebuilder:default="zstd:1"
	// +kubebuilder:validation:Pattern=`^(zstd(:[0-9]{1,2})?|gzip(:[0-9])?|none)$`
	Compression string `json:"compression,omitempty"`

	// encryption encrypts every object with age before it is uploaded.
	// +optional
	Encryption *EncryptionSpec `json:"encryption,omitempty"`

	// retention says which backups to keep; applied only after a fully
	// successful run. Nothing is deleted when unset.
	// +optional
	Retention *RetentionSpec `json:"retention,omitempty"`

	// storage is the spool volume (for the directory format and local
	// copies). An emptyDir is used when unset.
	// +optional
	Storage *StorageSpec `json:"storage,omitempty"`

	// startingDeadlineSeconds is how late a missed run may still start.
	// +optional
	// +kubebuilder:default=300
	// +kubebuilder:validation:Minimum=0
	StartingDeadlineSeconds *int64 `json:"startingDeadlineSeconds,omitempty"`

	// successfulJobsHistoryLimit is how many finished successful Jobs the
	// CronJob keeps. 0 is read as 1: the controller reads a run's result
	// from its Job's pod, so the newest one must outlive a controller that
	// was down when it finished.
	// +optional
	// +kubebuilder:default=3
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	SuccessfulJobsHistoryLimit *int32 `json:"successfulJobsHistoryLimit,omitempty"`

	// failedJobsHistoryLimit is how many failed Jobs the CronJob keeps. 0 is
	// read as 1: a failed Job deleted before the controller read it would be
	// a failure nobody sees, so the newest failure is always kept.
	// +optional
	// +kubebuilder:default=3
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	FailedJobsHistoryLimit *int32 `json:"failedJobsHistoryLimit,omitempty"`

	// backoffLimit is how often a failed run is retried. Failures a retry
	// cannot fix (invalid configuration, a refused safety rail) are never
	// retried.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=10
	BackoffLimit *int32 `json:"backoffLimit,omitempty"`

	// activeDeadlineSeconds bounds how long a run may take, retries included:
	// then the Job is failed (reason DeadlineExceeded) and the next run may
	// start. 21600 (6 hours) when unset, so that one hung run cannot block
	// every later one (the CronJob's concurrencyPolicy is Forbid).
	// +optional
	// +kubebuilder:default=21600
	// +kubebuilder:validation:Minimum=1
	ActiveDeadlineSeconds *int64 `json:"activeDeadlineSeconds,omitempty"`

	// runningTooLongSeconds is how long a run may take before the
	// BackupRunning condition says RunningTooLong and the alert fires, ahead
	// of the deadline. 80% of the effective activeDeadlineSeconds when
	// unset (17280 with the default deadline).
	// +optional
	// +kubebuilder:validation:Minimum=1
	RunningTooLongSeconds *int64 `json:"runningTooLongSeconds,omitempty"`

	// lockWaitTimeout is pg_dump's --lock-wait-timeout: how long the dump
	// waits for each table's shared lock (a session holding ACCESS
	// EXCLUSIVE blocks it) before the run fails with DumpFailed. The agent's
	// default (5m) when unset; "0s" waits until the run's deadline.
	// +optional
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('0s')",message="lockWaitTimeout must not be negative"
	LockWaitTimeout *metav1.Duration `json:"lockWaitTimeout,omitempty"`

	// maxAge is the recovery point objective: the BackupStale condition turns
	// True when no backup succeeded for this long (for example "26h").
	// +optional
	MaxAge *metav1.Duration `json:"maxAge,omitempty"`

	// resources of the agent container; modest requests when unset.
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`

	// podTemplate adjusts the agent's pod.
	// +optional
	PodTemplate *PodTemplateOverrides `json:"podTemplate,omitempty"`

	// verify schedules restore verification: a second CronJob
	// (<cronJobName>-verify, concurrencyPolicy Forbid) restores the newest
	// backup into a scratch PostgreSQL server inside its own pod, compares
	// every table's row count with the manifest, runs amcheck and the
	// checks below, and reports in the Verified condition. No verification
	// when unset.
	// +optional
	Verify *VerifySpec `json:"verify,omitempty"`

	// notify tells the outside world how each backup run ended: a webhook
	// receives the run's result as JSON, and a heartbeat URL is pinged
	// after every success. The agent sends both; a notification that
	// fails is a warning in the run's result, never a failed backup. The
	// URLs come from Secrets, which the controller never reads.
	// +optional
	Notify *NotifySpec `json:"notify,omitempty"`
}

// NotifySpec configures the notifications of backup runs.
// +kubebuilder:validation:XValidation:rule="has(self.webhook) || has(self.heartbeatSecretRef)",message="notify needs a webhook or a heartbeatSecretRef"
type NotifySpec struct {
	// webhook receives a POST with the run's result as JSON
	// ({"event", "source", "destination", "result"}) when a run ends as
	// its events say.
	// +optional
	Webhook *WebhookSpec `json:"webhook,omitempty"`

	// heartbeatSecretRef is the Secret key holding a URL the agent pings
	// (GET) after every successful run, for a heartbeat service
	// (healthchecks.io, Cronitor, Uptime Kuma push) that raises the alarm
	// when the pings stop: backups failing, and also no run starting at
	// all. It reaches the agent as PGBACKUP_HEARTBEAT_URL.
	// +optional
	HeartbeatSecretRef *SecretKeyRef `json:"heartbeatSecretRef,omitempty"`
}

// WebhookSpec is where the results of backup runs are POSTed.
type WebhookSpec struct {
	// urlSecretRef is the Secret key holding the webhook's URL (it usually
	// carries a token). It reaches the agent as PGBACKUP_NOTIFY_URL.
	// +required
	URLSecretRef SecretKeyRef `json:"urlSecretRef"`

	// events are what the webhook is told about; [failed] when empty.
	// failed and succeeded: a run ended so (the run sends them). stale: no
	// backup succeeded within maxAge (needs maxAge); when BackupStale turns
	// True the controller starts a one-shot Job (<cronJobName>-stale-<hash>)
	// that sends it, once per stale spell.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=3
	Events []NotifyEvent `json:"events,omitempty"`
}

// NotifyEvent is what a webhook can be told about.
// +kubebuilder:validation:Enum=failed;succeeded;stale
type NotifyEvent string

// The events a webhook can be told about.
const (
	NotifyFailed    NotifyEvent = "failed"
	NotifySucceeded NotifyEvent = "succeeded"
	NotifyStale     NotifyEvent = "stale"
)

// VerifySpec configures scheduled restore verification.
// +kubebuilder:validation:XValidation:rule="!has(self.storage) || !has(self.storage.storageClassName) || has(self.storage.size)",message="verify.storage.storageClassName needs verify.storage.size"
// +kubebuilder:validation:XValidation:rule="has(self.schedule) != has(self.everyNth)",message="set exactly one of verify.schedule and verify.everyNth"
type VerifySpec struct {
	// schedule is when verifications run, read in spec.timeZone: a
	// five-field cron expression ("0 6 * * 0") or a macro such as
	// "@weekly". Each run verifies the newest complete backup. Exactly one
	// of schedule and everyNth.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	Schedule string `json:"schedule,omitempty"`

	// everyNth verifies right after every Nth successful backup run (1:
	// after each one), exactly the backup that run made. The controller
	// starts the verification Job from the verify CronJob, which is then
	// suspended and only serves as its template. Runs missed while the
	// controller was down are caught up with the newest backup only.
	// Exactly one of schedule and everyNth.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10
	EveryNth *int32 `json:"everyNth,omitempty"`

	// suspend stops new verification runs; backups go on.
	// +optional
	Suspend *bool `json:"suspend,omitempty"`

	// postgresImage is the image of the scratch PostgreSQL server (the
	// official postgres image or one that behaves like it: its entrypoint
	// initialises PGDATA and honours POSTGRES_HOST_AUTH_METHOD). Unset: the
	// controller's --verify-postgres-image-template (postgres:{major}) with
	// the major of the server the last successful backup came from (18
	// before one is known). The server must be of that major or newer.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	PostgresImage string `json:"postgresImage,omitempty"`

	// resources of the scratch PostgreSQL container; none when unset. The
	// verify agent container has spec.resources, like the backup agent.
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`

	// storage is the scratch volume holding the restored databases and the
	// downloaded dumps: an emptyDir (limited to size when set) unless
	// storageClassName is set, then a generic ephemeral volume (a PVC that
	// lives as long as the pod) of size in that class.
	// +optional
	Storage *VerifyStorageSpec `json:"storage,omitempty"`

	// checks are SQL queries the agent runs against the restored databases
	// after the restore; each must return one row whose first column is
	// true, or the run fails with VerificationFailed. They run as the scratch server's
	// superuser on a throwaway copy, never on the backed-up server.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=32
	Checks []VerifyCheck `json:"checks,omitempty"`

	// maxAge is how old the last successful verification may be before the
	// Verified condition turns False (VerificationStale) and the
	// PgBackupUnverified alert fires; also how long verification may stay
	// enabled without any success. 8 days (192h) when unset, which fits a
	// weekly schedule; set it to fit yours.
	// +optional
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="verify.maxAge must be positive"
	MaxAge *metav1.Duration `json:"maxAge,omitempty"`

	// ageIdentitySecretRef is the Secret key holding the age identity
	// (AGE-SECRET-KEY-1...) that decrypts the backups; required when
	// spec.encryption is set. It is mounted read-only into the verify pod
	// only: the backup pods never see a private key.
	// +optional
	AgeIdentitySecretRef *SecretKeyRef `json:"ageIdentitySecretRef,omitempty"`

	// activeDeadlineSeconds bounds a verification run; 21600 (6 hours) when
	// unset.
	// +optional
	// +kubebuilder:default=21600
	// +kubebuilder:validation:Minimum=1
	ActiveDeadlineSeconds *int64 `json:"activeDeadlineSeconds,omitempty"`
}

// VerifyStorageSpec is the scratch volume of verification runs.
type VerifyStorageSpec struct {
	// size of the volume: the emptyDir's sizeLimit, or the ephemeral
	// volume's request. Room for the restored databases (their size on
	// disk, indexes included) and, for parallel restores, the dumps.
	// +optional
	Size *resource.Quantity `json:"size,omitempty"`

	// storageClassName makes the volume a generic ephemeral volume of this
	// storage class instead of an emptyDir; needs size.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	StorageClassName *string `json:"storageClassName,omitempty"`
}

// VerifyCheck is a SQL check run against a restored database.
type VerifyCheck struct {
	// name identifies the check in results and events.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`

	// database the check runs in (a database of the backup).
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Database string `json:"database"`

	// sql is the query, for example
	// "SELECT count(*) > 0 FROM orders WHERE created_at > now() - interval '2 days'".
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=4096
	SQL string `json:"sql"`
}

// PostgresSpec says how to reach PostgreSQL, and what to dump.
// +kubebuilder:validation:XValidation:rule="!has(self.excludeDatabases) || !has(self.databases) || self.excludeDatabases.all(d, !(d in self.databases))",message="a database is in both databases and excludeDatabases; name it in one of them"
// +kubebuilder:validation:XValidation:rule="has(self.host) != has(self.clusterRef)",message="set exactly one of host and clusterRef"
// +kubebuilder:validation:XValidation:rule="has(self.clusterRef) || has(self.user)",message="user is required with host"
// +kubebuilder:validation:XValidation:rule="!has(self.clusterRef) || (!has(self.user) && !has(self.passwordSecretRef))",message="with clusterRef, the user and password come from the cluster's credentials Secret: leave user and passwordSecretRef unset"
// +kubebuilder:validation:XValidation:rule="!has(self.target) || has(self.clusterRef)",message="target needs clusterRef (with host, name the server to dump)"
// +kubebuilder:validation:XValidation:rule="!has(self.sslRootCertRef) || (has(self.sslMode) && self.sslMode in ['verify-ca', 'verify-full'])",message="sslRootCertRef needs sslMode verify-ca or verify-full (other modes do not check the certificate)"
// +kubebuilder:validation:XValidation:rule="!has(self.sslClientCertSecretRef) || !has(self.sslMode) || self.sslMode != 'disable'",message="sslClientCertSecretRef needs TLS: sslMode must not be disable"
type PostgresSpec struct {
	// host is the server's host name or address. Set host, or clusterRef.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Host string `json:"host,omitempty"`

	// clusterRef backs up a cluster of a PostgreSQL operator in the same
	// namespace, reached by that operator's conventions: its services for
	// host (by target), its credentials Secret for user and password,
	// and, for CloudNativePG, its CA for verify-full. Set host, or
	// clusterRef.
	// +optional
	ClusterRef *ClusterRef `json:"clusterRef,omitempty"`

	// target is which server of a clusterRef's cluster is dumped:
	// primary (the default), standby (a replica; the run fails when none
	// is ready), or prefer-standby (a replica when one answers, else the
	// primary). Dumping from a standby keeps the load off the primary;
	// the run warns when the standby lacks hot_standby_feedback, without
	// which recovery may cancel a long dump.
	// +optional
	// +kubebuilder:validation:Enum=primary;prefer-standby;standby
	Target ClusterTarget `json:"target,omitempty"`

	// port is the server's port.
	// +optional
	// +kubebuilder:default=5432
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port,omitempty"`

	// user is the role the agent logs in as. Required with host; with
	// clusterRef it comes from the cluster's credentials Secret.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	User string `json:"user,omitempty"`

	// databases to dump; every connectable non-template database when empty.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=63
	Databases []string `json:"databases,omitempty"`

	// excludeDatabases are never dumped: exact names, applied after
	// databases (so with databases empty: every connectable non-template
	// database but these). Recorded in the manifest's excludedDatabases.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=63
	// +kubebuilder:validation:items:Pattern=`^[^,]+$`
	ExcludeDatabases []string `json:"excludeDatabases,omitempty"`

	// filters narrow what is dumped of each database: schemas to dump
	// only, schemas and tables to leave out, tables whose rows are left
	// out. A filter without a database applies to every dumped database.
	// Patterns are pg_dump's: * and ? match, "..." quotes, schema.table
	// qualifies. A schemas pattern that matches nothing fails the run
	// (pg_dump --strict-names) rather than store an empty backup. What
	// each database's dump was narrowed by is recorded in the manifest.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	Filters []DumpFilter `json:"filters,omitempty"`

	// pgDumpExtraArgs are added to every database's pg_dump: long options
	// from an allow-list (--no-owner, --no-privileges, --no-comments,
	// --no-publications, --no-subscriptions, --no-security-labels,
	// --no-tablespaces, --no-toast-compression, --no-table-access-method,
	// --no-unlogged-table-data, --no-blobs, --blobs, --no-large-objects,
	// --large-objects, --no-policies, --no-statistics, --statistics,
	// --quote-all-identifiers, --serializable-deferrable,
	// --enable-row-security, --load-via-partition-root,
	// --use-set-session-authorization, --disable-dollar-quoting,
	// --extension=P, --exclude-extension=P, --include-foreign-data=P).
	// Options that change the output's format or completeness, or the
	// connection, are refused. Recorded in the manifest.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=1100
	// +kubebuilder:validation:XValidation:rule="self.all(a, a.matches('^--(no-owner|no-privileges|no-comments|no-publications|no-subscriptions|no-security-labels|no-tablespaces|no-toast-compression|no-table-access-method|no-unlogged-table-data|no-blobs|blobs|no-large-objects|large-objects|no-policies|no-statistics|statistics|quote-all-identifiers|serializable-deferrable|enable-row-security|load-via-partition-root|use-set-session-authorization|disable-dollar-quoting)$|^--(extension|exclude-extension|include-foreign-data)=[^,]+$'))",messageExpression="'pgDumpExtraArgs: ' + self.filter(a, !a.matches('^--(no-owner|no-privileges|no-comments|no-publications|no-subscriptions|no-security-labels|no-tablespaces|no-toast-compression|no-table-access-method|no-unlogged-table-data|no-blobs|blobs|no-large-objects|large-objects|no-policies|no-statistics|statistics|quote-all-identifiers|serializable-deferrable|enable-row-security|load-via-partition-root|use-set-session-authorization|disable-dollar-quoting)$|^--(extension|exclude-extension|include-foreign-data)=[^,]+$'))[0] + ' is not an allowed pg_dump option (write --name or --name=VALUE; see the field description for the allow-list)'"
	PgDumpExtraArgs []string `json:"pgDumpExtraArgs,omitempty"`

	// passwordSecretRef is the Secret key holding the password. The
	// controller never reads it: it reaches the agent as PGPASSWORD.
	// +optional
	PasswordSecretRef *SecretKeyRef `json:"passwordSecretRef,omitempty"`

	// sslMode is libpq's sslmode. verify-full checks that the server's
	// certificate was issued by the CA of sslRootCertRef for host.
	// +optional
	SSLMode SSLMode `json:"sslMode,omitempty"`

	// sslRootCertRef is the CA (PEM) that issued the server's certificate,
	// from a Secret or a ConfigMap key (cert-manager's ca.crt, or
	// CloudNativePG's <cluster>-ca Secret). Mounted read-only into the
	// backup pod as PGSSLROOTCERT; the controller never reads it.
	// +optional
	SSLRootCertRef *CertificateRef `json:"sslRootCertRef,omitempty"`

	// sslClientCertSecretRef names a kubernetes.io/tls Secret (tls.crt,
	// tls.key) whose certificate the agent logs in with (pg_hba "cert"
	// method: its common name is the user). Mounted read-only, the key
	// with mode 0640, as PGSSLCERT and PGSSLKEY.
	// +optional
	SSLClientCertSecretRef *SecretRef `json:"sslClientCertSecretRef,omitempty"`
}

// ClusterKind is the kind of an operator's PostgreSQL cluster resource.
// +kubebuilder:validation:Enum=Cluster;postgresql
type ClusterKind string

// The clusters a clusterRef can name.
const (
	// ClusterCNPG is CloudNativePG's Cluster (postgresql.cnpg.io/v1).
	ClusterCNPG ClusterKind = "Cluster"
	// ClusterZalando is the Zalando operator's postgresql (acid.zalan.do/v1).
	ClusterZalando ClusterKind = "postgresql"
)

// ClusterTarget is which server of a cluster is dumped.
type ClusterTarget string

// The targets.
const (
	TargetPrimary       ClusterTarget = "primary"
	TargetPreferStandby ClusterTarget = "prefer-standby"
	TargetStandby       ClusterTarget = "standby"
)

// ClusterRef names a PostgreSQL cluster managed by an operator.
// +kubebuilder:validation:XValidation:rule="!has(self.credentials) || self.kind == 'Cluster'",message="credentials is for kind Cluster (CloudNativePG); for postgresql (Zalando) set user"
// +kubebuilder:validation:XValidation:rule="!has(self.user) || self.kind == 'postgresql'",message="user is for kind postgresql (Zalando); for Cluster (CloudNativePG) set credentials"
type ClusterRef struct {
	// kind is Cluster for CloudNativePG (postgresql.cnpg.io/v1) or
	// postgresql for the Zalando operator (acid.zalan.do/v1).
	// +required
	Kind ClusterKind `json:"kind"`

	// name of the cluster, in the resource's namespace.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Name string `json:"name"`

	// credentials, for CloudNativePG: app (the default; the Secret
	// <name>-app, the application's owner) or superuser (<name>-superuser,
	// which exists when the Cluster sets enableSuperuserAccess; needed to
	// dump roles and every database).
	// +optional
	// +kubebuilder:validation:Enum=app;superuser
	Credentials string `json:"credentials,omitempty"`

	// user, for Zalando: whose credentials Secret
	// (<user>.<name>.credentials.postgresql.acid.zalan.do) the agent logs
	// in with; postgres, the superuser, when unset.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-_a-z0-9]*[a-z0-9])?$`
	User string `json:"user,omitempty"`
}

// CertificateRef is a PEM file in a key of a Secret or of a ConfigMap of
// the resource's namespace.
// +kubebuilder:validation:XValidation:rule="has(self.secretKeyRef) != has(self.configMapKeyRef)",message="set exactly one of secretKeyRef and configMapKeyRef"
type CertificateRef struct {
	// secretKeyRef is a key of a Secret.
	// +optional
	SecretKeyRef *SecretKeyRef `json:"secretKeyRef,omitempty"`

	// configMapKeyRef is a key of a ConfigMap.
	// +optional
	ConfigMapKeyRef *ConfigMapKeyRef `json:"configMapKeyRef,omitempty"`
}

// ConfigMapKeyRef names a key of a ConfigMap in the resource's namespace.
type ConfigMapKeyRef struct {
	// name of the ConfigMap.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// key in the ConfigMap.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Key string `json:"key"`
}

// SecretKeyRef names a key of a Secret in the resource's namespace.
type SecretKeyRef struct {
	// name of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// key in the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Key string `json:"key"`
}

// SecretRef names a Secret in the resource's namespace.
type SecretRef struct {
	// name of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// DestinationSpec is where backups are stored.
type DestinationSpec struct {
	// s3 is an S3 or S3-compatible bucket.
	// +required
	S3 S3Destination `json:"s3"`
}

// S3Destination is a bucket and prefix of an S3-compatible store.
// +kubebuilder:validation:XValidation:rule="!has(self.kmsKeyId) || (has(self.sse) && self.sse == 'aws:kms')",message="kmsKeyId needs sse aws:kms"
type S3Destination struct {
	// bucket is the bucket's name.
	// +required
	// +kubebuilder:validation:MinLength=3
	// +kubebuilder:validation:MaxLength=63
	Bucket string `json:"bucket"`

	// prefix is the key prefix backups are stored under.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	Prefix string `json:"prefix,omitempty"`

	// region of the bucket.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	Region string `json:"region,omitempty"`

	// endpoint is the URL of an S3-compatible server; AWS when unset.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:Pattern=`^https?://`
	Endpoint string `json:"endpoint,omitempty"`

	// forcePathStyle selects path-style addressing; on by default when an
	// endpoint is set.
	// +optional
	ForcePathStyle *bool `json:"forcePathStyle,omitempty"`

	// credentialsSecretRef is a Secret with the keys AWS_ACCESS_KEY_ID and
	// AWS_SECRET_ACCESS_KEY (and optionally AWS_SESSION_TOKEN). The pod's
	// own identity (IRSA, for example) is used when unset.
	// +optional
	CredentialsSecretRef *SecretRef `json:"credentialsSecretRef,omitempty"`

	// requestTimeout bounds how long one S3 request waits for the server's
	// answer (each try), so a server that accepts connections but never
	// answers fails the run with StorageFailed. The agent's default (2m)
	// when unset or "0s".
	// +optional
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('0s')",message="requestTimeout must not be negative"
	RequestTimeout *metav1.Duration `json:"requestTimeout,omitempty"`

	// sse asks the server to encrypt every object the backup and verify
	// pods write (data, claims, manifests, verification records): AES256
	// (keys managed by S3) or aws:kms. The bucket's default encryption
	// when unset. Under aws:kms, S3's ETags are not MD5s, so an upload
	// whose completion answer was lost cannot be matched to its object
	// and the run fails safe (StorageFailed) instead of guessing.
	// +optional
	SSE SSEMode `json:"sse,omitempty"`

	// kmsKeyId is the KMS key (id, alias or ARN) for sse aws:kms; the
	// account's default key for S3 when unset. The pods' credentials need
	// kms:GenerateDataKey and kms:Decrypt on it.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	KMSKeyID string `json:"kmsKeyId,omitempty"`

	// storageClass of every object written (STANDARD_IA,
	// INTELLIGENT_TIERING, GLACIER_IR, or a class of an S3-compatible
	// store); the bucket's default (STANDARD on AWS) when unset. GLACIER
	// and DEEP_ARCHIVE are refused: every run reads manifests, and every
	// restore reads data, at once.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[A-Z][A-Z0-9_]*$`
	// +kubebuilder:validation:XValidation:rule="self != 'GLACIER' && self != 'DEEP_ARCHIVE'",message="storageClass GLACIER and DEEP_ARCHIVE cannot be read without a restore request; use GLACIER_IR"
	StorageClass string `json:"storageClass,omitempty"`

	// checksum is how the store is asked to verify what it stores: sha256
	// sends x-amz-checksum-sha256 with every object and part, which S3
	// checks and keeps with the object; md5 sends Content-MD5, checked but
	// not kept; auto (the default) is sha256, falling back to md5 for the
	// rest of a run when the store refuses it.
	// +optional
	// +kubebuilder:validation:Enum=auto;sha256;md5
	Checksum string `json:"checksum,omitempty"`

	// caBundleRef is the CA (PEM) that issued the endpoint's certificate,
	// for an S3-compatible store with a private CA (MinIO, Ceph RGW). It
	// is trusted besides the system's CAs. Mounted read-only into the
	// backup and verify pods as AWS_CA_BUNDLE; the controller never reads
	// it.
	// +optional
	CABundleRef *CertificateRef `json:"caBundleRef,omitempty"`
}

// SSEMode is a server-side encryption mode of S3.
// +kubebuilder:validation:Enum=AES256;aws:kms
type SSEMode string

// The server-side encryption modes.
const (
	SSES3  SSEMode = "AES256"
	SSEKMS SSEMode = "aws:kms"
)

// EncryptionSpec configures client-side encryption.
type EncryptionSpec struct {
	// ageRecipients are age public keys (age1...); any of their private keys
	// decrypts. The cluster never needs a private key.
	// +required
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:Pattern=`^age1[0-9a-z]+$`
	// +kubebuilder:validation:items:MaxLength=256
	AgeRecipients []string `json:"ageRecipients"`
}

// RetentionSpec is the agent's retention policy.
type RetentionSpec struct {
	// keepLast keeps the newest N backups.
	// +optional
	// +kubebuilder:validation:Minimum=0
	KeepLast *int32 `json:"keepLast,omitempty"`

	// keepDaily keeps the newest backup of each of the last N days.
	// +optional
	// +kubebuilder:validation:Minimum=0
	KeepDaily *int32 `json:"keepDaily,omitempty"`

	// keepWeekly keeps the newest backup of each of the last N weeks.
	// +optional
	// +kubebuilder:validation:Minimum=0
	KeepWeekly *int32 `json:"keepWeekly,omitempty"`

	// keepMonthly keeps the newest backup of each of the last N months.
	// +optional
	// +kubebuilder:validation:Minimum=0
	KeepMonthly *int32 `json:"keepMonthly,omitempty"`

	// maxAge deletes backups older than this (for example "720h").
	// +optional
	MaxAge *metav1.Duration `json:"maxAge,omitempty"`
}

// StorageSpec is the spool volume: a new PVC of size, or an existing claim.
// +kubebuilder:validation:XValidation:rule="has(self.size) != has(self.existingClaim)",message="set exactly one of size and existingClaim"
type StorageSpec struct {
	// size of the PVC <name>-spool the controller creates.
	// +optional
	Size *resource.Quantity `json:"size,omitempty"`

	// storageClassName of that PVC; the cluster's default when unset.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	StorageClassName *string `json:"storageClassName,omitempty"`

	// existingClaim is a PVC to use instead of creating one.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	ExistingClaim string `json:"existingClaim,omitempty"`
}

// PodTemplateOverrides adjust the agent's pod.
type PodTemplateOverrides struct {
	// labels added to the pod.
	// +optional
	// +kubebuilder:validation:MaxProperties=64
	Labels map[string]string `json:"labels,omitempty"`

	// annotations added to the pod.
	// +optional
	// +kubebuilder:validation:MaxProperties=64
	Annotations map[string]string `json:"annotations,omitempty"`

	// nodeSelector of the pod.
	// +optional
	// +kubebuilder:validation:MaxProperties=64
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`

	// tolerations of the pod.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`

	// affinity of the pod.
	// +optional
	Affinity *corev1.Affinity `json:"affinity,omitempty"`

	// imagePullSecrets of the pod.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	ImagePullSecrets []corev1.LocalObjectReference `json:"imagePullSecrets,omitempty"`

	// priorityClassName of the pod.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	PriorityClassName string `json:"priorityClassName,omitempty"`

	// serviceAccountName of the pod (for IRSA and the like). Its Kubernetes
	// API token is never mounted: the pod sets
	// automountServiceAccountToken: false, whatever the service account
	// says. Web-identity tokens that a webhook projects (IRSA) still work.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	ServiceAccountName string `json:"serviceAccountName,omitempty"`

	// env is added to the agent's environment and wins over the variables
	// the controller sets (any PGBACKUP_* flag can be set this way).
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	Env []corev1.EnvVar `json:"env,omitempty"`
}

// PostgresBackupStatus is what the controller observed.
type PostgresBackupStatus struct {
	// observedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: Ready, LastBackupSucceeded, BackupStale, BackupRunning,
	// BackupWarnings and (with spec.verify) Verified.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// cronJobName is the CronJob that runs the backups.
	// +optional
	CronJobName string `json:"cronJobName,omitempty"`

	// lastScheduleTime is when the CronJob last started a run.
	// +optional
	LastScheduleTime *metav1.Time `json:"lastScheduleTime,omitempty"`

	// nextScheduleTime is when the next run is due (unset when suspended).
	// +optional
	NextScheduleTime *metav1.Time `json:"nextScheduleTime,omitempty"`

	// lastSuccessfulBackup is the newest successful run.
	// +optional
	LastSuccessfulBackup *SuccessfulBackup `json:"lastSuccessfulBackup,omitempty"`

	// lastFailure is the newest failed run.
	// +optional
	LastFailure *BackupFailure `json:"lastFailure,omitempty"`

	// recentBackups are the latest finished runs, newest first.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=10
	RecentBackups []BackupRun `json:"recentBackups,omitempty"`

	// verifyCronJobName is the CronJob that runs the verifications (set
	// while spec.verify is).
	// +optional
	VerifyCronJobName string `json:"verifyCronJobName,omitempty"`

	// lastVerifiedBackup is the backup of the newest successful
	// verification. Cleared, with lastVerification, when spec.verify is
	// removed.
	// +optional
	LastVerifiedBackup *VerifiedBackup `json:"lastVerifiedBackup,omitempty"`

	// lastVerification is the newest finished verification run, successful
	// or not.
	// +optional
	LastVerification *VerificationRun `json:"lastVerification,omitempty"`
}

// VerifiedBackup describes a successful verification.
type VerifiedBackup struct {
	// id of the backup that was restored and checked.
	// +optional
	ID string `json:"id,omitempty"`
	// time the verification finished.
	Time metav1.Time `json:"time"`
	// restoreSeconds the restore of every database took, rounded up: what
	// a restore of this backup costs (the recovery time, roughly).
	// +optional
	RestoreSeconds int64 `json:"restoreSeconds,omitempty"`
}

// VerificationRun is one finished verification run.
type VerificationRun struct {
	// jobName is the run's Job.
	JobName string `json:"jobName"`
	// result of the run.
	Result BackupResult `json:"result"`
	// id of the backup it verified, if it got that far.
	// +optional
	ID string `json:"id,omitempty"`
	// reason of a failure: VerificationFailed (the restored data does not
	// match the manifest, or a check failed), another agent reason
	// (RestoreFailed, StorageFailed, IntegrityFailed, ...) or the
	// controller's (see lastFailure.reason).
	// +optional
	// +kubebuilder:validation:MaxLength=64
	Reason string `json:"reason,omitempty"`
	// message of a failure.
	// +optional
	Message string `json:"message,omitempty"`
	// warnings the agent reported, each shortened to 256 bytes.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=8
	// +kubebuilder:validation:items:MaxLength=260
	Warnings []string `json:"warnings,omitempty"`
	// startTime of the Job.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// finishTime of the Job.
	FinishTime metav1.Time `json:"finishTime"`
	// durationSeconds the agent ran, rounded.
	// +optional
	DurationSeconds int64 `json:"durationSeconds,omitempty"`
	// restoreSeconds the restore took, rounded up.
	// +optional
	RestoreSeconds int64 `json:"restoreSeconds,omitempty"`
	// tablesChecked is how many tables' row counts were compared with the
	// manifest.
	// +optional
	TablesChecked int32 `json:"tablesChecked,omitempty"`
	// tablesMismatched is how many of them differed or were missing.
	// +optional
	TablesMismatched int32 `json:"tablesMismatched,omitempty"`
	// checksFailed counts the failed checks and amcheck findings.
	// +optional
	ChecksFailed int32 `json:"checksFailed,omitempty"`
	// serverVersionNum is the scratch server's server_version_num.
	// +optional
	ServerVersionNum int32 `json:"serverVersionNum,omitempty"`
}

// SuccessfulBackup describes a successful run.
type SuccessfulBackup struct {
	// id is the backup's ID (its UTC start time, YYYYMMDDTHHMMSSZ).
	// +optional
	ID string `json:"id,omitempty"`
	// time the run finished.
	Time metav1.Time `json:"time"`
	// bytes stored.
	// +optional
	Bytes int64 `json:"bytes,omitempty"`
	// durationSeconds the run took, rounded.
	// +optional
	DurationSeconds int64 `json:"durationSeconds,omitempty"`
	// objectPrefix is where the backup's objects are:
	// s3://BUCKET/PREFIX/<id>/.
	// +optional
	ObjectPrefix string `json:"objectPrefix,omitempty"`
	// serverVersionNum is the backed-up server's server_version_num (for
	// example 170002); its major picks the scratch server of verifications.
	// +optional
	ServerVersionNum int32 `json:"serverVersionNum,omitempty"`
}

// BackupFailure describes a failed run.
type BackupFailure struct {
	// time the run failed.
	Time metav1.Time `json:"time"`
	// reason is the agent's reason (one of Internal, ConfigInvalid,
	// ConnectionFailed, AuthFailed, DumpFailed, RestoreFailed, StorageFailed,
	// IntegrityFailed, VerificationFailed, Refused, Interrupted; any other
	// becomes Internal) or
	// the controller's: DeadlineExceeded (activeDeadlineSeconds passed,
	// whatever the agent said), NoResult (the Job completed without the
	// agent's result), OOMKilled, BackoffLimitExceeded, PodFailurePolicy or
	// JobFailed.
	// +optional
	Reason string `json:"reason,omitempty"`
	// message says what failed.
	// +optional
	Message string `json:"message,omitempty"`
}

// BackupResult is the outcome of a run.
// +kubebuilder:validation:Enum=Succeeded;Failed
type BackupResult string

// The outcomes of a run.
const (
	ResultSucceeded BackupResult = "Succeeded"
	ResultFailed    BackupResult = "Failed"
)

// BackupRun is one finished run.
type BackupRun struct {
	// jobName is the run's Job.
	JobName string `json:"jobName"`
	// result of the run.
	Result BackupResult `json:"result"`
	// id of the backup it made, if any.
	// +optional
	ID string `json:"id,omitempty"`
	// reason of a failure, from the set lastFailure.reason lists.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	Reason string `json:"reason,omitempty"`
	// message of a failure.
	// +optional
	Message string `json:"message,omitempty"`
	// warnings the agent reported (retention failed, globals skipped, a
	// local copy failed, ...), each shortened to 256 bytes.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=8
	// +kubebuilder:validation:items:MaxLength=260
	Warnings []string `json:"warnings,omitempty"`
	// startTime of the Job.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// finishTime of the Job.
	FinishTime metav1.Time `json:"finishTime"`
	// bytes stored.
	// +optional
	Bytes int64 `json:"bytes,omitempty"`
	// durationSeconds the agent ran, rounded.
	// +optional
	DurationSeconds int64 `json:"durationSeconds,omitempty"`
	// serverVersionNum is the backed-up server's server_version_num.
	// +optional
	ServerVersionNum int32 `json:"serverVersionNum,omitempty"`
}

// Condition types (contract).
const (
	// ConditionReady is True when the CronJob matches the spec.
	ConditionReady = "Ready"
	// ConditionLastBackupSucceeded is the outcome of the newest finished run.
	ConditionLastBackupSucceeded = "LastBackupSucceeded"
	// ConditionBackupStale is True when no backup succeeded within maxAge.
	ConditionBackupStale = "BackupStale"
	// ConditionBackupRunning is True while a run of this resource is active:
	// reason Running, then RunningTooLong once it has run longer than
	// runningTooLongSeconds; False (Idle) otherwise.
	ConditionBackupRunning = "BackupRunning"
	// ConditionBackupWarnings is True when the newest finished run reported
	// warnings.
	ConditionBackupWarnings = "BackupWarnings"
	// ConditionVerified is True when the newest verification succeeded
	// within spec.verify.maxAge; False when it failed (its reason) or is too
	// old (VerificationStale); Unknown (NotYetVerified) before the first.
	// Only there while spec.verify is set.
	ConditionVerified = "Verified"
)

// Condition reasons. A failed run's LastBackupSucceeded reason is the
// agent's reason (DumpFailed, StorageFailed, ...) instead.
const (
	// Ready: True is Reconciled; False says what is wrong.
	ReasonReconciled         = "Reconciled"
	ReasonInvalidSchedule    = "InvalidSchedule"
	ReasonInvalidTimeZone    = "InvalidTimeZone"
	ReasonCronJobApplyFailed = "CronJobApplyFailed"
	ReasonClaimApplyFailed   = "ClaimApplyFailed"
	ReasonClaimMissing       = "ClaimMissing"
	ReasonClaimLost          = "ClaimLost"
	// ClusterNotFound: the clusterRef's cluster (or its operator's CRD)
	// does not exist; ClusterUnreadable: the controller may not read it;
	// ClusterMisfit: it exists but cannot serve the reference as set
	// (superuser credentials the cluster does not enable, a Zalando user
	// it does not have). The CronJob is still applied, by convention.
	ReasonClusterNotFound   = "ClusterNotFound"
	ReasonClusterUnreadable = "ClusterUnreadable"
	ReasonClusterMisfit     = "ClusterMisfit"

	// LastBackupSucceeded and BackupStale.
	ReasonNoBackupYet    = "NoBackupYet"
	ReasonSucceeded      = "Succeeded"
	ReasonWithinMaxAge   = "WithinMaxAge"
	ReasonMaxAgeExceeded = "MaxAgeExceeded"
	ReasonMaxAgeUnset    = "MaxAgeUnset"

	// BackupRunning.
	ReasonRunning        = "Running"
	ReasonRunningTooLong = "RunningTooLong"
	// ReasonCannotStart: the running Job's agent container cannot start
	// (a Secret or key it references is missing, its image cannot be
	// pulled); the message has the kubelet's reason.
	ReasonCannotStart = "CannotStart"
	ReasonIdle        = "Idle"

	// BackupWarnings (before the first run: NoBackupYet).
	ReasonWarningsReported = "WarningsReported"
	ReasonNoWarnings       = "NoWarnings"

	// Ready, when spec.verify cannot be acted on (an invalid
	// verify.schedule is InvalidSchedule): spec.encryption is set but
	// verify.ageIdentitySecretRef is not.
	ReasonVerifyIdentityMissing = "VerifyIdentityMissing"
	// Ready, when the verify CronJob could not be applied or deleted.
	ReasonVerifyCronJobApplyFailed = "VerifyCronJobApplyFailed"

	// Verified. False for a failed run carries the run's reason
	// (VerificationFailed, RestoreFailed, DeadlineExceeded, ...).
	ReasonVerified           = "Verified"
	ReasonVerificationFailed = "VerificationFailed"
	ReasonVerificationStale  = "VerificationStale"
	ReasonNotYetVerified     = "NotYetVerified"
)

// Failure reasons the controller gives a run when the agent's own reason
// is not the whole story (see BackupFailure.reason).
const (
	// ReasonDeadlineExceeded: the Job ran past activeDeadlineSeconds.
	ReasonDeadlineExceeded = "DeadlineExceeded"
	// ReasonNoResult: the Job completed, but no agent result says succeeded.
	ReasonNoResult = "NoResult"
	// ReasonOOMKilled: the agent ran out of memory.
	ReasonOOMKilled = "OOMKilled"
	// ReasonBackoffLimitExceeded and ReasonPodFailurePolicy: the Job's own
	// reasons, when the agent reported none.
	ReasonBackoffLimitExceeded = "BackoffLimitExceeded"
	ReasonPodFailurePolicy     = "PodFailurePolicy"
	// ReasonJobFailed: the Job failed for another reason (named in the
	// message).
	ReasonJobFailed = "JobFailed"
)

// Event reasons.
const (
	EventBackupSucceeded = "BackupSucceeded"
	EventBackupFailed    = "BackupFailed"
	EventInvalidSpec     = "InvalidSpec"
	EventBackupStale     = "BackupStale"
	// EventBackupWarnings: a finished run reported warnings (Warning).
	EventBackupWarnings = "BackupWarnings"
	// EventBackupCannotStart: a run's agent cannot start (Warning).
	EventBackupCannotStart = "BackupCannotStart"
	// EventStaleNotified: the stale notification Job was started (Normal).
	EventStaleNotified = "StaleNotified"
	// EventBackupRunningTooLong: a run passed runningTooLongSeconds (Warning).
	EventBackupRunningTooLong = "BackupRunningTooLong"
	// EventVerificationSucceeded: a verification run succeeded (Normal).
	EventVerificationSucceeded = "VerificationSucceeded"
	// EventVerificationFailed: a verification run failed (Warning).
	EventVerificationFailed = "VerificationFailed"
	// EventVerificationStale: Verified turned VerificationStale (Warning).
	EventVerificationStale = "VerificationStale"
	// A Ready condition turning False for another reason than the spec is
	// announced with that reason (CronJobApplyFailed, ClaimMissing, ...).
)

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=pgb,categories=pgbackup
// +kubebuilder:printcolumn:name="Schedule",type=string,JSONPath=`.spec.schedule`
// +kubebuilder:printcolumn:name="Suspended",type=boolean,JSONPath=`.spec.suspend`
// +kubebuilder:printcolumn:name="Last Success",type=date,JSONPath=`.status.lastSuccessfulBackup.time`
// +kubebuilder:printcolumn:name="Last Result",type=string,JSONPath=`.status.conditions[?(@.type=="LastBackupSucceeded")].reason`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Run",type=string,JSONPath=`.status.conditions[?(@.type=="BackupRunning")].reason`
// +kubebuilder:printcolumn:name="Warnings",type=string,priority=1,JSONPath=`.status.conditions[?(@.type=="BackupWarnings")].status`
// +kubebuilder:printcolumn:name="Verified",type=string,priority=1,JSONPath=`.status.conditions[?(@.type=="Verified")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// PostgresBackup schedules logical backups of a PostgreSQL server to S3.
type PostgresBackup struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired state.
	// +required
	Spec PostgresBackupSpec `json:"spec"`

	// status is the observed state.
	// +optional
	Status PostgresBackupStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// PostgresBackupList is a list of PostgresBackups.
type PostgresBackupList struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// items are the PostgresBackups.
	Items []PostgresBackup `json:"items"`
}

// DumpFilter narrows the dump of one database, or of every database.
// +kubebuilder:validation:XValidation:rule="has(self.schemas) || has(self.excludeSchemas) || has(self.excludeTables) || has(self.excludeTableData)",message="a filter needs schemas, excludeSchemas, excludeTables or excludeTableData"
type DumpFilter struct {
	// database the filter applies to; every dumped database when unset.
	// A filter of a database that is not dumped is a warning in the run's
	// result.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Database string `json:"database,omitempty"`

	// schemas to dump, and nothing else (pg_dump --schema). Each pattern
	// must match a schema, or the run fails.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=1024
	Schemas []string `json:"schemas,omitempty"`

	// excludeSchemas are left out (pg_dump --exclude-schema).
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=1024
	ExcludeSchemas []string `json:"excludeSchemas,omitempty"`

	// excludeTables are left out, definition and rows (pg_dump
	// --exclude-table).
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=1024
	ExcludeTables []string `json:"excludeTables,omitempty"`

	// excludeTableData keeps these tables' definitions but leaves out
	// their rows (pg_dump --exclude-table-data): logs, caches, queues.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=1024
	ExcludeTableData []string `json:"excludeTableData,omitempty"`
}
