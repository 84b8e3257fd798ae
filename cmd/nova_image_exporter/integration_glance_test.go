//go:build integration

package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
)

// glanceImage is one image as the real Glance returns it, decoded generically.
type glanceImage map[string]any

// glanceImages lists GET /v2/images, then GET /v2/images?os_hidden=true (a listing leaves
// hidden images out unless asked), each paged through its next links, with token and
// without the exporter's code. It returns every image by id and the ids of the hidden ones.
// glanceClouds is a clouds.yaml whose cloud realstack-glance reads the real Glance as the
// demo user, followed by more entries, which may refer to its auth as *auth.
func (rs realstack) glanceClouds(more string) string {
	return fmt.Sprintf(`clouds:
  realstack-glance:
    image_api: glance
    auth: &auth
      auth_url: %s
      username: %s
      password: %s
      user_domain_name: Default
      project_name: %s
      project_domain_name: Default
    region_name: RegionOne
    interface: public
`, rs.authURL, rs.username, rs.password, rs.projectName) + more
}

func (rs realstack) glanceImages(t *testing.T, token string) (map[string]glanceImage, map[string]bool) {
	t.Helper()
	root := os.Getenv("GLANCE_URL")
	if root == "" {
		t.Fatal("GLANCE_URL is not set: source the realstack's env.sh")
	}
	base, err := url.Parse(root)
	if err != nil {
		t.Fatal(err)
	}
	all, hidden := map[string]glanceImage{}, map[string]bool{}
	for _, first := range []string{"/v2/images?limit=3", "/v2/images?limit=3&os_hidden=true"} {
		for next, pages := first, 0; next != ""; pages++ {
			if pages == 100 {
				t.Fatalf("Glance: more than 100 pages from %s", first)
			}
			ref, err := url.Parse(next)
			if err != nil {
				t.Fatalf("Glance's next %q: %v", next, err)
			}
			req, _ := http.NewRequest(http.MethodGet, base.ResolveReference(ref).String(), nil)
			req.Header.Set("X-Auth-Token", token)
			resp, err := httpClient.Do(req)
			if err != nil {
				t.Fatalf("Glance: %v", err)
			}
			var page struct {
				Images []glanceImage `json:"images"`
				Next   string        `json:"next"`
			}
			err = json.NewDecoder(resp.Body).Decode(&page)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("Glance %s answered %d, %v", next, resp.StatusCode, err)
			}
			for _, img := range page.Images {
				id := img["id"].(string)
				if _, dup := all[id]; dup {
					t.Fatalf("Glance lists %s twice", id)
				}
				all[id] = img
				if img["os_hidden"] == true {
					hidden[id] = true
				}
			}
			next = page.Next
		}
	}
	return all, hidden
}

// imageSeries indexes the per-image series of families: family → image id → samples.
func imageSeries(families map[string]*dto.MetricFamily) map[string]map[string][]*dto.Metric {
	out := map[string]map[string][]*dto.Metric{}
	for name, family := range families {
		for _, m := range family.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "id" {
					if out[name] == nil {
						out[name] = map[string][]*dto.Metric{}
					}
					out[name][l.GetValue()] = append(out[name][l.GetValue()], m)
				}
			}
		}
	}
	return out
}

func labelsOf(m *dto.Metric) map[string]string {
	labels := map[string]string{}
	for _, l := range m.GetLabel() {
		labels[l.GetName()] = l.GetValue()
	}
	return labels
}

// seriesLine prints one sample with its labels but those in skip, for comparing and for
// error messages.
func seriesLine(name string, m *dto.Metric, skip ...string) string {
	labels := labelsOf(m)
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		if !slices.Contains(skip, k) {
			parts = append(parts, fmt.Sprintf("%s=%q", k, labels[k]))
		}
	}
	return fmt.Sprintf("%s{%s} %v", name, strings.Join(parts, ","), m.GetGauge().GetValue())
}

// glanceMetadataLabels are the --images.metadata-label keys of the Glance test; the
// realstack's images carry both as properties.
var glanceMetadataLabels = []string{"image_type", "os_distro"}

// TestIntegrationGlanceAPI reads the real Glance through image_api glance, the endpoint
// taken from the Keystone catalog, in pages of 2, and checks every image against Glance's
// own answer; then checks that the same cloud read through image_api nova gives the same
// series for every image Nova lists, apart from the differences docs/configuration.md documents.
func TestIntegrationGlanceAPI(t *testing.T) {
	rs := loadRealstack(t)
	for _, name := range []string{"IMG_HIDDEN", "IMG_UPLOADING"} {
		rs.images[name] = os.Getenv(name)
		if rs.images[name] == "" {
			t.Fatalf("%s is not set: re-run scripts/realstack/up.sh (it seeds a hidden and an uploading image)", name)
		}
	}
	token := rs.token(t)
	glance, hidden := rs.glanceImages(t, token)
	nova := rs.novaImages(t, token)
	if !hidden[rs.images["IMG_HIDDEN"]] {
		t.Fatalf("Glance does not list the seeded hidden image %s with os_hidden=true", rs.images["IMG_HIDDEN"])
	}
	if got := glance[rs.images["IMG_UPLOADING"]]["status"]; got != "uploading" {
		t.Fatalf("the seeded IMG_UPLOADING is %v in Glance, want uploading", got)
	}
	for id := range hidden {
		if _, listed := nova[id]; listed {
			t.Errorf("Nova lists the hidden image %s: the test's premise is wrong", id)
		}
	}
	for id := range nova {
		if glance[id] == nil {
			t.Errorf("Nova lists %s, Glance does not", id)
		}
	}

	clouds := writeClouds(t, rs.glanceClouds(`  realstack-nova:
    image_api: nova
    auth: *auth
    region_name: RegionOne
    interface: public
`))
	t.Setenv("OS_CLIENT_CONFIG_FILE", clouds)
	args := []string{"--cloud=realstack-glance", "--images.page-size=2"}
	for _, key := range glanceMetadataLabels {
		args = append(args, "--images.metadata-label="+key)
	}
	base, logs := startExporter(t, args...)
	byGlance := scrape(t, base+"/metrics")
	// One page for Nova: each of its requests costs seconds here (it checks the token and
	// asks Glance); its paging is tested in TestIntegrationAgainstRealNova.
	byNova := scrape(t, base+"/probe?cloud=realstack-nova&page-size=0")
	for api, families := range map[string]map[string]*dto.MetricFamily{"glance": byGlance, "nova": byNova} {
		if up, _ := value(families, "nova_up", nil); up != 1 {
			t.Fatalf("image_api %s: nova_up = %v, want 1\n%s", api, up, logs)
		}
	}
	// Pages of 2: Glance gives a next link after every full page, so a pass over n images
	// takes n/2+1 requests; one pass lists the shown images, one the hidden ones. One more
	// request is the quota's (/v2/info/usage, on by default for image_api glance).
	wantPages := (len(glance)-len(hidden))/2 + 1 + len(hidden)/2 + 1
	if got, _ := value(byGlance, "nova_image_exporter_api_requests_total", map[string]string{"cloud": "realstack-glance", "code": "200"}); got != float64(wantPages+1) {
		t.Errorf("%v requests to Glance answered 200, want %d pages of 2 (%d images, %d hidden) and the quota request", got, wantPages, len(glance), len(hidden))
	}

	t.Run("every image as Glance answers", func(t *testing.T) { compareWithGlance(t, byGlance, glance) })
	t.Run("the same series as the nova API", func(t *testing.T) { compareAPIs(t, byGlance, byNova, glance, nova, hidden) })
	t.Run("the seeded images", func(t *testing.T) {
		for image, want := range map[string]map[string]string{
			"IMG_HIDDEN":      {"status": "ACTIVE", "api_status": "active", "metadata_os_distro": "cirros"},
			"IMG_UPLOADING":   {"status": "UNKNOWN", "api_status": "uploading", "metadata_os_distro": "debian"},
			"IMG_DEACTIVATED": {"status": "UNKNOWN", "api_status": "deactivated"},
			"IMG_QUEUED":      {"status": "SAVING", "api_status": "queued"},
			"IMG_SNAPSHOT":    {"status": "ACTIVE", "server_id": rs.images["SNAPSHOT_SERVER_UUID"], "metadata_image_type": "snapshot"},
			"IMG_PUBLIC":      {"visibility": "public"},
		} {
			id := rs.images[image]
			status := want["status"]
			delete(want, "status")
			want["id"] = id
			if _, found := value(byGlance, "nova_image_info", want); !found {
				t.Errorf("%s %s: no nova_image_info with %v", image, id, want)
			}
			if _, found := value(byGlance, "nova_image_status", map[string]string{"id": id, "status": cmpOr(status, "ACTIVE")}); !found {
				t.Errorf("%s %s: not %s", image, id, cmpOr(status, "ACTIVE"))
			}
		}
	})
	t.Run("an option glance cannot express", func(t *testing.T) {
		code, body := probe(t, base, "cloud=realstack-glance&imagetype=gold")
		if code != http.StatusBadRequest || !strings.Contains(body, "imagetype: the glance image API has no such filter") {
			t.Errorf("?imagetype=gold on the glance cloud: %d %q, want 400 naming imagetype and glance", code, body)
		}
	})
}

// compareWithGlance checks that families hold, for every image Glance lists (hidden ones
// included), exactly the samples Glance's own answer gives, and nothing else.
func compareWithGlance(t *testing.T, families map[string]*dto.MetricFamily, want map[string]glanceImage) {
	series := imageSeries(families)
	for name, ids := range series {
		for id, ms := range ids {
			if want[id] == nil {
				t.Errorf("%s: a series for %s, which Glance does not list", name, id)
			}
			if len(ms) != 1 {
				t.Errorf("%s: %d series for %s, want 1", name, len(ms), id)
			}
		}
	}
	counts := map[string]float64{"ACTIVE": 0, "SAVING": 0, "DELETED": 0, "ERROR": 0, "UNKNOWN": 0}
	for id, img := range want {
		glanceStatus := img["status"].(string)
		status, progress := novaStatusOf(glanceStatus)
		counts[status]++
		name, _ := img["name"].(string)
		if _, found := value(families, "nova_image_status", map[string]string{"id": id, "name": name, "status": status}); !found {
			t.Errorf("image %s (%q, Glance %s): no nova_image_status{status=%q}", id, name, glanceStatus, status)
		}
		info := map[string]string{"id": id, "name": name, "api_status": glanceStatus, "visibility": img["visibility"].(string), "owner": img["owner"].(string)}
		info["server_id"], _ = img["instance_uuid"].(string)
		for _, key := range glanceMetadataLabels {
			info["metadata_"+key], _ = img[key].(string)
		}
		if ms := series["nova_image_info"][id]; len(ms) != 1 || !maps.Equal(labelsOf(ms[0]), info) {
			t.Errorf("image %s: nova_image_info %v, want exactly the labels %v", id, ms, info)
		}
		timestamp := func(key string) func() (float64, bool) {
			return func() (float64, bool) { return unixTime(t, img[key]) }
		}
		expect := map[string]func() (float64, bool){
			"nova_image_size_bytes":                func() (float64, bool) { return number(img["size"]) },
			"nova_image_virtual_size_bytes":        func() (float64, bool) { return number(img["virtual_size"]) },
			"nova_image_min_disk_bytes":            func() (float64, bool) { v, ok := number(img["min_disk"]); return v * math.Pow(2, 30), ok },
			"nova_image_min_ram_bytes":             func() (float64, bool) { v, ok := number(img["min_ram"]); return v * math.Pow(2, 20), ok },
			"nova_image_progress_ratio":            func() (float64, bool) { return progress, true },
			"nova_image_created_timestamp_seconds": timestamp("created_at"),
			"nova_image_updated_timestamp_seconds": timestamp("updated_at"),
		}
		for metric, fromGlance := range expect {
			wantValue, present := fromGlance()
			got, found := value(families, metric, map[string]string{"id": id})
			if found != present || found && got != wantValue {
				t.Errorf("%s{id=%q}: exporter %v (present %v), Glance %v (present %v)", metric, id, got, found, wantValue, present)
			}
		}
	}
	for status, n := range counts {
		if got, _ := value(families, "nova_images", map[string]string{"status": status}); got != n {
			t.Errorf("nova_images{status=%q} = %v, Glance lists %v", status, got, n)
		}
	}
}

// compareAPIs checks that for every image Nova lists, the glance API's per-image series are
// the nova API's, apart from what docs/configuration.md documents: api_status, visibility and owner on
// nova_image_info (Nova has no visibility; its status is one of its five), a virtual size
// only Glance gives, and no size where Glance's is null (Nova says 0). Hidden images are in
// the glance API's output only.
func compareAPIs(t *testing.T, byGlance, byNova map[string]*dto.MetricFamily, glance map[string]glanceImage, nova map[string]novaImage, hidden map[string]bool) {
	fromGlance, fromNova := imageSeries(byGlance), imageSeries(byNova)
	for name, ids := range fromNova {
		for id := range ids {
			if nova[id] == nil {
				t.Errorf("nova API: %s for %s, which Nova does not list", name, id)
			}
		}
	}
	for id := range hidden {
		for name, ids := range fromNova {
			if len(ids[id]) != 0 {
				t.Errorf("the hidden image %s has %s through the nova API", id, name)
			}
		}
		if len(fromGlance["nova_image_status"][id]) != 1 {
			t.Errorf("the hidden image %s has no nova_image_status through the glance API", id)
		}
	}
	skip := []string{"api_status", "visibility", "owner"}
	for id, img := range nova {
		for _, name := range slices.Sorted(maps.Keys(fromGlance)) {
			var got, want []string
			for _, m := range fromGlance[name][id] {
				got = append(got, seriesLine(name, m, skip...))
			}
			for _, m := range fromNova[name][id] {
				want = append(want, seriesLine(name, m, skip...))
			}
			switch {
			case name == "nova_image_virtual_size_bytes":
				want = got // Glance's alone; checked against Glance above
			case name == "nova_image_size_bytes" && glance[id]["size"] == nil:
				// Checked on the real stack: Nova shows 0 where Glance's size is null.
				if size, ok := number(img["OS-EXT-IMG-SIZE:size"]); len(got) != 0 || !ok || size != 0 {
					t.Errorf("image %s: Glance's size is null, Nova's %v; glance API %v", id, img["OS-EXT-IMG-SIZE:size"], got)
				}
				continue
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("image %s: the glance API gives\n  %v\nthe nova API\n  %v", id, got, want)
			}
		}
		for _, name := range slices.Sorted(maps.Keys(fromNova)) {
			if len(fromNova[name][id]) != 0 && fromGlance[name] == nil {
				t.Errorf("image %s: %s through the nova API only", id, name)
			}
		}
		if _, found := value(byNova, "nova_image_info", map[string]string{"id": id, "api_status": img["status"].(string), "visibility": "", "owner": ""}); !found {
			t.Errorf("image %s: the nova API's nova_image_info has not api_status=%v and an empty visibility and owner", id, img["status"])
		}
	}
	for _, status := range []string{"ACTIVE", "SAVING", "DELETED", "ERROR", "UNKNOWN"} {
		n, _ := value(byNova, "nova_images", map[string]string{"status": status})
		g, _ := value(byGlance, "nova_images", map[string]string{"status": status})
		extra := 0.0
		for id := range hidden {
			if s, _ := novaStatusOf(glance[id]["status"].(string)); s == status {
				extra++
			}
		}
		if g != n+extra {
			t.Errorf("nova_images{status=%q}: glance API %v, nova API %v plus %v hidden", status, g, n, extra)
		}
	}
}
