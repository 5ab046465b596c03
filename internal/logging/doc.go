// Package logging builds the structured JSON logger every pgbackup role
// writes to stderr: zap behind the logr interface, so packages take a
// logr.Logger and never a concrete logger.
package logging
