package main

import (
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/version"

	novaimageexporter "github.com/nova-image-exporter/nova_image_exporter"
)

// unknown is what prometheus/common/version reports for what it cannot tell.
const unknown = "unknown"

var fillVersionOnce sync.Once

// fillVersionFromBuild completes, once per process, what -ldflags left empty in
// prometheus/common/version: `make build` sets it all, a plain go build or go install none.
func fillVersionFromBuild() {
	fillVersionOnce.Do(func() {
		info, _ := debug.ReadBuildInfo()
		fillVersion(novaimageexporter.Version(), info)
	})
}

// fillVersion sets each of version's Version, Revision, Branch, BuildUser and BuildDate that
// is empty: the version from the VERSION file (else the main module's version), the
// revision and date from the VCS stamp of info (Go's -buildvcs), "unknown" for what
// neither tells.
func fillVersion(fileVersion string, info *debug.BuildInfo) {
	settings := map[string]string{}
	moduleVersion := ""
	if info != nil {
		for _, s := range info.Settings {
			settings[s.Key] = s.Value
		}
		if v := info.Main.Version; v != "" && v != "(devel)" {
			moduleVersion = strings.TrimPrefix(v, "v")
		}
	}
	revision := settings["vcs.revision"]
	if revision != "" && settings["vcs.modified"] == "true" {
		revision += "-modified" // as prometheus/common/version says of such a build
	}
	setIfEmpty(&version.Version, fileVersion, moduleVersion)
	setIfEmpty(&version.Revision, revision)
	setIfEmpty(&version.Branch)
	setIfEmpty(&version.BuildUser)
	setIfEmpty(&version.BuildDate, commitDate(settings["vcs.time"]))
}

// setIfEmpty sets *v, if empty, to the first non-empty candidate, else to "unknown".
func setIfEmpty(v *string, candidates ...string) {
	if *v != "" {
		return
	}
	*v = unknown
	for _, c := range candidates {
		if c != "" {
			*v = c
			return
		}
	}
}

// commitDate is the commit time of a vcs.time stamp in the layout of `make build`'s
// BuildDate; empty if there is none.
func commitDate(vcsTime string) string {
	t, err := time.Parse(time.RFC3339, vcsTime)
	if err != nil {
		return ""
	}
	return t.UTC().Format("20060102-15:04:05")
}
