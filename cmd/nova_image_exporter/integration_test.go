//go:build integration

// The integration test runs the exporter against a real Keystone + Glance + Nova API
// (OpenStack Zed from Debian, started by scripts/realstack/up.sh) and checks every metric
// against what Nova itself answers to the same request. Run it with `make test-integration`.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/nova-image-exporter/nova_image_exporter/client"
)

// realstack is what scripts/realstack/up.sh exported (env.sh and images.env).
type realstack struct {
	dir, authURL, username, password, projectName, projectID, novaURL, cloudsFile string
	images                                                                        map[string]string // IMG_* → id
}

func loadRealstack(t *testing.T) realstack {
	t.Helper()
	env := func(name string) string {
		v := os.Getenv(name)
		if v == "" {
			t.Fatalf("%s is not set: run scripts/realstack/up.sh and source its env.sh and images.env (make test-integration does)", name)
		}
		return v
	}
	rs := realstack{
		dir: env("REALSTACK_DIR"), authURL: env("OS_AUTH_URL"), username: env("OS_USERNAME"), password: env("OS_PASSWORD"),
		projectName: env("OS_PROJECT_NAME"), projectID: env("OS_PROJECT_ID"), novaURL: env("NOVA_URL"),
		cloudsFile: env("OS_CLIENT_CONFIG_FILE"), images: map[string]string{},
	}
	for _, name := range []string{"IMG_ACTIVE", "IMG_QUEUED", "IMG_DEACTIVATED", "IMG_SNAPSHOT", "IMG_UNICODE", "IMG_PUBLIC", "SNAPSHOT_SERVER_UUID"} {
		rs.images[name] = env(name)
	}
	t.Cleanup(func() {
		if t.Failed() {
			rs.printLogs(t)
		}
	})
	return rs
}

// printLogs shows the end of every service log, so that a failure in CI explains itself.
func (rs realstack) printLogs(t *testing.T) {
	for _, service := range []string{"keystone", "glance", "nova"} {
		path := filepath.Join(rs.dir, "log", service+".log")
		data, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		lines = lines[max(0, len(lines)-40):]
		t.Logf("---- last lines of %s ----\n%s", path, strings.Join(lines, "\n"))
	}
}

var httpClient = &http.Client{Timeout: 30 * time.Second}

// token authenticates the way the reference recipe's curl does, independently of
// the exporter's client.
func (rs realstack) token(t *testing.T) string {
	t.Helper()
	body := fmt.Sprintf(`{"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": %q, "domain": {"name": "Default"}, "password": %q}}},
		"scope": {"project": {"name": %q, "domain": {"name": "Default"}}}}}`, rs.username, rs.password, rs.projectName)
	resp, err := httpClient.Post(rs.authURL+"/auth/tokens", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("Keystone: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("Keystone answered %d: %s", resp.StatusCode, b)
	}
	return resp.Header.Get("X-Subject-Token")
}

// novaImage is one image as real Nova returns it, decoded generically.
type novaImage map[string]any

// novaImages lists images/detail with token in one request, decoded without the exporter's
// code.
func (rs realstack) novaImages(t *testing.T, token string) map[string]novaImage {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, rs.novaURL+"/images/detail", nil)
	req.Header.Set("X-Auth-Token", token)
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("Nova: %v", err)
	}
	defer resp.Body.Close()
	var page struct {
		Images []novaImage `json:"images"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("Nova answered %d, %v", resp.StatusCode, err)
	}
	out := map[string]novaImage{}
	for _, img := range page.Images {
		out[img["id"].(string)] = img
	}
	return out
}

func number(v any) (float64, bool) {
	f, ok := v.(float64)
	return f, ok
}

func unixTime(t *testing.T, v any) (float64, bool) {
	s, ok := v.(string)
	if !ok {
		return 0, false
	}
	parsed, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("Nova time %q: %v", s, err)
	}
	return float64(parsed.Unix()), true
}

// compareWithNova checks every image series against Nova's own answer.
func compareWithNova(t *testing.T, families map[string]*dto.MetricFamily, want map[string]novaImage) {
	t.Helper()
	if up, _ := value(families, "nova_up", nil); up != 1 {
		t.Fatalf("nova_up = %v, want 1", up)
	}
	if n := len(families["nova_image_status"].GetMetric()); n != len(want) {
		t.Errorf("%d images exported, Nova lists %d", n, len(want))
	}
	counts := map[string]float64{"ACTIVE": 0, "SAVING": 0, "DELETED": 0, "ERROR": 0, "UNKNOWN": 0}
	for id, img := range want {
		name, _ := img["name"].(string)
		status := img["status"].(string)
		counts[status]++
		labels := map[string]string{"id": id, "name": name}
		if _, found := value(families, "nova_image_status", map[string]string{"id": id, "name": name, "status": status}); !found {
			t.Errorf("image %s (%q): no nova_image_status{status=%q}", id, name, status)
		}
		serverID := ""
		if server, ok := img["server"].(map[string]any); ok {
			serverID, _ = server["id"].(string)
		}
		if _, found := value(families, "nova_image_info", map[string]string{"id": id, "server_id": serverID}); !found {
			t.Errorf("image %s: no nova_image_info{server_id=%q}", id, serverID)
		}
		expect := map[string]func() (float64, bool){
			"nova_image_size_bytes":                func() (float64, bool) { return number(img["OS-EXT-IMG-SIZE:size"]) },
			"nova_image_min_disk_bytes":            func() (float64, bool) { v, ok := number(img["minDisk"]); return v * math.Pow(2, 30), ok },
			"nova_image_min_ram_bytes":             func() (float64, bool) { v, ok := number(img["minRam"]); return v * math.Pow(2, 20), ok },
			"nova_image_progress_ratio":            func() (float64, bool) { v, ok := number(img["progress"]); return v / 100, ok },
			"nova_image_created_timestamp_seconds": func() (float64, bool) { return unixTime(t, img["created"]) },
			"nova_image_updated_timestamp_seconds": func() (float64, bool) { return unixTime(t, img["updated"]) },
		}
		for metric, fromNova := range expect {
			wantValue, present := fromNova()
			got, found := value(families, metric, labels)
			if found != present || found && got != wantValue {
				t.Errorf("%s{id=%q}: exporter %v (present %v), Nova %v (present %v)", metric, id, got, found, wantValue, present)
			}
		}
	}
	for status, n := range counts {
		if got, _ := value(families, "nova_images", map[string]string{"status": status}); got != n {
			t.Errorf("nova_images{status=%q} = %v, Nova lists %v", status, got, n)
		}
	}
}

func TestIntegrationAgainstRealNova(t *testing.T) {
	rs := loadRealstack(t)
	want := rs.novaImages(t, rs.token(t))
	for _, name := range []string{"IMG_ACTIVE", "IMG_QUEUED", "IMG_DEACTIVATED", "IMG_SNAPSHOT", "IMG_UNICODE", "IMG_PUBLIC"} {
		if _, ok := want[rs.images[name]]; !ok {
			t.Fatalf("Nova does not list the seeded %s %s; is the stack seeded?", name, rs.images[name])
		}
	}
	t.Setenv("OS_CLIENT_CONFIG_FILE", rs.cloudsFile)

	t.Run("one page", func(t *testing.T) {
		base, _ := startExporter(t, "--cloud=realstack")
		families := scrape(t, base+"/metrics")
		compareWithNova(t, families, want)
		checkSeeded(t, rs, families)
	})
	t.Run("pages of 2", func(t *testing.T) {
		base, _ := startExporter(t, "--cloud=realstack", "--images.page-size=2")
		compareWithNova(t, scrape(t, base+"/metrics"), want)
	})
	t.Run("application credential", func(t *testing.T) {
		base, _ := startExporter(t, "--cloud=realstack-appcred")
		compareWithNova(t, scrape(t, base+"/metrics"), want)
	})
}

// checkSeeded pins the states the issue names, beyond agreeing with Nova.
func checkSeeded(t *testing.T, rs realstack, families map[string]*dto.MetricFamily) {
	t.Helper()
	for _, c := range []struct {
		image, status string
		progress      float64
	}{
		{"IMG_ACTIVE", "ACTIVE", 1}, {"IMG_QUEUED", "SAVING", 0.25}, {"IMG_DEACTIVATED", "UNKNOWN", 0},
		{"IMG_SNAPSHOT", "ACTIVE", 1}, {"IMG_UNICODE", "ACTIVE", 1}, {"IMG_PUBLIC", "ACTIVE", 1},
	} {
		id := rs.images[c.image]
		if _, found := value(families, "nova_image_status", map[string]string{"id": id, "status": c.status}); !found {
			t.Errorf("%s %s: not %s", c.image, id, c.status)
		}
		if got, _ := value(families, "nova_image_progress_ratio", map[string]string{"id": id}); got != c.progress {
			t.Errorf("%s progress %v, want %v", c.image, got, c.progress)
		}
	}
	if _, found := value(families, "nova_image_info", map[string]string{"id": rs.images["IMG_SNAPSHOT"], "server_id": rs.images["SNAPSHOT_SERVER_UUID"]}); !found {
		t.Errorf("the snapshot has no server_id %s", rs.images["SNAPSHOT_SERVER_UUID"])
	}
	if _, found := value(families, "nova_image_status", map[string]string{"name": "Ubuntu 22.04 LTS – Ünïcödé 名前 test"}); !found {
		t.Error("the non-ASCII name is not exported as is")
	}
	if got, _ := value(families, "nova_image_min_disk_bytes", map[string]string{"id": rs.images["IMG_ACTIVE"]}); got != math.Pow(2, 30) {
		t.Errorf("min disk of the active image %v, want 1 GiB", got)
	}
	if got, _ := value(families, "nova_image_min_ram_bytes", map[string]string{"id": rs.images["IMG_ACTIVE"]}); got != 512*math.Pow(2, 20) {
		t.Errorf("min RAM of the active image %v, want 512 MiB", got)
	}
}

func TestIntegrationStatusFilter(t *testing.T) {
	rs := loadRealstack(t)
	c := newListingClient(t, rs.cloudsFile, "realstack")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	images, err := client.Collect(ctx, c, client.ListOptions{Status: "queued"})
	if err != nil {
		t.Fatal(err)
	}
	if len(images) != 1 || images[0].ID != rs.images["IMG_QUEUED"] || images[0].Status != "SAVING" {
		t.Errorf("status=queued listed %+v, want only the queued image %s, as SAVING", images, rs.images["IMG_QUEUED"])
	}
}

// tokenRecorder is a reverse proxy in front of Nova that notes every token and status.
type tokenRecorder struct {
	mu       sync.Mutex
	tokens   []string
	statuses []int
}

func (r *tokenRecorder) record(token string, status int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tokens = append(r.tokens, token)
	r.statuses = append(r.statuses, status)
}

func (r *tokenRecorder) snapshot() ([]string, []int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.tokens...), append([]int(nil), r.statuses...)
}

func TestIntegrationRevokedTokenIsRenewed(t *testing.T) {
	rs := loadRealstack(t)
	nova, err := url.Parse(rs.novaURL)
	if err != nil {
		t.Fatal(err)
	}
	recorder := &tokenRecorder{}
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: nova.Scheme, Host: nova.Host})
	proxy.ModifyResponse = func(resp *http.Response) error {
		recorder.record(resp.Request.Header.Get("X-Auth-Token"), resp.StatusCode)
		return nil
	}
	srv := httptest.NewServer(proxy)
	defer srv.Close()

	clouds := writeClouds(t, fmt.Sprintf(`clouds:
  via-recorder:
    auth:
      auth_url: %s
      username: %s
      password: %s
      user_domain_name: Default
      project_name: %s
      project_domain_name: Default
    compute_endpoint_override: %s/v2.1/{project_id}
`, rs.authURL, rs.username, rs.password, rs.projectName, srv.URL))
	t.Setenv("OS_CLIENT_CONFIG_FILE", clouds)
	base, logs := startExporter(t, "--cloud=via-recorder")
	if up, _ := value(scrape(t, base+"/metrics"), "nova_up", nil); up != 1 {
		t.Fatalf("first scrape failed:\n%s", logs)
	}
	tokens, _ := recorder.snapshot()
	if len(tokens) != 1 {
		t.Fatalf("%d requests through the recorder, want 1", len(tokens))
	}

	// Revoke the exporter's token in Keystone, as an operator or an expiry would.
	req, _ := http.NewRequest(http.MethodDelete, rs.authURL+"/auth/tokens", nil)
	req.Header.Set("X-Auth-Token", rs.token(t))
	req.Header.Set("X-Subject-Token", tokens[0])
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("revoking the token: Keystone answered %d", resp.StatusCode)
	}

	families := scrape(t, base+"/metrics")
	if up, _ := value(families, "nova_up", nil); up != 1 {
		t.Fatalf("the scrape after revocation failed:\n%s", logs)
	}
	tokens, statuses := recorder.snapshot()
	if len(statuses) != 3 || statuses[1] != http.StatusUnauthorized || statuses[2] != http.StatusOK || tokens[2] == tokens[0] {
		t.Errorf("after revocation: statuses %v, want [200 401 200] with a new token on the retry", statuses)
	}
	if bytes.Contains([]byte(logs.String()), []byte(tokens[0])) {
		t.Error("the log holds a token")
	}
}

// TestIntegrationRefusedCredentialsAreAuthFailures checks on the real Keystone what
// auth_failures_total promises: a wrong password is counted there, and not as an identity
// service error.
func TestIntegrationRefusedCredentialsAreAuthFailures(t *testing.T) {
	rs := loadRealstack(t)
	u := loadLockoutUser(t) // Keystone locks a user after 3 refused logins: never the demo user
	rs.unlock(t, u)
	clouds := writeClouds(t, fmt.Sprintf(`clouds:
  refused:
    auth:
      auth_url: %s
      username: %s
      password: not-the-password
      user_domain_name: Default
      project_name: %s
      project_domain_name: Default
`, rs.authURL, u.name, rs.projectName))
	t.Setenv("OS_CLIENT_CONFIG_FILE", clouds)
	base, logs := startExporter(t, "--cloud=refused")
	families := scrape(t, base+"/metrics")
	up, _ := value(families, "nova_up", nil)
	refused, _ := value(families, "nova_image_exporter_auth_failures_total", map[string]string{"cloud": "refused"})
	failing, _ := value(families, "nova_image_exporter_identity_errors_total", map[string]string{"cloud": "refused"})
	if up != 0 || refused != 1 || failing != 0 {
		t.Errorf("a wrong password: nova_up %v, auth_failures_total %v, identity_errors_total %v; want 0, 1, 0\n%s", up, refused, failing, logs)
	}
	if strings.Contains(logs.String(), "not-the-password") {
		t.Error("the log holds the password")
	}
}
