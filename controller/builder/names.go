package builder

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/pgbackup/pgbackup/controller/api/v1alpha1"
)

// Name limits of Kubernetes.
const (
	// MaxCronJobName leaves room for the 11-character suffix the CronJob
	// controller appends to its Jobs' names, which must fit a label value.
	MaxCronJobName = 52
	// MaxLabelValue is the length limit of a label value.
	MaxLabelValue = 63
	// MaxObjectName is the limit of a DNS subdomain name (PVCs, Secrets, ...).
	MaxObjectName = 253
)

// hashLen is how many hex digits of the SHA-256 of the full name a shortened
// name ends with: enough that two long names sharing a prefix do not collide.
const hashLen = 8

// Shorten returns name when it fits max characters. Otherwise it keeps as
// much of name as fits before "-" and the first 8 hex digits of the name's
// SHA-256, so the result is deterministic (retries find the same object)
// and unique in practice.
func Shorten(name string, maxLen int) string {
	if len(name) <= maxLen {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	suffix := hex.EncodeToString(sum[:])[:hashLen]
	prefix := strings.TrimRight(name[:maxLen-hashLen-1], "-.")
	return prefix + "-" + suffix
}

// CronJobName is the name of the backup's CronJob: the resource's name,
// shortened to 52 characters when it is longer.
func CronJobName(pb *v1alpha1.PostgresBackup) string {
	return Shorten(pb.Name, MaxCronJobName)
}

// LabelValue is the value of the pgbackup.dev/backup label: the resource's
// name, shortened to fit a label value.
func LabelValue(name string) string {
	return Shorten(name, MaxLabelValue)
}

// SpoolClaimName is the PVC mounted as the spool directory: existingClaim,
// or <name>-spool when storage.size is set, or "" for an emptyDir.
func SpoolClaimName(pb *v1alpha1.PostgresBackup) string {
	st := pb.Spec.Storage
	switch {
	case st == nil:
		return ""
	case st.ExistingClaim != "":
		return st.ExistingClaim
	case st.Size != nil:
		return Shorten(pb.Name+"-spool", MaxObjectName)
	default:
		return ""
	}
}
