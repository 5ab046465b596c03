// Package result holds what every pgbackup subcommand reports when it ends:
// the reasons and exit codes of DESIGN section 2 (a contract shared with
// tests outside this repository) and the one-line result JSON the agent
// writes to its termination log for the controller to read.
//
// Errors are classified once, where they happen, by wrapping them with
// [Errorf] or [Wrap]; the CLI maps any error to its exit code with [ExitCode]
// and nowhere else.
package result
