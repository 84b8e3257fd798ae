package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/nova-image-exporter/nova_image_exporter/simulator"
)

// orphanProject is the simulator's project, the owner of the snapshots of orphanImages but
// one; otherProject owns the other, shared with it.
const (
	orphanProject = "0123456789abcdef0123456789abcdef"
	otherProject  = "fedcba9876543210fedcba9876543210"
)

// orphanImages are snapshots of servers in every state, of a deleted server, of a server that
// never existed here, another project's snapshot shared with the simulator's, and a base image.
func orphanImages(now time.Time) []simulator.Image {
	snapshot := func(id, server, owner string, size int64) simulator.Image {
		name := "snap-" + id
		return simulator.Image{ID: id, Name: &name, Status: "active", Size: &size, Created: now.Add(-time.Hour),
			Metadata: map[string]any{"image_type": "snapshot", "instance_uuid": server}, ServerID: server,
			Owner: owner, Visibility: "private"}
	}
	base, size := "base", int64(1<<30)
	shared := snapshot("s-other", "srv-other", otherProject, 64<<20)
	shared.Visibility = "shared"
	return []simulator.Image{
		snapshot("s-active", "srv-active", orphanProject, 1<<20),
		snapshot("s-shelved", "srv-shelved", orphanProject, 2<<20),
		snapshot("s-soft", "srv-soft", orphanProject, 4<<20),
		snapshot("s-error", "srv-error", orphanProject, 8<<20),
		snapshot("s-deleted", "srv-deleted", orphanProject, 16<<20),
		snapshot("s-gone", "srv-gone", orphanProject, 32<<20),
		shared,
		{ID: "base", Name: &base, Status: "active", Size: &size, Created: now.Add(-time.Hour), Metadata: map[string]any{},
			Owner: orphanProject, Visibility: "public"},
	}
}

// orphanServers are the cloud's servers: one in each state a server can be listed in, one
// deleted, and one of the other project.
var orphanServers = []simulator.Server{
	{ID: "srv-active", Name: "active"},
	{ID: "srv-shelved", Name: "shelved", Status: simulator.ServerShelvedOffloaded},
	{ID: "srv-soft", Name: "soft", Status: simulator.ServerSoftDeleted},
	{ID: "srv-error", Name: "error", Status: simulator.ServerError},
	{ID: "srv-deleted", Name: "deleted", Status: simulator.ServerDeleted},
	{ID: "srv-other", Name: "other", ProjectID: otherProject},
}

// orphanClouds reads the simulator through each image API, with orphaned snapshots on; ims
// through AK/SK, its servers on the simulator's ECS path.
func orphanClouds(simURL string) string {
	password := passwordAuth(simURL)
	return "clouds:\n  nova:\n    orphaned_snapshots: true\n" + password +
		"  glance:\n    image_api: glance\n    orphaned_snapshots: true\n" + password + fmt.Sprintf(`  ims:
    image_api: ims
    orphaned_snapshots: true
    auth_type: aksk
    auth: {ak: %s, sk: %s, project_id: %s}
    image_endpoint_override: %s
    compute_endpoint_override: %s/v2.1/%s
`, testAK, testSK, orphanProject, simURL, simURL, orphanProject)
}

// orphanScrape scrapes cloud's /probe through base, with nova_up 1.
func orphanScrape(t *testing.T, base, cloud string) map[string]*dto.MetricFamily {
	t.Helper()
	families := scrape(t, base+"/probe?cloud="+cloud)
	if up, _ := value(families, "nova_up", nil); up != 1 {
		t.Fatalf("%s: nova_up %v, want 1", cloud, up)
	}
	return families
}

// orphanSamples are the samples of nova_image_orphaned by image id.
func orphanSamples(families map[string]*dto.MetricFamily) map[string]float64 {
	samples := map[string]float64{}
	for _, m := range families["nova_image_orphaned"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "id" {
				samples[l.GetValue()] = m.GetGauge().GetValue()
			}
		}
	}
	return samples
}

// TestOrphanedSnapshotsThroughEveryAPI runs the exporter against the simulator's servers, as a
// project's member and as an admin, through each image API: a snapshot of a server in any
// state is not orphaned, one of a deleted or unknown server is; another project's snapshot
// is judged only by a listing of every project (an admin's on Nova; ECS has none), and
// Nova's, which sends no owner, only then.
func TestOrphanedSnapshotsThroughEveryAPI(t *testing.T) {
	own := map[string]float64{"s-active": 0, "s-shelved": 0, "s-soft": 0, "s-error": 0, "s-deleted": 1, "s-gone": 1}
	every := map[string]float64{"s-other": 0}
	for id, v := range own {
		every[id] = v
	}
	ecs := map[string]float64{}
	for id, v := range own {
		if id != "s-soft" {
			ecs[id] = v
		}
	}
	ownBytes := float64(16<<20 + 32<<20)
	for _, tc := range []struct {
		admin bool
		cloud string
		want  map[string]float64 // nova_image_orphaned by id
		// projects are the orphaned bytes by project_id; nil: no sample.
		projects map[string]float64
	}{
		{false, "nova", map[string]float64{}, nil},
		{false, "glance", own, map[string]float64{orphanProject: ownBytes}},
		{false, "ims", ecs, map[string]float64{orphanProject: ownBytes}},
		{true, "nova", every, map[string]float64{"": ownBytes}},
		{true, "glance", every, map[string]float64{orphanProject: ownBytes, otherProject: 0}},
		{true, "ims", ecs, map[string]float64{orphanProject: ownBytes}},
	} {
		name := fmt.Sprintf("%s admin=%v", tc.cloud, tc.admin)
		t.Run(name, func(t *testing.T) {
			sim := simulator.New(simulator.Options{Images: orphanImages(testNow), Servers: orphanServers, Admin: tc.admin,
				AccessKeys: []simulator.AccessKey{{AK: testAK, SK: testSK}}})
			srv := httptest.NewServer(sim)
			t.Cleanup(srv.Close)
			t.Setenv("OS_CLIENT_CONFIG_FILE", writeClouds(t, orphanClouds(srv.URL)))
			base, logs := startExporter(t, "--cloud="+tc.cloud)
			families := orphanScrape(t, base, tc.cloud)
			if up, ok := value(families, "nova_image_servers_up", nil); up != 1 || !ok {
				t.Fatalf("nova_image_servers_up %v (%v), want 1; log:\n%s", up, ok, logs)
			}
			got := orphanSamples(families)
			if tc.cloud == "ims" {
				// ECS has no SOFT_DELETED status: the simulator's ECS path leaves such a
				// server out as Nova's does without changes-since, and ECS's listing asks
				// for no second pass; a snapshot of one is not checked here.
				delete(got, "s-soft")
			}
			if !sameSamples(got, tc.want) {
				t.Errorf("nova_image_orphaned %v, want %v", got, tc.want)
			}
			bytes := map[string]float64{}
			for project := range tc.projects {
				if v, ok := value(families, "nova_orphaned_snapshots_size_bytes", map[string]string{"project_id": project}); ok {
					bytes[project] = v
				}
			}
			if tc.cloud == "ims" {
				bytes[orphanProject] -= 4 << 20 // s-soft's, as above
			}
			if n := len(families["nova_orphaned_snapshots_size_bytes"].GetMetric()); n != len(tc.projects) || !sameSamples(bytes, tc.projects) {
				t.Errorf("nova_orphaned_snapshots_size_bytes %v (%d samples), want %v", bytes, n, tc.projects)
			}
			if len(sim.ServerRequests()) == 0 {
				t.Errorf("no servers request")
			}
		})
	}
}

// sameSamples reports whether a and b hold the same values by key.
func sameSamples(a, b map[string]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// A server listing that fails, or is cut short by its page bound or its deadline, costs every
// orphan sample, never the listing: nova_up 1, nova_image_servers_up 0, one error line.
func TestFailedServerListingAgainstTheSimulator(t *testing.T) {
	for name, tc := range map[string]struct {
		fault simulator.Fault
		flags []string
		why   string // in the log line
	}{
		"500": {fault: simulator.Fault{Status: http.StatusInternalServerError}, why: "500"},
		// A page per server: the servers take more pages than the bound, Glance's images
		// (on pages of their own size) two.
		"page bound": {flags: []string{"--client.max-pages=3"}, why: "more than 3 pages"},
		// Abandoned a second after the listing ended.
		"hang": {fault: simulator.Fault{Hang: true}, why: "abandoned 5s after the image listing ended"},
	} {
		t.Run(name, func(t *testing.T) {
			sim := simulator.New(simulator.Options{Images: orphanImages(testNow), Servers: orphanServers, Admin: true, MaxLimit: 1})
			sim.SetServerFaults(func(int, *http.Request) simulator.Fault { return tc.fault })
			srv := httptest.NewServer(sim)
			t.Cleanup(func() { srv.CloseClientConnections(); srv.Close() })
			t.Setenv("OS_CLIENT_CONFIG_FILE", writeClouds(t, orphanClouds(srv.URL)))
			base, logs := startExporter(t, append([]string{"--cloud=glance"}, tc.flags...)...)
			families := orphanScrape(t, base, "glance")
			if up, ok := value(families, "nova_image_servers_up", nil); up != 0 || !ok {
				t.Errorf("nova_image_servers_up %v (%v), want 0", up, ok)
			}
			for _, family := range []string{"nova_image_orphaned", "nova_orphaned_snapshots", "nova_orphaned_snapshots_size_bytes"} {
				if n := len(families[family].GetMetric()); n != 0 {
					t.Errorf("%d %s samples beside a failed server listing, want none", n, family)
				}
			}
			if n := strings.Count(logs.String(), "server listing failed"); n != 1 || !strings.Contains(logs.String(), tc.why) {
				t.Errorf("%d log lines of the failed server listing, want 1 saying %q:\n%s", n, tc.why, logs)
			}
		})
	}
}
