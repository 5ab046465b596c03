// Package faults is the fault matrix of pgbackup (issue 13): each test
// injects one fault a real network or S3 server produces between the agent
// and its servers, and asserts the outcome the contract promises (DESIGN
// section 2): an exit code and a reason, nothing committed, or exactly one
// whole backup.
//
// The agent runs in a container (test/fixtures); the fault injectors run in
// the test process and listen on the Docker network's gateway address,
// which the agent's container reaches: fixtures.S3Proxy for faults of S3
// answers, and an in-process Toxiproxy for faults of the TCP links to
// PostgreSQL and S3.
//
// Rows is the matrix itself, the one source of the table in docs/faults.md
// (hack/faultstable, `make faults-table`), including the rows proven by
// tests of other packages.
package faults
