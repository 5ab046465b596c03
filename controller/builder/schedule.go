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
	loc := time.Local
	if spec.TimeZone != nil {
		tz := *spec.TimeZone
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
	s := strings.TrimSpace(spec.Schedule)
	if strings.HasPrefix(s, "TZ=") || strings.HasPrefix(s, "CRON_TZ=") {
		return nil, nil, &SpecError{Reason: v1alpha1.ReasonInvalidSchedule,
			Err: fmt.Errorf("schedule %q: Kubernetes does not accept TZ= in the schedule: set timeZone instead", spec.Schedule)}
	}
	if !strings.HasPrefix(s, "@") && len(strings.Fields(s)) == 6 {
		return nil, nil, &SpecError{Reason: v1alpha1.ReasonInvalidSchedule,
			Err: fmt.Errorf("schedule %q has six fields, but Kubernetes CronJobs have no seconds field: use five (minute hour day-of-month month day-of-week)", spec.Schedule)}
	}
	sched, err := cron.ParseStandard(s)
	if err != nil {
		return nil, nil, &SpecError{Reason: v1alpha1.ReasonInvalidSchedule,
			Err: fmt.Errorf("schedule %q is not a valid cron expression (five fields or @hourly, @daily, ...): %w", spec.Schedule, err)}
	}
	return sched, loc, nil
}
