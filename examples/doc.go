// Package examples holds the tests of the example manifests in this
// directory: each must be valid as written.
package examples
