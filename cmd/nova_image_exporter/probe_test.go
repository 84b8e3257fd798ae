package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nova-image-exporter/nova_image_exporter/simulator"
)

// twoClouds serves two simulated clouds with different images, and a clouds.yaml naming
// both plus one broken entry.
func twoClouds(t *testing.T) (a, b *simulator.Simulator, clouds string, yaml func(extra string) string) {
	t.Helper()
	a = simulator.New(simulator.Options{Images: simulator.DefaultImages(testNow)})
	b = simulator.New(simulator.Options{Images: simulator.GenerateImages(4, 9, testNow)})
	srvA, srvB := httptest.NewServer(a), httptest.NewServer(b)
	t.Cleanup(srvA.Close)
	t.Cleanup(srvB.Close)
	entry := func(name, url string) string {
		return fmt.Sprintf(`  %s:
    auth: {auth_url: %s/v3, username: demo, password: %s, user_domain_name: Default, project_name: demo, project_domain_name: Default}
`, name, url, testPassword)
	}
	yaml = func(extra string) string {
		return "clouds:\n" + entry("cloud-a", srvA.URL) + entry("cloud-b", srvB.URL) + extra
	}
	clouds = writeClouds(t, yaml("  broken:\n    auth_type: v2password\n    auth: {auth_url: http://127.0.0.1:1/v2.0}\n"))
	t.Setenv("OS_CLIENT_CONFIG_FILE", clouds)
	t.Setenv("OS_CLOUD", "")
	return a, b, clouds, yaml
}

func probe(t *testing.T, base, query string) (int, string) {
	t.Helper()
	resp, err := http.Get(base + "/probe?" + query)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestProbeTwoClouds(t *testing.T) {
	a, b, _, _ := twoClouds(t)
	base, logs := startExporter(t)
	for round := range 2 {
		for _, c := range []struct {
			name string
			want int
		}{{"cloud-a", len(simulator.DefaultImages(testNow))}, {"cloud-b", 4}} {
			code, body := probe(t, base, "cloud="+c.name)
			if code != http.StatusOK || !strings.Contains(body, "\nnova_up 1\n") {
				t.Fatalf("round %d, %s: %d\n%s\n%s", round, c.name, code, body, logs)
			}
			if n := strings.Count(body, "\nnova_image_status{"); n != c.want {
				t.Errorf("round %d, %s: %d images, want %d", round, c.name, n, c.want)
			}
			if strings.Contains(body, "go_goroutines") || strings.Contains(body, "nova_image_exporter_build_info") {
				t.Errorf("%s: /probe answers the exporter's own metrics too", c.name)
			}
		}
	}
	if a.TokenRequests() != 1 || b.TokenRequests() != 1 {
		t.Errorf("token requests %d and %d over two rounds, want 1 each: clients are built once per cloud", a.TokenRequests(), b.TokenRequests())
	}
	// Without a default cloud, /metrics is the exporter's own metrics only.
	metrics := get(t, base+"/metrics")
	if strings.Contains(metrics, "\nnova_up ") || !strings.Contains(metrics, `nova_image_exporter_api_requests_total{cloud="cloud-b",code="200"}`) {
		t.Errorf("/metrics without a default cloud:\n%s", metrics)
	}
	if page := get(t, base+"/"); !strings.Contains(page, `href="/probe?cloud=cloud-a"`) || !strings.Contains(page, `href="/metrics"`) {
		t.Errorf("the landing page does not link /metrics and /probe:\n%s", page)
	}
}

func TestProbeRejectsBadRequestsWithoutNetwork(t *testing.T) {
	a, b, _, _ := twoClouds(t)
	base, _ := startExporter(t)
	for query, want := range map[string]string{
		"":                                 "missing ?cloud=NAME",
		"cloud=nope":                       `unknown cloud "nope" (configured: "cloud-a", "cloud-b")`,
		"cloud=http://evil.example/":       `unknown cloud "http://evil.example/"`,
		"cloud=broken":                     `cloud "broken" cannot be probed: ` + "",
		"cloud=cloud-a&status=SAVINGS":     `status="SAVINGS": want a Glance status`,
		"cloud=cloud-a&min-ram=-1":         `min-ram="-1": want a whole number`,
		"cloud=cloud-a&changes-since=soon": `changes-since="soon": want an RFC 3339 time`,
		"cloud=cloud-a&target=x":           `unknown parameter "target"`,
		"cloud=cloud-a&name=x&name=y":      `name: given 2 times`,
		"cloud=cloud-a&cloud=cloud-b":      `cloud: given 2 times`,
	} {
		code, body := probe(t, base, query)
		if code != http.StatusBadRequest || !strings.Contains(body, want) || strings.Count(strings.TrimSpace(body), "\n") != 0 {
			t.Errorf("?%s: %d %q, want 400 with one line containing %q", query, code, body, want)
		}
	}
	if a.TokenRequests()+b.TokenRequests() != 0 || len(a.Requests())+len(b.Requests()) != 0 {
		t.Error("a rejected probe reached a cloud")
	}
}

func TestProbeFiltersReachTheAPI(t *testing.T) {
	a, _, _, _ := twoClouds(t)
	base, _ := startExporter(t, "--images.status=active", "--images.page-size=50", "--images.type=snapshot")
	probeQuery := url.Values{
		"status": {"queued"}, "name": {"Ubuntu 22.04 LTS – Ünïcödé 名前 test"}, "changes-since": {"2026-11-01T00:00:00Z"},
		"min-ram": {"512"}, "min-disk": {"1"}, "server": {simulator.DefaultSnapshotServerID}, "page-size": {"7"}, "type": {""},
	}
	code, body := probe(t, base, "cloud=cloud-a&"+probeQuery.Encode())
	if code != http.StatusOK {
		t.Fatalf("%d %s", code, body)
	}
	requests := a.Requests()
	if len(requests) == 0 {
		t.Fatal("no request reached the API")
	}
	got, _ := url.ParseQuery(requests[0].RawQuery)
	want := url.Values{
		"status": {"queued"}, "name": {"Ubuntu 22.04 LTS – Ünïcödé 名前 test"}, "changes-since": {"2026-11-01T00:00:00Z"},
		"minRam": {"512"}, "minDisk": {"1"}, "server": {simulator.DefaultSnapshotServerID}, "limit": {"7"},
	}
	if got.Encode() != want.Encode() {
		t.Errorf("API query %v\nwant      %v (probe parameters beat flags; type= removes the flag's type)", got, want)
	}

	// Without probe parameters, the flags apply; a duration counts back from now.
	before := len(a.Requests())
	probe(t, base, "cloud=cloud-a&changes-since=24h")
	got, _ = url.ParseQuery(a.Requests()[before].RawQuery)
	since, err := time.Parse(time.RFC3339, got.Get("changes-since"))
	if got.Get("status") != "active" || got.Get("type") != "snapshot" || got.Get("limit") != "50" || err != nil ||
		time.Since(since) < 24*time.Hour || time.Since(since) > 25*time.Hour {
		t.Errorf("API query %v: want the flags' status, type and limit, and changes-since 24h ago", got)
	}
}

func TestMetadataLabelsAndCardinality(t *testing.T) {
	twoClouds(t)
	t.Run("labels", func(t *testing.T) {
		base, _ := startExporter(t, "--images.metadata-label=image_type", "--images.metadata-label=os_distro")
		_, body := probe(t, base, "cloud=cloud-a")
		if !strings.Contains(body, `metadata_image_type="snapshot"`) || !strings.Contains(body, `metadata_os_distro="cirros"`) {
			t.Errorf("metadata labels missing:\n%s", body)
		}
	})
	t.Run("per-image off", func(t *testing.T) {
		base, _ := startExporter(t, "--no-images.per-image-metrics")
		_, body := probe(t, base, "cloud=cloud-a")
		if strings.Contains(body, "nova_image_") || !strings.Contains(body, `nova_images{status="ACTIVE"} 4`) {
			t.Errorf("want counts only:\n%s", body)
		}
	})
	t.Run("per-image policy", func(t *testing.T) {
		base, _ := startExporter(t, "--images.per-image-status=!ACTIVE", "--images.per-image-status=!saving")
		_, body := probe(t, base, "cloud=cloud-a")
		// DefaultImages: 4 ACTIVE, 2 SAVING, and one each DELETED, ERROR and UNKNOWN.
		if n := strings.Count(body, "\nnova_image_status{"); n != 3 || strings.Contains(body, `status="ACTIVE"} 1`) ||
			!strings.Contains(body, `nova_images{status="ACTIVE"} 4`) || !strings.Contains(body, `nova_images_size_bytes{status="SAVING"} 1.073741824e+09`) {
			t.Errorf("want per-image series for the 3 images neither ACTIVE nor SAVING, counts and bytes for all:\n%s", body)
		}
	})
	t.Run("per-image filter", func(t *testing.T) {
		base, _ := startExporter(t, "--images.per-image-filter=image_type=snapshot")
		_, body := probe(t, base, "cloud=cloud-a")
		if n := strings.Count(body, "\nnova_image_status{"); n != 1 || !strings.Contains(body, simulator.DefaultIDSnapshot) ||
			!strings.Contains(body, `nova_images{status="ACTIVE"} 4`) {
			t.Errorf("want per-image series for the snapshot only, counts for all:\n%s", body)
		}
	})
}

func TestReload(t *testing.T) {
	a, _, clouds, yaml := twoClouds(t)
	base, logs := startExporter(t)
	if code, _ := probe(t, base, "cloud=cloud-a"); code != http.StatusOK {
		t.Fatalf("cloud-a: %d", code)
	}
	reload := func() (int, string) {
		resp, err := http.Post(base+"/-/reload", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	reloadMetric := func() float64 {
		v, _ := value(scrape(t, base+"/metrics"), "nova_image_exporter_config_last_reload_successful", nil)
		return v
	}
	if code, _ := probe(t, base, "cloud=cloud-c"); code != http.StatusBadRequest {
		t.Fatalf("cloud-c before it exists: %d", code)
	}
	// A good file adds cloud-c (another name for cloud-a's simulator).
	withC := yaml(strings.Replace(strings.Split(yaml(""), "  cloud-b:")[0], "clouds:\n  cloud-a:", "  cloud-c:", 1))
	if err := os.WriteFile(clouds, []byte(withC), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, body := reload(); code != http.StatusOK {
		t.Fatalf("reload of a good file: %d %s", code, body)
	}
	if code, body := probe(t, base, "cloud=cloud-c"); code != http.StatusOK || !strings.Contains(body, "\nnova_up 1\n") {
		t.Errorf("cloud-c after reload: %d", code)
	}
	probe(t, base, "cloud=cloud-a")
	// cloud-a is unchanged: it kept its client and token; cloud-c, new, authenticated once.
	if n := a.TokenRequests(); n != 2 {
		t.Errorf("%d token requests to cloud-a's Keystone, want 2 (cloud-a once, the new cloud-c once)", n)
	}
	if reloadMetric() != 1 {
		t.Error("config_last_reload_successful is not 1 after a good reload")
	}
	// A bad file keeps the previous configuration.
	if err := os.WriteFile(clouds, []byte("clouds: [broken"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, body := reload(); code != http.StatusInternalServerError || !strings.Contains(body, "previous configuration kept") {
		t.Errorf("reload of a bad file: %d %s", code, body)
	}
	if code, _ := probe(t, base, "cloud=cloud-c"); code != http.StatusOK {
		t.Errorf("cloud-c after a failed reload: %d, want the previous configuration", code)
	}
	if reloadMetric() != 0 {
		t.Error("config_last_reload_successful is not 0 after a failed reload")
	}
	// SIGHUP reloads too.
	if err := os.WriteFile(clouds, []byte(yaml("")), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for code := 0; code != http.StatusBadRequest && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		code, _ = probe(t, base, "cloud=cloud-c")
	}
	if code, _ := probe(t, base, "cloud=cloud-c"); code != http.StatusBadRequest || reloadMetric() != 1 {
		t.Errorf("after SIGHUP with cloud-c removed: probe %d, reload metric %v\n%s", code, reloadMetric(), logs)
	}
	// (A listing of cloud-c still in flight at the reload may count its last request; the
	// per-cloud counters set up for cloud-c must be gone.)
	if body := get(t, base+"/metrics"); strings.Contains(body, `nova_image_exporter_auth_failures_total{cloud="cloud-c"}`) {
		t.Errorf("the exporter's metrics still have the removed cloud-c's counters:\n%s", body)
	}
	if resp, err := http.Get(base + "/-/reload"); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /-/reload should be refused")
	}
}

func TestConfigCheck(t *testing.T) {
	a, _, clouds, yaml := twoClouds(t)
	var stdout, stderr strings.Builder
	err := run(t.Context(), time.Now, []string{"--config.check"}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "1 of 3 clouds do not load") ||
		!strings.Contains(stdout.String(), "ok      cloud-a") || !strings.Contains(stdout.String(), `FAILED  `+clouds+`: cloud "broken": auth_type "v2password" is not supported`) {
		t.Errorf("check with a broken entry: %v\n%s", err, stdout.String())
	}
	if err := os.WriteFile(clouds, []byte(yaml("")), 0o600); err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	if err := run(t.Context(), time.Now, []string{"--config.check", "--cloud=cloud-b"}, &stdout, &stderr); err != nil || !strings.Contains(stdout.String(), "configuration OK: 2 clouds") {
		t.Errorf("check of a good file: %v\n%s", err, stdout.String())
	}
	if a.TokenRequests() != 0 || len(a.Requests()) != 0 {
		t.Error("--config.check called a cloud")
	}
	// With no entry loading, each is still listed with its reason.
	if err := os.WriteFile(clouds, []byte("clouds:\n  x:\n    auth_type: v2password\n    auth: {}\n  y:\n    image_api: cinder\n    auth: {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	err = run(t.Context(), time.Now, []string{"--config.check"}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "2 of 2 clouds do not load") ||
		!strings.Contains(stdout.String(), `FAILED  `+clouds+`: cloud "x": auth_type "v2password"`) ||
		!strings.Contains(stdout.String(), `FAILED  `+clouds+`: cloud "y": image_api "cinder"`) {
		t.Errorf("check with no entry loading: %v\n%s", err, stdout.String())
	}
}

// HEAD answers with the headers a GET would have, without a body and without listing:
// the cloud gets no request.
func TestHeadListsNothing(t *testing.T) {
	a, b, _, _ := twoClouds(t)
	t.Setenv("OS_CLOUD", "cloud-b")
	base, _ := startExporter(t)
	for _, path := range []string{"/probe?cloud=cloud-a", "/metrics"} {
		for _, encoding := range []string{"gzip", "identity"} {
			req, err := http.NewRequest(http.MethodHead, base+path, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Accept-Encoding", encoding)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			wantEncoding := map[string]string{"gzip": "gzip", "identity": ""}[encoding]
			if resp.StatusCode != http.StatusOK || len(body) != 0 || resp.Header.Get("Content-Encoding") != wantEncoding ||
				!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain; version=0.0.4") || resp.Header.Get("Vary") != "Accept-Encoding" {
				t.Errorf("HEAD %s (Accept-Encoding %s): %d, %d bytes, headers %v", path, encoding, resp.StatusCode, len(body), resp.Header)
			}
		}
	}
	if n := a.TokenRequests() + b.TokenRequests() + len(a.Requests()) + len(b.Requests()); n != 0 {
		t.Errorf("HEAD sent %d requests to the clouds, want none", n)
	}
	req, err := http.NewRequest(http.MethodHead, base+"/probe?cloud=nope", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("HEAD of an unknown cloud: %d, want 400 as for GET", resp.StatusCode)
	}
}
