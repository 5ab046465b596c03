package backup

import "syscall"

// peakRSS is the process's peak resident set size in bytes (0 when
// unknown), logged at the end of a run: memory is one of the agent's
// promises (the benchmark's bound), and a run under a slow link or a huge
// database shows what it used.
func peakRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Maxrss * 1024 // kilobytes on Linux
}
