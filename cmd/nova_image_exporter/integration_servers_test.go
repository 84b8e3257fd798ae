//go:build integration

package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/client/cloud"
	"github.com/nova-image-exporter/nova_image_exporter/client/compute"
)

// realServers are the servers scripts/realstack/servers.sh seeds, by their images.env names.
func realServers(t *testing.T) map[string]string {
	t.Helper()
	servers := map[string]string{}
	for _, name := range []string{"SERVER_ACTIVE", "SERVER_SHELVED", "SERVER_SOFT_DELETED", "SERVER_ERROR", "SERVER_BUILD",
		"SERVER_DELETED", "SERVER2_ACTIVE", "SERVER2_SOFT_DELETED"} {
		if servers[name] = os.Getenv(name); servers[name] == "" {
			t.Fatalf("%s is not set: re-run scripts/realstack/up.sh (it seeds the servers) and source its images.env", name)
		}
	}
	return servers
}

// listServers lists the servers of the clouds.yaml entry name with the exporter's client.
func listServers(t *testing.T, cloudsFile, name string) client.Servers {
	t.Helper()
	cfg, err := cloud.LoadCloud(cloudsFile, name)
	if err != nil {
		t.Fatal(err)
	}
	auth, opts, err := cfg.Connect(client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	servers, err := compute.New(auth, opts, compute.Nova).Servers(context.Background())
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return servers
}

// TestIntegrationServerListing: the real Nova's servers as the exporter lists them. The
// admin's listing (all_tenants) covers every project and every state but deleted,
// SOFT_DELETED included (a pass of its own); the member's, refused all_tenants, covers its
// own project alone.
func TestIntegrationServerListing(t *testing.T) {
	rs := loadProjectsRealstack(t)
	servers := realServers(t)
	file := writeClouds(t, rs.glanceClouds(rs.adminGlanceCloud(t)))
	ids := func(names ...string) []string {
		var out []string
		for _, name := range names {
			out = append(out, servers[name])
		}
		return slices.Sorted(slices.Values(out))
	}

	admin := listServers(t, file, "realstack-admin-glance")
	for _, id := range ids("SERVER_ACTIVE", "SERVER_SHELVED", "SERVER_SOFT_DELETED", "SERVER_ERROR", "SERVER_BUILD", "SERVER2_ACTIVE", "SERVER2_SOFT_DELETED") {
		if _, found := slices.BinarySearch(admin.IDs, id); !found {
			t.Errorf("the admin's listing %v lacks %s", admin.IDs, id)
		}
	}
	if _, found := slices.BinarySearch(admin.IDs, servers["SERVER_DELETED"]); found || !admin.AllProjects || admin.Project != rs.adminProjectID {
		t.Errorf("the admin's listing: %+v, want every project's (AllProjects, Project %s) without the deleted server", admin, rs.adminProjectID)
	}

	member := listServers(t, file, "realstack-glance")
	want := ids("SERVER_ACTIVE", "SERVER_SHELVED", "SERVER_SOFT_DELETED", "SERVER_ERROR", "SERVER_BUILD")
	if !slices.Equal(member.IDs, want) || member.AllProjects || member.Project != rs.projectID {
		t.Errorf("the member's listing: %+v, want %v of project %s alone", member, want, rs.projectID)
	}
}

// TestIntegrationOrphanedSnapshots: through the exporter and the real Glance and Nova, a
// snapshot whose instance_uuid names no server is orphaned, and the same image, pointed at a
// SOFT_DELETED server the real Nova lists, is not.
func TestIntegrationOrphanedSnapshots(t *testing.T) {
	rs := loadProjectsRealstack(t)
	servers := realServers(t)
	token := rs.token(t)
	status, body := rs.glanceTryCreateImage(t, token, "orphan-check-snapshot")
	id := imageID(t, status, body)
	rs.glancePatch(t, token, id, `[{"op": "add", "path": "/image_type", "value": "snapshot"},
		{"op": "add", "path": "/instance_uuid", "value": "00000000-dead-4000-8000-000000000000"}]`)

	t.Setenv("OS_CLIENT_CONFIG_FILE", writeClouds(t, rs.glanceClouds("")))
	base, logs := startExporter(t, "--cloud=realstack-glance", "--images.orphaned-snapshots")
	orphaned := func(image string) float64 {
		t.Helper()
		families := scrape(t, base+"/metrics")
		if up, _ := value(families, "nova_image_servers_up", nil); up != 1 {
			t.Fatalf("nova_image_servers_up = %v, want 1\n%s", up, logs)
		}
		v, found := value(families, "nova_image_orphaned", map[string]string{"id": image})
		if !found {
			t.Fatalf("no nova_image_orphaned for %s\n%s", image, logs)
		}
		return v
	}
	if v := orphaned(rs.images["IMG_SNAPSHOT"]); v != 1 {
		t.Errorf("IMG_SNAPSHOT, whose server %s does not exist: nova_image_orphaned = %v, want 1", rs.images["SNAPSHOT_SERVER_UUID"], v)
	}
	if v := orphaned(id); v != 1 {
		t.Errorf("a snapshot of no server: nova_image_orphaned = %v, want 1", v)
	}
	rs.glancePatch(t, token, id, fmt.Sprintf(`[{"op": "replace", "path": "/instance_uuid", "value": %q}]`, servers["SERVER_SOFT_DELETED"]))
	if v := orphaned(id); v != 0 {
		t.Errorf("the same snapshot of the SOFT_DELETED server %s: nova_image_orphaned = %v, want 0", servers["SERVER_SOFT_DELETED"], v)
	}
}

// imageID is the id of the image Glance's answer created.
func imageID(t *testing.T, status int, body string) string {
	t.Helper()
	_, rest, _ := strings.Cut(body, `"id": "`)
	id, _, _ := strings.Cut(rest, `"`)
	if status != http.StatusCreated || id == "" {
		t.Fatalf("creating an image: Glance answered %d %s", status, body)
	}
	return id
}

// glancePatch applies a JSON patch to image id with token.
func (rs realstack) glancePatch(t *testing.T, token, id, patch string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPatch, strings.TrimRight(os.Getenv("GLANCE_URL"), "/")+"/v2/images/"+id, strings.NewReader(patch))
	req.Header.Set("X-Auth-Token", token)
	req.Header.Set("Content-Type", "application/openstack-images-v2.1-json-patch")
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("Glance: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("patching image %s: Glance answered %d", id, resp.StatusCode)
	}
}
