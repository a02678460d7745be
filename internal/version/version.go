// Package version holds the build version of redis-ha binaries and the image tags derived
// from it. The Makefile sets Version with -ldflags at build time.
package version

// Version is the redis-ha release this binary was built from ("dev" for local builds).
var Version = "dev"
