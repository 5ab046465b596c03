// Package chart holds the tests of the pgbackup Helm chart: they render it
// with the helm binary and check what it would install.
package chart
