package main

import (
	"io"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/version"
)

// keepVersion restores prometheus/common/version's variables when the test ends.
func keepVersion(t *testing.T) {
	t.Helper()
	saved := [...]string{version.Version, version.Revision, version.Branch, version.BuildDate}
	t.Cleanup(func() {
		version.Version, version.Revision, version.Branch, version.BuildDate = saved[0], saved[1], saved[2], saved[3]
	})
}

func TestVersionFromBuildInfo(t *testing.T) {
	keepVersion(t)
	vcs := []debug.BuildSetting{
		{Key: "-buildmode", Value: "exe"},
		{Key: "vcs", Value: "git"},
		{Key: "vcs.revision", Value: "0670b10c9a7f6d1e2b3c4d5e6f708192a3b4c5d6"},
		{Key: "vcs.time", Value: "2026-11-30T09:08:07Z"},
		{Key: "vcs.modified", Value: "true"},
	}
	tests := []struct {
		name                             string
		ldflags                          [4]string
		file                             string
		info                             *debug.BuildInfo
		version, revision, branch, built string
	}{
		{
			name: "go build in a checkout", file: "0.1.0",
			info:    &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261130090807-0670b10c9a7f+dirty"}, Settings: vcs},
			version: "0.1.0", revision: "0670b10c9a7f6d1e2b3c4d5e6f708192a3b4c5d6-modified", branch: "unknown", built: "20261130-09:08:07",
		},
		{
			name: "go install module@v0.2.0, no VERSION", info: &debug.BuildInfo{Main: debug.Module{Version: "v0.2.0"}},
			version: "0.2.0", revision: "unknown", branch: "unknown", built: "unknown",
		},
		{
			name: "-buildvcs=false", file: "0.1.0", info: &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}},
			version: "0.1.0", revision: "unknown", branch: "unknown", built: "unknown",
		},
		{
			name: "no build information", version: "unknown", revision: "unknown", branch: "unknown", built: "unknown",
		},
		{
			name: "make build's -ldflags win", ldflags: [4]string{"9.9.9", "abc", "main", "20261201-00:00:00"}, file: "0.1.0",
			info:    &debug.BuildInfo{Main: debug.Module{Version: "v0.2.0"}, Settings: vcs},
			version: "9.9.9", revision: "abc", branch: "main", built: "20261201-00:00:00",
		},
	}
	for _, tt := range tests {
		version.Version, version.Revision, version.Branch, version.BuildDate = tt.ldflags[0], tt.ldflags[1], tt.ldflags[2], tt.ldflags[3]
		fillVersion(tt.file, tt.info)
		got := [...]string{version.Version, version.Revision, version.Branch, version.BuildDate}
		if want := [...]string{tt.version, tt.revision, tt.branch, tt.built}; got != want {
			t.Errorf("%s: version, revision, branch, date = %q, want %q", tt.name, got, want)
		}
	}
}

// The test binary is a plain go build, without make build's -ldflags: what it reports is
// what a go build or go run user sees.
func TestPlainBuildReportsTheVersionFile(t *testing.T) {
	file, err := os.ReadFile("../../VERSION")
	if err != nil {
		t.Fatal(err)
	}
	want := strings.TrimSpace(string(file))
	base, logs := startExporter(t, "--demo")
	got, found := labelOf(scrape(t, base+"/metrics"), "nova_image_exporter_build_info", "version")
	if !found || got != want {
		t.Errorf("nova_image_exporter_build_info{version=%q} (found %v), want the VERSION file's %q", got, found, want)
	}
	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	page, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(page), "version="+want+",") {
		t.Errorf("the landing page does not show version %s:\n%s", want, page)
	}
	if !strings.Contains(logs.String(), "version="+want+",") {
		t.Errorf("the start-up log does not show version %s:\n%s", want, logs)
	}
}

// labelOf returns the value of label of the first sample of family name.
func labelOf(families map[string]*dto.MetricFamily, name, label string) (string, bool) {
	for _, m := range families[name].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == label {
				return l.GetValue(), true
			}
		}
	}
	return "", false
}
