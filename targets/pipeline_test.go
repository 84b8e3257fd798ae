package targets

import (
	"fmt"
	"strings"
	"testing"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/nova-image-exporter/nova_image_exporter/collector"
)

// pipelineEntries are clouds of each image API, one with quotas turned off, one whose TLS
// certificates are not verified.
var pipelineEntries = "clouds:\n" +
	tokenEntry("nova", "") +
	tokenEntry("glance", "    image_api: glance\n    image_endpoint_override: http://127.0.0.1:1/image\n") +
	tokenEntry("glance-no-quota", "    image_api: glance\n    image_quota: false\n    image_endpoint_override: http://127.0.0.1:1/image\n") +
	tokenEntry("ims", "    image_api: ims\n    image_endpoint_override: http://127.0.0.1:1/ims\n") +
	tokenEntry("unverified", "    verify: false\n")

// Pipeline.Build gives each cloud its image API under shared listings, asks quotas where
// its API reports them and neither --images.quota nor image_quota turns them off, exports
// its counters from the start, and says so in one line.
func TestPipelineBuildsEachCloud(t *testing.T) {
	for _, quotas := range []bool{true, false} {
		reg := prometheus.NewRegistry()
		var logs strings.Builder // Build runs within New
		pipeline := Pipeline{Metrics: collector.NewExporterMetrics(reg), Quotas: quotas, Logger: log.NewLogfmtLogger(&logs)}
		set, _, _, _ := setWithoutDefault(t, pipelineEntries, Options{Build: pipeline.Build, Forget: pipeline.Forget})
		for _, target := range set.Targets() {
			if target.Listings == nil || target.API == nil {
				t.Errorf("--images.quota=%t, cloud %s: listings %v, API %v", quotas, target.Cloud, target.Listings, target.API)
			}
		}
		wantOn := map[string]bool{"nova": false, "glance": quotas, "glance-no-quota": false, "ims": quotas, "unverified": false}
		for cloud, on := range wantOn {
			line := logLine(logs.String(), "cloud="+cloud+" ")
			if !strings.Contains(line, `msg="loaded cloud"`) || !strings.Contains(line, fmt.Sprintf("quotas=%t", on)) {
				t.Errorf("--images.quota=%t, cloud %s: log line %q, want loaded cloud with quotas=%t", quotas, cloud, line, on)
			}
		}
		if n := strings.Count(logs.String(), "TLS certificates of the cloud are not verified"); n != 1 ||
			!strings.Contains(logLine(logs.String(), "not verified"), "cloud=unverified") {
			t.Errorf("%d TLS warnings, want one for cloud unverified:\n%s", n, logs.String())
		}
		if n := testutil.CollectAndCount(reg, "nova_image_exporter_auth_failures_total"); n != len(wantOn) {
			t.Errorf("%d series of auth failures, want one per cloud (%d)", n, len(wantOn))
		}
	}
}

// logLine is the first line of logs that holds s.
func logLine(logs, s string) string {
	for line := range strings.Lines(logs) {
		if strings.Contains(line, s) {
			return line
		}
	}
	return ""
}

// passwordEntry is the entry name of a Keystone password cloud of imageAPI.
func passwordEntry(name, imageAPI string) string {
	return "  " + name + ":\n    image_api: " + imageAPI + "\n    auth:\n      auth_url: http://127.0.0.1:1/v3\n      username: demo\n      password: p\n" +
		"      user_domain_name: Default\n      project_name: demo\n      project_domain_name: Default\n"
}

// Project names are read where the auth type can read them from Keystone/IAM (password,
// application credential) and the image API sends owners (Glance, IMS): not for a
// pre-issued token, AK/SK or Nova; nor where the project metrics are off for the cloud.
func TestPipelineReadsProjectNamesWhereItCan(t *testing.T) {
	entries := "clouds:\n" + passwordEntry("password-glance", "glance") + passwordEntry("password-ims", "ims") +
		passwordEntry("password-glance-off", "glance") + "    project_metrics: false\n" +
		passwordEntry("password-nova", "nova") +
		tokenEntry("token-glance", "    image_api: glance\n    image_endpoint_override: http://127.0.0.1:1/image\n") +
		"  aksk-ims:\n    auth_type: aksk\n    image_api: ims\n    region_name: eu-de\n    auth:\n      ak: AK\n      sk: SK\n      project_id: 0123456789abcdef0123456789abcdef\n"
	var logs strings.Builder
	pipeline := Pipeline{Logger: log.NewLogfmtLogger(&logs), ProjectMetrics: true}
	set, _, setLogs, _ := setWithoutDefault(t, entries, Options{Build: pipeline.Build, Forget: pipeline.Forget})
	if strings.Contains(setLogs.String(), "level=error") {
		t.Fatalf("a cloud did not load: %s", setLogs.String())
	}
	if len(set.Targets()) != 6 {
		t.Fatalf("%d clouds loaded: %s\n%s", len(set.Targets()), setLogs.String(), logs.String())
	}
	for cloud, on := range map[string]bool{"password-glance": true, "password-ims": true, "password-glance-off": false, "password-nova": false, "token-glance": false, "aksk-ims": false} {
		line := logLine(logs.String(), "cloud="+cloud+" ")
		if !strings.Contains(line, `msg="loaded cloud"`) || !strings.Contains(line, fmt.Sprintf("project_names=%t", on)) {
			t.Errorf("cloud %s: log line %q, want loaded cloud with project_names=%t", cloud, line, on)
		}
	}
}
