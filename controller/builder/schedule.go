package builder

import (
	"errors"
	"fmt"
	"strings"
	"time"

	// The controller image has no zoneinfo: embed it so timeZone validates
	// the same everywhere.
	_ "time/tzdata"

	"github.com/robfig/cron/v3"

	"github.com/pgbackup/pgbackup/controller/api/v1alpha1"
)

// SpecError is a spec the controller cannot act on. Reason is the Ready
// condition's reason.
type SpecError struct {
	Reason string
	Err    error
}

func (e *SpecError) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error.
func (e *SpecError) Unwrap() error { return e.Err }

// Schedule parses the spec's schedule and time zone the way Kubernetes
// does: robfig/cron's standard parser (five fields or a macro) and an IANA
// zone. The error is a *SpecError saying what to change.
func Schedule(spec *v1alpha1.PostgresBackupSpec) (cron.Schedule, *time.Location, error) {
	return parseSchedule("schedule", spec.Schedule, spec.TimeZone)
}

// VerifySchedule parses spec.verify.schedule, read in spec.timeZone, like
// Schedule; nil without an error when spec.verify is unset or runs everyNth.
func VerifySchedule(spec *v1alpha1.PostgresBackupSpec) (cron.Schedule, *time.Location, error) {
	if spec.Verify == nil || spec.Verify.EveryNth != nil {
		return nil, nil, nil
	}
	return parseSchedule("verify.schedule", spec.Verify.Schedule, spec.TimeZone)
}

// ValidateVerify says whether the controller can act on spec.verify: its
// schedule parses, and encrypted backups come with the identity that
// decrypts them. The error is a *SpecError; nil when spec.verify is unset.
func ValidateVerify(spec *v1alpha1.PostgresBackupSpec) error {
	if spec.Verify == nil {
		return nil
	}
	if (spec.Verify.Schedule == "") == (spec.Verify.EveryNth == nil) {
		return &SpecError{Reason: v1alpha1.ReasonInvalidSchedule, Err: errors.New("set exactly one of verify.schedule and verify.everyNth")}
	}
	if _, _, err := VerifySchedule(spec); err != nil {
		return err
	}
	if spec.Encryption != nil && spec.Verify.AgeIdentitySecretRef == nil {
		return &SpecError{Reason: v1alpha1.ReasonVerifyIdentityMissing,
			Err: errors.New("spec.encryption is set, so verification needs the age identity that decrypts the backups: set verify.ageIdentitySecretRef to a Secret key holding it (AGE-SECRET-KEY-1...)")}
	}
	return nil
}

// parseSchedule parses the schedule field (named so in errors) in the zone.
func parseSchedule(field, schedule string, timeZone *string) (cron.Schedule, *time.Location, error) {
	loc := time.Local
	if timeZone != nil {
		tz := *timeZone
		var err error
		if strings.EqualFold(tz, "Local") {
			err = errors.New("the zone must be named (e.g. Europe/Berlin), not Local")
		} else {
			loc, err = time.LoadLocation(tz)
		}
		if err != nil {
			return nil, nil, &SpecError{Reason: v1alpha1.ReasonInvalidTimeZone,
				Err: fmt.Errorf("timeZone %q is not a known IANA time zone: %w", tz, err)}
		}
	}
	s := strings.TrimSpace(schedule)
	if strings.HasPrefix(s, "TZ=") || strings.HasPrefix(s, "CRON_TZ=") {
		return nil, nil, &SpecError{Reason: v1alpha1.ReasonInvalidSchedule,
			Err: fmt.Errorf("%s %q: Kubernetes does not accept TZ= in the schedule: set timeZone instead", field, schedule)}
	}
	if !strings.HasPrefix(s, "@") && len(strings.Fields(s)) == 6 {
		return nil, nil, &SpecError{Reason: v1alpha1.ReasonInvalidSchedule,
			Err: fmt.Errorf("%s %q has six fields, but Kubernetes CronJobs have no seconds field: use five (minute hour day-of-month month day-of-week)", field, schedule)}
	}
	sched, err := cron.ParseStandard(s)
	if err != nil {
		return nil, nil, &SpecError{Reason: v1alpha1.ReasonInvalidSchedule,
			Err: fmt.Errorf("%s %q is not a valid cron expression (five fields or @hourly, @daily, ...): %w", field, schedule, err)}
	}
	return sched, loc, nil
}
