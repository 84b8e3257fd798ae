package main

import (
	"fmt"
	"maps"
	"math"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/nova-image-exporter/nova_image_exporter/simulator"
)

// threeAPIClouds is a clouds.yaml with one cloud per image API, all over the simulator at
// simURL: nova and glance with a Keystone password (endpoints from the catalog), ims with
// AK/SK signing (endpoint overridden: the simulator serves IMS at its root).
func threeAPIClouds(simURL string) string {
	password := passwordAuth(simURL)
	return "clouds:\n  nova:\n" + password + "  glance:\n    image_api: glance\n" + password + fmt.Sprintf(`  ims:
    image_api: ims
    auth_type: aksk
    auth: {ak: %s, sk: %s, project_id: 0123456789abcdef0123456789abcdef}
    image_endpoint_override: %s
`, testAK, testSK, simURL)
}

// passwordAuth is the clouds.yaml lines of the simulator's Keystone account at simURL.
func passwordAuth(simURL string) string {
	return fmt.Sprintf(`    auth:
      auth_url: %s/v3
      username: demo
      password: %s
      user_domain_name: Default
      project_name: demo
      project_domain_name: Default
    region_name: RegionOne
`, simURL, testPassword)
}

// apiView is what one image API shows of a simulator image, as the exporter should export it.
type apiView struct {
	listed      bool
	apiStatus   string
	visibility  string
	owner       string
	size        *float64 // nil: no sample
	virtualSize *float64
}

// view is the documented difference of each API (docs/configuration.md, Image APIs): Nova's proxy leaves
// hidden images out, shows its own status, no visibility nor virtual size, and 0 for a
// size Glance has not got; Glance shows null as absent; IMS's __image_size is a string
// that the simulator sends as "0" for an image without data. Glance and IMS send the owner,
// Nova's proxy none.
func view(api string, img simulator.Image, novaStatus string) apiView {
	number := func(p *int64) *float64 {
		if p == nil {
			return nil
		}
		v := float64(*p)
		return &v
	}
	zero := 0.0
	v := apiView{listed: true, apiStatus: img.Status, size: number(img.Size), virtualSize: number(img.VirtualSize)}
	switch api {
	case "nova":
		v.listed, v.apiStatus, v.virtualSize = !img.Hidden, novaStatus, nil
		if v.size == nil {
			v.size = &zero
		}
	case "glance":
		v.visibility, v.owner = cmpOr(img.Visibility, "shared"), img.Owner
	case "ims":
		// IMS's virtual_size is "unavailable currently" (null), and a public image has no
		// __image_size (the vendor's examples).
		v.visibility, v.virtualSize, v.owner = "private", nil, img.Owner
		switch {
		case img.Visibility == "public" || img.Visibility == "community":
			v.visibility, v.size = "public", nil
		case v.size == nil:
			v.size = &zero
		}
	}
	return v
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// novaStatusOf maps a Glance status as Nova's proxy does, with its progress.
func novaStatusOf(glance string) (string, float64) {
	switch glance {
	case "active":
		return "ACTIVE", 1
	case "queued":
		return "SAVING", 0.25
	case "saving":
		return "SAVING", 0.5
	case "deleted", "pending_delete":
		return "DELETED", 0
	case "killed":
		return "ERROR", 0
	}
	return "UNKNOWN", 0
}

// The contract: one cloud read through each of the three APIs gives the same families,
// names and labels, and the same values apart from the documented differences.
func TestThreeAPIsOneContract(t *testing.T) {
	images := simulator.FullImages(testNow)
	sim := simulator.New(simulator.Options{Images: images, AccessKeys: []simulator.AccessKey{{AK: testAK, SK: testSK}}})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	t.Setenv("OS_CLIENT_CONFIG_FILE", writeClouds(t, threeAPIClouds(srv.URL)))
	base, logs := startExporter(t, "--images.page-size=3")

	scrapes := map[string]map[string]*dto.MetricFamily{}
	for _, api := range []string{"nova", "glance", "ims"} {
		families := scrape(t, base+"/probe?cloud="+api)
		scrapes[api] = families
		checkAPIView(t, api, families, images)
	}
	// Beyond each API's own view: the series every API shares are the very same.
	shared := func(api string) []string {
		return sharedSeries(scrapes[api], func(id string) bool { return id != simulator.DefaultIDHidden })
	}
	for _, api := range []string{"glance", "ims"} {
		if got, want := shared(api), shared("nova"); !slices.Equal(got, want) {
			t.Errorf("%s's shared series differ from nova's:\n%s", api, diffLines(want, got))
		}
	}
	// Glance lists in two passes: 10 images by 3 (the last page short, without a next
	// link), then the hidden one. IMS pages until an empty page: 11 images by 3, then none.
	for api, want := range map[string]int{simulator.APIGlance: 4 + 1, simulator.APIIMS: 4 + 1} {
		n := 0
		for _, r := range sim.Requests() {
			if r.API == api {
				n++
			}
		}
		if n != want {
			t.Errorf("%d %s requests for 11 images by 3, want %d", n, api, want)
		}
	}
	if strings.Contains(logs.String(), testSK) || strings.Contains(logs.String(), testPassword) {
		t.Errorf("a secret reached the log:\n%s", logs)
	}
}

// --images.project-metrics turns the project families on for every cloud, and a cloud's
// project_metrics overrides it either way.
func TestProjectMetricsSwitch(t *testing.T) {
	sim := simulator.New(simulator.Options{Images: simulator.FullImages(testNow), AccessKeys: []simulator.AccessKey{{AK: testAK, SK: testSK}}})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	password := passwordAuth(srv.URL)
	t.Setenv("OS_CLIENT_CONFIG_FILE", writeClouds(t, threeAPIClouds(srv.URL)+"  glance-off:\n    image_api: glance\n    project_metrics: false\n"+password+
		"  glance-on:\n    image_api: glance\n    project_metrics: true\n"+password))
	for _, tt := range []struct {
		flag string
		on   map[string]bool
	}{
		{"--images.project-metrics", map[string]bool{"glance": true, "ims": true, "glance-off": false, "glance-on": true, "nova": false}},
		{"--no-images.project-metrics", map[string]bool{"glance": false, "ims": false, "glance-off": false, "glance-on": true}},
	} {
		base, _ := startExporter(t, tt.flag)
		for cloud, on := range tt.on {
			families := scrape(t, base+"/probe?cloud="+cloud)
			public, found := value(families, "nova_project_images", map[string]string{"project_id": "public", "status": "ACTIVE"})
			if found != on || on && public != 1 {
				t.Errorf("%s, cloud %s: nova_project_images{project_id=\"public\"} %v (found %v), want it: %v", tt.flag, cloud, public, found, on)
			}
			if _, found := value(families, "nova_images_size_bytes", map[string]string{"status": "ACTIVE"}); !found {
				t.Errorf("%s, cloud %s: no nova_images_size_bytes", tt.flag, cloud)
			}
		}
	}
}

// checkAPIView asserts that families hold what api shows of images, image by image.
func checkAPIView(t *testing.T, api string, families map[string]*dto.MetricFamily, images []simulator.Image) {
	t.Helper()
	if up, _ := value(families, "nova_up", nil); up != 1 {
		t.Fatalf("%s: nova_up %v, want 1", api, up)
	}
	counts := map[string]float64{"ACTIVE": 0, "SAVING": 0, "DELETED": 0, "ERROR": 0, "UNKNOWN": 0}
	bytes := map[string]float64{"ACTIVE": 0, "SAVING": 0, "DELETED": 0, "ERROR": 0, "UNKNOWN": 0}
	type projectStatus struct{ project, status string }
	projectCounts, projectBytes := map[projectStatus]float64{}, map[projectStatus]float64{}
	listed := 0
	for _, img := range images {
		status, progress := novaStatusOf(img.Status)
		v := view(api, img, status)
		id := map[string]string{"id": img.ID}
		if _, found := value(families, "nova_image_status", id); found != v.listed {
			t.Errorf("%s: image %s (%s, hidden %v) listed %v, want %v", api, img.ID, img.Status, img.Hidden, found, v.listed)
		}
		if !v.listed {
			continue
		}
		listed++
		counts[status]++
		size := 0.0
		if v.size != nil {
			size = *v.size
		}
		bytes[status] += size
		if v.owner != "" {
			projectCounts[projectStatus{v.owner, status}]++
			projectBytes[projectStatus{v.owner, status}] += size
		}
		info := map[string]string{"id": img.ID, "api_status": v.apiStatus, "visibility": v.visibility, "server_id": img.ServerID, "owner": v.owner}
		if _, found := value(families, "nova_image_info", info); !found {
			t.Errorf("%s: image %s: no nova_image_info%v", api, img.ID, info)
		}
		expect := map[string]*float64{
			"nova_image_size_bytes":                v.size,
			"nova_image_virtual_size_bytes":        v.virtualSize,
			"nova_image_progress_ratio":            &progress,
			"nova_image_min_disk_bytes":            ptr(float64(img.MinDisk) * math.Pow(2, 30)),
			"nova_image_min_ram_bytes":             ptr(float64(img.MinRAM) * math.Pow(2, 20)),
			"nova_image_created_timestamp_seconds": ptr(float64(img.Created.Unix())),
		}
		if img.Updated != nil {
			expect["nova_image_updated_timestamp_seconds"] = ptr(float64(img.Updated.Unix()))
		}
		for metric, want := range expect {
			got, found := value(families, metric, id)
			switch {
			case want == nil && found:
				t.Errorf("%s: %s{id=%q} = %v, want no sample", api, metric, img.ID, got)
			case want != nil && (!found || got != *want):
				t.Errorf("%s: %s{id=%q} = %v (found %v), want %v", api, metric, img.ID, got, found, *want)
			}
		}
	}
	for status, want := range counts {
		if got, _ := value(families, "nova_images", map[string]string{"status": status}); got != want {
			t.Errorf("%s: nova_images{status=%q} = %v, want %v", api, status, got, want)
		}
		if got, found := value(families, "nova_images_size_bytes", map[string]string{"status": status}); !found || got != bytes[status] {
			t.Errorf("%s: nova_images_size_bytes{status=%q} = %v (found %v), want %v", api, status, got, found, bytes[status])
		}
	}
	for key, want := range projectCounts {
		labels := map[string]string{"project_id": key.project, "status": key.status}
		if got, _ := value(families, "nova_project_images", labels); got != want {
			t.Errorf("%s: nova_project_images%v = %v, want %v", api, labels, got, want)
		}
		if got, found := value(families, "nova_project_images_size_bytes", labels); !found || got != projectBytes[key] {
			t.Errorf("%s: nova_project_images_size_bytes%v = %v (found %v), want %v", api, labels, got, found, projectBytes[key])
		}
	}
	if (api == "nova") != (len(projectCounts) == 0) {
		t.Errorf("%s: projects %v: want none through nova only", api, projectCounts)
	}
	for _, family := range []string{"nova_project_images", "nova_project_images_size_bytes"} {
		if n := len(families[family].GetMetric()); n != len(projectCounts) {
			t.Errorf("%s: %d %s series, want %d (one per project and status it has images in)", api, n, family, len(projectCounts))
		}
	}
	if n := len(families["nova_image_status"].GetMetric()); n != listed {
		t.Errorf("%s: %d images exported, want %d", api, n, listed)
	}
}

func ptr(v float64) *float64 { return &v }

// sharedSeries are the samples every API gives alike, as sorted text, for the images keep
// accepts (the counts, which include every image listed, are checked by checkAPIView): status, minimums, progress, times, and nova_image_info without the
// labels that differ by design (api_status, visibility, owner).
func sharedSeries(families map[string]*dto.MetricFamily, keep func(id string) bool) []string {
	var lines []string
	for _, name := range []string{"nova_image_status", "nova_image_min_disk_bytes", "nova_image_min_ram_bytes",
		"nova_image_progress_ratio", "nova_image_created_timestamp_seconds", "nova_image_updated_timestamp_seconds", "nova_image_info"} {
		for _, m := range families[name].GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				if l.GetName() != "api_status" && l.GetName() != "visibility" && l.GetName() != "owner" {
					labels[l.GetName()] = l.GetValue()
				}
			}
			if id, ok := labels["id"]; ok && !keep(id) {
				continue
			}
			var parts []string
			for _, k := range slices.Sorted(maps.Keys(labels)) {
				parts = append(parts, k+"="+labels[k])
			}
			lines = append(lines, fmt.Sprintf("%s{%s} %v", name, strings.Join(parts, ","), m.GetGauge().GetValue()))
		}
	}
	sort.Strings(lines)
	return lines
}

// diffLines shows the lines only one of want and got has.
func diffLines(want, got []string) string {
	var b strings.Builder
	for _, l := range want {
		if !slices.Contains(got, l) {
			b.WriteString("- " + l + "\n")
		}
	}
	for _, l := range got {
		if !slices.Contains(want, l) {
			b.WriteString("+ " + l + "\n")
		}
	}
	return b.String()
}

// Each option reaches the API as its own filter, or is refused by name: never dropped.
func TestOptionsPerAPI(t *testing.T) {
	sim := simulator.New(simulator.Options{Images: simulator.FullImages(testNow), AccessKeys: []simulator.AccessKey{{AK: testAK, SK: testSK}}})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	clouds := writeClouds(t, threeAPIClouds(srv.URL))
	t.Setenv("OS_CLIENT_CONFIG_FILE", clouds)
	base, _ := startExporter(t)

	for _, tt := range []struct{ query, want string }{
		{"cloud=glance&imagetype=gold", "imagetype: the glance image API has no such filter (image_api glance)"},
		{"cloud=nova&imagetype=gold", "imagetype: the nova image API has no such filter (image_api nova)"},
		{"cloud=ims&type=snapshot", "type: the ims image API has no such filter (image_api ims)"},
		{"cloud=ims&server=" + simulator.DefaultSnapshotServerID, "server: the ims image API has no such filter"},
		{"cloud=ims&status=importing", `status "importing": the ims image API filters only on queued, saving, deleted, killed or active`},
	} {
		before := len(sim.Requests())
		if code, body := probe(t, base, tt.query); code != 400 || !strings.Contains(body, tt.want) {
			t.Errorf("?%s: %d %q, want 400 with %q", tt.query, code, body, tt.want)
		}
		if len(sim.Requests()) != before {
			t.Errorf("?%s: refused, yet the API was called", tt.query)
		}
	}
	for _, tt := range []struct{ query, api, wantQuery string }{
		{"cloud=glance&type=snapshot&changes-since=2026-11-01T00:00:00Z", simulator.APIGlance, "image_type=snapshot&limit=1000&updated_at=gte%3A2026-11-01T00%3A00%3A00Z"},
		{"cloud=glance&server=" + simulator.DefaultSnapshotServerID, simulator.APIGlance, "instance_uuid=" + simulator.DefaultSnapshotServerID + "&limit=1000"},
		{"cloud=ims&imagetype=private&min-ram=512", simulator.APIIMS, "__imagetype=private&limit=500&min_ram=512"},
	} {
		before := len(sim.Requests())
		if code, body := probe(t, base, tt.query); code != 200 || !strings.Contains(body, "nova_up 1") {
			t.Fatalf("?%s: %d\n%s", tt.query, code, body)
		}
		first := sim.Requests()[before]
		if first.API != tt.api || first.RawQuery != tt.wantQuery {
			t.Errorf("?%s: the %s API was asked %q, want the %s API asked %q", tt.query, first.API, first.RawQuery, tt.api, tt.wantQuery)
		}
	}

	// As flags, an option a cloud's API cannot express fails that cloud alone, naming both.
	var stdout, stderr strings.Builder
	err := run(t.Context(), time.Now, []string{"--config.check", "--images.imagetype=gold"}, &stdout, &stderr)
	if err == nil || !strings.Contains(stdout.String(), `FAILED  cloud "glance": --images.imagetype: the glance image API has no such filter`) ||
		!strings.Contains(stdout.String(), "ok      ims\n") {
		t.Errorf("--images.imagetype=gold with a glance cloud: %v\n%s, want glance FAILED and ims ok", err, stdout.String())
	}
	// An unknown image_api too, naming the cloud and the value.
	t.Setenv("OS_CLIENT_CONFIG_FILE", writeClouds(t, threeAPIClouds(srv.URL)+"  typo:\n    image_api: cinder\n    auth: {auth_url: http://127.0.0.1:1/v3}\n"))
	stdout.Reset()
	err = run(t.Context(), time.Now, []string{"--config.check"}, &stdout, &stderr)
	if err == nil || !strings.Contains(stdout.String(), `cloud "typo": image_api "cinder" is not supported (want nova, glance, ims)`) ||
		!strings.Contains(stdout.String(), "ok      glance\n") {
		t.Errorf("image_api: cinder: %v\n%s, want typo FAILED and the others ok", err, stdout.String())
	}
}
