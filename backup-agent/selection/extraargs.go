package selection

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// An allowed pg_dump option: whether it takes a value (written
// --name=VALUE) and the oldest pg_dump major that knows it.
type allowed struct {
	value    bool
	minMajor int
}

// Allowed are the pg_dump options --pg-dump-extra-args accepts. Each leaves
// the output a complete, restorable archive of the format the agent asked
// for, read over the agent's own connection: they leave out ownership,
// privileges, comments and the like, or narrow extensions and foreign data.
var Allowed = map[string]allowed{
	"no-owner":                      {},
	"no-privileges":                 {},
	"no-comments":                   {},
	"no-publications":               {},
	"no-subscriptions":              {},
	"no-security-labels":            {},
	"no-tablespaces":                {},
	"no-toast-compression":          {minMajor: 14},
	"no-table-access-method":        {minMajor: 15},
	"no-unlogged-table-data":        {},
	"no-blobs":                      {},
	"blobs":                         {},
	"no-large-objects":              {minMajor: 16},
	"large-objects":                 {minMajor: 16},
	"no-policies":                   {minMajor: 18},
	"no-statistics":                 {minMajor: 18},
	"statistics":                    {minMajor: 18},
	"quote-all-identifiers":         {},
	"serializable-deferrable":       {},
	"enable-row-security":           {},
	"load-via-partition-root":       {},
	"use-set-session-authorization": {},
	"disable-dollar-quoting":        {},
	"extension":                     {value: true, minMajor: 14},
	"exclude-extension":             {value: true, minMajor: 17},
	"include-foreign-data":          {value: true, minMajor: 13},
}

// refusals say why an option is refused and what to use instead.
var refusals = map[string]string{
	"file": "the agent streams pg_dump's output itself", "format": "use the format field (--format)",
	"jobs": "use --jobs with the directory format", "compress": "the agent compresses (use compression, --compression)",
	"verbose": "it floods the log; the agent logs progress itself", "sync-method": "the agent streams pg_dump's output itself",
	"no-sync":           "the agent streams pg_dump's output itself",
	"lock-wait-timeout": "use lockWaitTimeout (--lock-wait-timeout)",
	"schema":            "use a filter's schemas (--dump-filters)", "exclude-schema": "use a filter's excludeSchemas (--dump-filters)",
	"exclude-table": "use a filter's excludeTables (--dump-filters)", "exclude-table-data": "use a filter's excludeTableData (--dump-filters)",
	"table": "it would store a partial database as a backup; use filters to leave things out", "table-and-children": "use filters (--dump-filters)",
	"exclude-table-and-children": "use a filter's excludeTables (--dump-filters)", "exclude-table-data-and-children": "use a filter's excludeTableData (--dump-filters)",
	"filter": "use --dump-filters", "strict-names": "the agent always sets it when anything is selected",
	"data-only": "it would store a database without its schema as a backup", "schema-only": "it would store a database without its data as a backup; use a filter's excludeTableData",
	"no-data": "it would store a database without its data as a backup; use a filter's excludeTableData", "no-schema": "it would store a database without its schema as a backup",
	"statistics-only": "it would store statistics only as a backup", "section": "it would store one section of a database as a backup",
	"inserts": "it changes how data is written and row counts are not taken from INSERTs", "column-inserts": "it changes how data is written and row counts are not taken from INSERTs",
	"rows-per-insert": "it changes how data is written and row counts are not taken from INSERTs", "on-conflict-do-nothing": "it needs --inserts, which is refused",
	"extra-float-digits": "it can store floating point values with less precision than they have", "encoding": "it converts the data, and fails on characters the encoding lacks",
	"clean": "use restore --clean", "create": "use restore --create", "if-exists": "use restore --clean", "binary-upgrade": "it is for pg_upgrade only",
	"superuser": "it is for plain-format data-only dumps", "disable-triggers": "it is for data-only dumps", "restrict-key": "the agent's restores set their own",
	"snapshot": "the agent's run takes its own consistent snapshot", "sequence-data": "sequence data is already dumped",
	"dbname": "a connection option: use postgres.host, port, user and databases", "host": "a connection option: use postgres.host",
	"port": "a connection option: use postgres.port", "username": "a connection option: use postgres.user",
	"no-password": "the agent sets it", "password": "a connection option: the agent never prompts", "role": "a connection option: log in as the role to dump with (postgres.user)",
	"help": "not an option of a dump", "version": "not an option of a dump",
}

// MaxExtraArgs bounds --pg-dump-extra-args.
const MaxExtraArgs = 32

// CheckExtraArgs validates --pg-dump-extra-args: each item one long
// option from [Allowed], --name or --name=VALUE. Every problem is named,
// with what to use instead.
func CheckExtraArgs(args []string) error {
	var errs []error
	if len(args) > MaxExtraArgs {
		errs = append(errs, fmt.Errorf("--pg-dump-extra-args: %d options, at most %d", len(args), MaxExtraArgs))
	}
	for _, a := range args {
		if err := checkExtraArg(a); err != nil {
			errs = append(errs, fmt.Errorf("--pg-dump-extra-args %q: %w", a, err))
		}
	}
	return errors.Join(errs...)
}

func checkExtraArg(a string) error {
	if !strings.HasPrefix(a, "--") {
		if strings.HasPrefix(a, "-") {
			return errors.New("write options in their long form (--no-owner, not -O), one option per item")
		}
		return errors.New("not an option: each item is one pg_dump option, --name or --name=VALUE")
	}
	name, value, hasValue := strings.Cut(a[2:], "=")
	if strings.ContainsAny(name, " \t\n") {
		return errors.New("one option per item")
	}
	opt, ok := Allowed[name]
	switch {
	case ok && opt.value && (!hasValue || value == ""):
		return fmt.Errorf("needs a value: --%s=VALUE", name)
	case ok && !opt.value && hasValue:
		return fmt.Errorf("takes no value: --%s", name)
	case ok && strings.ContainsRune(value, 0):
		return errors.New("has a NUL byte")
	case ok:
		return nil
	}
	if why, known := refusals[name]; known {
		return fmt.Errorf("refused: %s", why)
	}
	return fmt.Errorf("not on the allow-list (%s)", strings.Join(AllowedNames(), ", "))
}

// AllowedNames are the allowed options, sorted, as --name.
func AllowedNames() []string {
	names := make([]string, 0, len(Allowed))
	for n := range Allowed {
		names = append(names, "--"+n)
	}
	slices.Sort(names)
	return names
}

// CheckPgDumpMajor reports the extra options the chosen pg_dump is too
// old for. It runs once pg_dump is chosen, before anything is stored, so
// an option the installed pg_dump lacks is a configuration error rather
// than a failed dump.
func CheckPgDumpMajor(args []string, major int) error {
	var errs []error
	for _, a := range args {
		name, _, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if opt, ok := Allowed[name]; ok && major < opt.minMajor {
			errs = append(errs, fmt.Errorf("--pg-dump-extra-args %s needs pg_dump %d or newer, and this server is dumped with pg_dump %d", "--"+name, opt.minMajor, major))
		}
	}
	return errors.Join(errs...)
}

// RefusedNames are the pg_dump options refused with a reason of their
// own, sorted, as --name.
func RefusedNames() []string {
	names := make([]string, 0, len(refusals))
	for n := range refusals {
		names = append(names, "--"+n)
	}
	slices.Sort(names)
	return names
}

// Example returns an allowed option written as the allow-list accepts it:
// --name, or --name=VALUE for an option that takes a value.
func Example(name string) string {
	if opt, ok := Allowed[strings.TrimPrefix(name, "--")]; ok && opt.value {
		return name + "=x"
	}
	return name
}
