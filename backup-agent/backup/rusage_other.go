//go:build !linux

package backup

// peakRSS is unknown outside Linux (the agent's images are Linux).
func peakRSS() int64 { return 0 }
