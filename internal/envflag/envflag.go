package envflag

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"
)

// Prefix starts every variable name.
const Prefix = "PGBACKUP_"

// Name returns the environment variable for a flag name.
func Name(flag string) string {
	return Prefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// Apply sets every flag of fs that was not given on the command line from
// its environment variable, when that is set. Repeatable flags take a
// comma-separated list. The error names the variable, never its value
// (which may be a secret).
func Apply(fs *pflag.FlagSet) error {
	var errs []error
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed {
			return
		}
		v, ok := os.LookupEnv(Name(f.Name))
		if !ok {
			return
		}
		if sv, isSlice := f.Value.(pflag.SliceValue); isSlice {
			if err := sv.Replace(splitList(v)); err != nil {
				errs = append(errs, fmt.Errorf("%s: invalid value for --%s (want a comma-separated %s)", Name(f.Name), f.Name, f.Value.Type()))
			}
			f.Changed = true
			return
		}
		if err := fs.Set(f.Name, v); err != nil {
			// The parse error quotes the value: leave it out.
			errs = append(errs, fmt.Errorf("%s: invalid value for --%s (want %s)", Name(f.Name), f.Name, f.Value.Type()))
		}
	})
	return errors.Join(errs...)
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
