//go:build integration

package main

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"testing"

	dto "github.com/prometheus/client_model/go"
)

// projectsRealstack is what up.sh seeds for the two projects: the second project, its images,
// and the admin's project, which owns the public image.
type projectsRealstack struct {
	realstack
	project2ID, project2Name, adminProjectID string
}

func loadProjectsRealstack(t *testing.T) projectsRealstack {
	t.Helper()
	rs := projectsRealstack{realstack: loadRealstack(t)}
	for name, v := range map[string]*string{"PROJECT2_ID": &rs.project2ID, "PROJECT2_NAME": &rs.project2Name, "ADMIN_PROJECT_ID": &rs.adminProjectID} {
		if *v = os.Getenv(name); *v == "" {
			t.Fatalf("%s is not set: re-run scripts/realstack/up.sh (it seeds a second project) and source its images.env", name)
		}
	}
	for _, name := range []string{"IMG2_PRIVATE", "IMG2_QUEUED", "IMG2_SHARED"} {
		if rs.images[name] = os.Getenv(name); rs.images[name] == "" {
			t.Fatalf("%s is not set: re-run scripts/realstack/up.sh", name)
		}
	}
	return rs
}

// adminGlanceCloud is a clouds.yaml entry realstack-admin-glance reading the real Glance as the
// realstack's admin, scoped to the admin project.
func (rs projectsRealstack) adminGlanceCloud(t *testing.T) string {
	t.Helper()
	password := os.Getenv("ADMIN_PASSWORD")
	if password == "" {
		t.Fatal("ADMIN_PASSWORD is not set: source the realstack's images.env")
	}
	return fmt.Sprintf(`  realstack-admin-glance:
    image_api: glance
    auth:
      auth_url: %s
      username: admin
      password: %s
      user_domain_name: Default
      project_name: admin
      project_domain_name: Default
    region_name: RegionOne
    interface: public
`, rs.authURL, password)
}

// ownerTally is what Glance's own answer says each owning project holds, by Nova status: images
// and bytes (an image without data, size null, counts 0 bytes).
type ownerTally struct{ images, bytes map[string]map[string]float64 }

func tallyOwners(t *testing.T, glance map[string]glanceImage) ownerTally {
	t.Helper()
	tally := ownerTally{images: map[string]map[string]float64{}, bytes: map[string]map[string]float64{}}
	for id, img := range glance {
		owner, _ := img["owner"].(string)
		if owner == "" {
			t.Fatalf("Glance sends no owner for %s: the test's premise is wrong", id)
		}
		status, _ := novaStatusOf(img["status"].(string))
		if tally.images[owner] == nil {
			tally.images[owner], tally.bytes[owner] = map[string]float64{}, map[string]float64{}
		}
		tally.images[owner][status]++
		size, _ := number(img["size"])
		tally.bytes[owner][status] += size
	}
	return tally
}

// compareProjects checks nova_project_images and nova_project_images_size_bytes against
// Glance's tally: every owner and status with images has exactly Glance's count and bytes, and
// every series names an owner Glance gives, with 0 where it lists no image of that status.
func compareProjects(t *testing.T, families map[string]*dto.MetricFamily, tally ownerTally) {
	t.Helper()
	for name, want := range map[string]map[string]map[string]float64{
		"nova_project_images": tally.images, "nova_project_images_size_bytes": tally.bytes,
	} {
		for owner, byStatus := range want {
			for status, n := range byStatus {
				got, found := value(families, name, map[string]string{"project_id": owner, "status": status})
				if !found || got != n {
					t.Errorf("%s{project_id=%q,status=%q} = %v (present %v), Glance's listing gives %v", name, owner, status, got, found, n)
				}
			}
		}
		for _, m := range families[name].GetMetric() {
			labels := labelsOf(m)
			byStatus, known := want[labels["project_id"]]
			if !known {
				t.Errorf("%s: a series for project %q, which owns no image Glance lists", seriesLine(name, m), labels["project_id"])
			} else if got := m.GetGauge().GetValue(); got != byStatus[labels["status"]] {
				t.Errorf("%s: Glance's listing gives %v", seriesLine(name, m), byStatus[labels["status"]])
			}
		}
	}
}

// projectNames returns nova_project_info's samples as project_id → project_name, failing on a
// sample that is not 1 or not in the domain "default" (every realstack project's).
func projectNames(t *testing.T, families map[string]*dto.MetricFamily) map[string]string {
	t.Helper()
	names := map[string]string{}
	for _, m := range families["nova_project_info"].GetMetric() {
		labels := labelsOf(m)
		if m.GetGauge().GetValue() != 1 || labels["domain_id"] != "default" {
			t.Errorf("%s, want 1 with domain_id \"default\"", seriesLine("nova_project_info", m))
		}
		names[labels["project_id"]] = labels["project_name"]
	}
	return names
}

// TestIntegrationProjectsByOwner: two projects, the admin's listing splits their images by owner
// and nova_project_info names them. The realstack's admin reads the real Glance, which lists
// every project's images to it (demo's, demo2's private ones included, and the public image
// the admin project owns); the per-project families must give, per owner and status, what
// Glance's own answer to the admin's token gives, owner for owner, and nova_project_info the
// names Keystone has. Then demo's member: its listing holds the public image (the admin
// project's) and demo2's image shared with demo, which count under their owners, never under
// demo; and Keystone lets it read only its own project's name.
func TestIntegrationProjectsByOwner(t *testing.T) {
	rs := loadProjectsRealstack(t)
	demo, demo2, admin := rs.projectID, rs.project2ID, rs.adminProjectID
	adminToken := rs.adminToken(t)
	asAdmin, _ := rs.glanceImages(t, adminToken)
	tally := tallyOwners(t, asAdmin)
	if tally.images[demo] == nil || tally.images[demo2] == nil || tally.images[admin] == nil {
		t.Fatalf("the admin's Glance listing has images of %v, want demo's, demo2's and the admin project's: the test's premise is wrong",
			slices.Sorted(maps.Keys(tally.images)))
	}
	if owner := asAdmin[rs.images["IMG2_PRIVATE"]]["owner"]; owner != demo2 {
		t.Fatalf("demo2's private image %s: owner %v in the admin's listing, want %s", rs.images["IMG2_PRIVATE"], owner, demo2)
	}

	t.Setenv("OS_CLIENT_CONFIG_FILE", writeClouds(t, rs.glanceClouds(rs.adminGlanceCloud(t))))
	base, logs := startExporter(t, "--cloud=realstack-admin-glance")
	byAdmin := scrape(t, base+"/metrics")
	if up, _ := value(byAdmin, "nova_up", nil); up != 1 {
		t.Fatalf("the admin's listing: nova_up = %v, want 1\n%s", up, logs)
	}

	t.Run("the admin's listing split by owner", func(t *testing.T) {
		compareProjects(t, byAdmin, tally)
		for id, img := range asAdmin {
			if _, found := value(byAdmin, "nova_image_info", map[string]string{"id": id, "owner": img["owner"].(string)}); !found {
				t.Errorf("image %s: no nova_image_info with owner %v", id, img["owner"])
			}
		}
		var total, bytes float64
		for owner := range tally.images {
			for status, n := range tally.images[owner] {
				total += n
				bytes += tally.bytes[owner][status]
			}
		}
		var sum float64
		for _, m := range byAdmin["nova_images_size_bytes"].GetMetric() {
			sum += m.GetGauge().GetValue()
		}
		if sum != bytes {
			t.Errorf("nova_images_size_bytes sums to %v, Glance's listing holds %v bytes in %v images", sum, bytes, total)
		}
	})
	t.Run("nova_project_info names both projects", func(t *testing.T) {
		names := projectNames(t, byAdmin)
		want := map[string]string{demo: rs.projectName, demo2: rs.project2Name, admin: "admin"}
		if !maps.Equal(names, want) {
			t.Errorf("nova_project_info names %v, want %v: the admin reads every owner's name", names, want)
		}
	})

	t.Run("a member's listing counts others' images under their owners", func(t *testing.T) {
		asMember, _ := rs.glanceImages(t, rs.token(t))
		for image, owner := range map[string]string{"IMG_PUBLIC": admin, "IMG2_SHARED": demo2} {
			if got := asMember[rs.images[image]]["owner"]; got != owner {
				t.Fatalf("%s %s: owner %v in the member's listing, want %s: the test's premise is wrong", image, rs.images[image], got, owner)
			}
		}
		byMember := scrape(t, base+"/probe?cloud=realstack-glance")
		if up, _ := value(byMember, "nova_up", nil); up != 1 {
			t.Fatalf("the member's listing: nova_up = %v, want 1\n%s", up, logs)
		}
		compareProjects(t, byMember, tallyOwners(t, asMember))
		if names := projectNames(t, byMember); !maps.Equal(names, map[string]string{demo: rs.projectName}) {
			t.Errorf("nova_project_info for demo's member names %v, want only its own project %s=%s (Keystone answers 403 for the others)",
				names, demo, rs.projectName)
		}
	})
}
