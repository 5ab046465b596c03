package bench

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// parseCompressions reads BENCH_COMPRESSIONS, a comma-separated list of
// the agent's --compression values (none, zstd[:LEVEL], gzip[:LEVEL]).
// Only the form is checked, so that a typo fails before the database is
// filled; the levels' ranges are the agent's to judge.
func parseCompressions(s string) ([]string, error) {
	var out []string
	for _, v := range strings.Split(s, ",") {
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		name, level, hasLevel := strings.Cut(v, ":")
		switch {
		case name != "none" && name != "zstd" && name != "gzip":
			return nil, fmt.Errorf("compression %q: want none, zstd[:LEVEL] or gzip[:LEVEL]", v)
		case name == "none" && hasLevel:
			return nil, fmt.Errorf("compression %q: none has no level", v)
		case hasLevel:
			if _, err := strconv.Atoi(level); err != nil {
				return nil, fmt.Errorf("compression %q: level %q is not a whole number", v, level)
			}
		}
		if slices.Contains(out, v) {
			return nil, fmt.Errorf("compression %q is listed twice", v)
		}
		out = append(out, v)
	}
	return out, nil
}

// sweepPrefix is where the sweep's run with compression c stores its
// backup, beside the default run's prefix: each run has a prefix of its
// own, so that none is another's "latest".
func sweepPrefix(c string) string {
	return agentPrefix + "-" + strings.ReplaceAll(c, ":", "-")
}

// agentPrefix is where (c), the agent at its defaults, stores its backups
// in the bucket; (d) and (f) restore the newest of them.
const agentPrefix = "agent"
