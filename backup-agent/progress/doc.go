// Package progress counts the bytes moving through the agent's pipelines
// and reports them periodically, so a long dump or restore shows in the
// logs that it is alive and how fast it goes.
package progress
