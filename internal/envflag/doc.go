// Package envflag lets every command-line flag also be set by an
// environment variable, PGBACKUP_<FLAG_IN_UPPER_SNAKE> (DESIGN section 2):
// --keep-last becomes PGBACKUP_KEEP_LAST. A flag given on the command line
// wins over the environment. This is how the controller configures the
// agent in a CronJob without building argument lists.
package envflag
