// Package novaimageexporter holds what the repository's root gives the build: the release
// version in VERSION, for builds that do not set it with -ldflags (go build, go install).
package novaimageexporter

import (
	_ "embed"
	"strings"
)

//go:embed VERSION
var versionFile string

// Version is the content of the VERSION file, without surrounding white space.
func Version() string {
	return strings.TrimSpace(versionFile)
}
