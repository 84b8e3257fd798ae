package dashboards

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql/parser"
	"gopkg.in/yaml.v3"

	"github.com/nova-image-exporter/nova_image_exporter/simulator"
)

// The real-Prometheus end-to-end test (issue 7). It needs Debian's prometheus package unpacked by
// scripts/prometheus/install.sh (or PROMETHEUS_BIN_DIR, PROMETHEUS_DIR, or on PATH); without
// them it skips, unless E2E_REQUIRED=1, where it fails.

const defaultPrometheusDir = "/tmp/nova-image-exporter-prometheus/usr/bin"

// Fixture images added to the simulator's FullImages (which already hold a queued image 40h old,
// a saving one 35h old, a hidden image only Glance and IMS list, and an importing one).
const (
	idStuck = "e2e00000-0000-4000-8000-000000000001" // queued, created 20 minutes ago: stuck
	idFresh = "e2e00000-0000-4000-8000-000000000002" // queued, created 1 minute ago: not yet
)

// e2eStuckThreshold replaces NovaImageStuckInSaving's 3600s in the rules Prometheus loads, and
// e2eStuckFor its `for:`, so that the alert fires within seconds.
const (
	e2eStuckThreshold = "600"
	e2eStuckFor       = "2s"
)

func prometheusBinaries(t *testing.T) (prometheus, promtool string) {
	t.Helper()
	var dirs []string
	if d := os.Getenv("PROMETHEUS_BIN_DIR"); d != "" {
		dirs = append(dirs, d)
	}
	if d := os.Getenv("PROMETHEUS_DIR"); d != "" { // scripts/prometheus/install.sh's directory
		dirs = append(dirs, filepath.Join(d, "usr", "bin"))
	}
	if p, err := exec.LookPath("prometheus"); err == nil {
		dirs = append(dirs, filepath.Dir(p))
	}
	dirs = append(dirs, defaultPrometheusDir)
	for _, d := range dirs {
		p, pt := filepath.Join(d, "prometheus"), filepath.Join(d, "promtool")
		if isExecutable(p) && isExecutable(pt) {
			return p, pt
		}
	}
	msg := fmt.Sprintf("prometheus and promtool not found in %s: run `bash scripts/prometheus/install.sh` "+
		"(unpacks Debian's prometheus package, starts nothing) or set PROMETHEUS_BIN_DIR", strings.Join(dirs, ", "))
	if os.Getenv("E2E_REQUIRED") == "1" {
		t.Fatal(msg + " (E2E_REQUIRED=1)")
	}
	t.Skip(msg)
	return "", ""
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// The simulator's project, and the AK/SK pair its API gateway accepts for the IMS cloud.
const (
	e2eProject = "0123456789abcdef0123456789abcdef"
	e2eAK      = "QTWAOYTTINDUT2QVKYUC"
	e2eSK      = "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc"
)

// e2eCloud is one cloud of the test's clouds.yaml: the one simulated image set read through one
// image API.
type e2eCloud struct{ name, api string }

// e2eClouds read the simulator through each image API; sim is also the exporter's default cloud,
// the one /metrics serves.
var e2eClouds = []e2eCloud{{"sim", "nova"}, {"sim-glance", "glance"}, {"sim-ims", "ims"}}

// e2eCloudsYAML is the clouds.yaml of e2eClouds: nova with a token and the compute endpoint
// overridden, glance with a token and the image endpoint overridden (the simulator serves Glance
// under /image, as devstack), ims with AK/SK signing (IMS at the simulator's root); each with
// orphaned snapshots on, its servers listed on the simulator's compute path (which has none:
// the snapshot of FullImages is orphaned).
func e2eCloudsYAML(simURL, token string) string {
	return fmt.Sprintf(`clouds:
  sim:
    auth_type: token
    auth: {token: %[2]s, project_id: %[3]s}
    compute_endpoint_override: %[1]s/v2.1/{project_id}
    orphaned_snapshots: true
  sim-glance:
    image_api: glance
    auth_type: token
    auth: {token: %[2]s, project_id: %[3]s}
    image_endpoint_override: %[1]s/image
    compute_endpoint_override: %[1]s/v2.1/{project_id}
    orphaned_snapshots: true
  sim-ims:
    image_api: ims
    auth_type: aksk
    auth: {ak: %[4]s, sk: %[5]s, project_id: %[3]s}
    image_endpoint_override: %[1]s
    compute_endpoint_override: %[1]s/v2.1/%[3]s
    orphaned_snapshots: true
`, simURL, token, e2eProject, e2eAK, e2eSK)
}

func e2eImages(now time.Time) []simulator.Image {
	now = now.UTC().Truncate(time.Second)
	str := func(s string) *string { return &s }
	at := func(d time.Duration) *time.Time { t := now.Add(-d); return &t }
	return append(simulator.FullImages(now),
		simulator.Image{ID: idStuck, Name: str("e2e-stuck-queued"), Status: "queued",
			Created: *at(20 * time.Minute), Updated: at(20 * time.Minute), Metadata: map[string]any{},
			Owner: e2eProject, Visibility: "private"},
		simulator.Image{ID: idFresh, Name: str("e2e-fresh-queued"), Status: "queued",
			Created: *at(time.Minute), Updated: at(time.Minute), Metadata: map[string]any{},
			Owner: e2eProject, Visibility: "private"},
	)
}

// The documented differences between the APIs (docs/configuration.md, "Image APIs") that the series show.

// listedBy reports whether api lists img: Nova's proxy leaves Glance's hidden images out.
func listedBy(api string, img simulator.Image) bool { return api != "nova" || !img.Hidden }

// sizeBy is img's nova_image_size_bytes read through api, with false for no sample: Glance sends
// null for an image without data, which is no sample, where Nova sends 0 and IMS's
// __image_size is "0"; IMS sends no __image_size for a public (gold) image, as in the vendor's
// examples, which is no sample.
func sizeBy(api string, img simulator.Image) (float64, bool) {
	switch {
	case api == "ims" && (img.Visibility == "public" || img.Visibility == "community"):
		return 0, false
	case img.Size != nil:
		return float64(*img.Size), true
	case api == "glance":
		return 0, false
	}
	return 0, true
}

// virtualSizeBy is img's nova_image_virtual_size_bytes read through api, with false for no
// sample: Nova has no virtual size, and IMS's is "unavailable currently" (null).
func virtualSizeBy(api string, img simulator.Image) (float64, bool) {
	if api == "nova" || api == "ims" || img.VirtualSize == nil {
		return 0, false
	}
	return float64(*img.VirtualSize), true
}

// publicBy reports whether nova_image_info's visibility of img read through api is public: never
// through nova, which has none; public and community images through IMS, whose gold images they are.
func publicBy(api string, img simulator.Image) bool {
	switch api {
	case "glance":
		return img.Visibility == "public"
	case "ims":
		return img.Visibility == "public" || img.Visibility == "community"
	}
	return false
}

// apiStatusBy is nova_image_info's api_status: the status the API sent, Nova's own through nova.
func apiStatusBy(api string, img simulator.Image) string {
	if api == "nova" {
		return novaStatus(img.Status)
	}
	return img.Status
}

// privateVisibilityBy is nova_image_info's visibility of a private image: none through nova.
func privateVisibilityBy(api string) string {
	if api == "nova" {
		return ""
	}
	return "private"
}

func novaStatus(glance string) string {
	switch glance {
	case "active":
		return "ACTIVE"
	case "queued", "saving":
		return "SAVING"
	case "killed":
		return "ERROR"
	case "deleted", "pending_delete":
		return "DELETED"
	}
	return "UNKNOWN"
}

// e2eGlanceQuotas are the simulated Glance's unified limits (MiB for sizes): image_count_total
// at 1, below the images the project holds, so NovaImageQuotaFull and NovaImageQuotaNearlyFull
// fire; image_size_total 1 TiB, far from full; image_stage_total 0 (switched off: no alert, no
// ratio); image_count_uploading -1, under which Glance allows nothing: a limit of 0 too.
var e2eGlanceQuotas = map[string]int64{
	simulator.GlanceImageCountTotal:     1,
	simulator.GlanceImageSizeTotal:      1 << 20,
	simulator.GlanceImageStageTotal:     0,
	simulator.GlanceImageCountUploading: -1,
}

// e2eIMSQuotas are the simulated IMS's quotas: image at 1, below the project's private images
// (both quota alerts fire); image_shared and image_member far from full.
var e2eIMSQuotas = []simulator.IMSQuota{
	{Type: simulator.IMSQuotaImage, Quota: 1, Min: 1, Max: 1000},
	{Type: simulator.IMSQuotaImageShared, Quota: 100, Min: 1, Max: 1000},
	{Type: simulator.IMSQuotaImageMember, Quota: 128, Min: 1, Max: 256},
}

// e2eQuotaAlerts are the quota alerts the simulator's quotas fire, as cloud/resource, for each
// quota alert.
var e2eQuotaAlerts = []string{"sim-glance/" + simulator.GlanceImageCountTotal, "sim-ims/" + simulator.IMSQuotaImage}

// e2eRules writes the shipped rules with NovaImageStuckInSaving's threshold and `for` lowered.
func e2eRules(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(rulesPath)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, g := range doc["groups"].([]any) {
		for _, r := range g.(map[string]any)["rules"].([]any) {
			rule := r.(map[string]any)
			if a, _ := rule["alert"].(string); strings.HasPrefix(a, "NovaImageQuota") {
				rule["for"] = e2eStuckFor // the simulator's quotas are full from the start
				continue
			}
			if rule["alert"] != "NovaImageStuckInSaving" {
				continue
			}
			expr := rule["expr"].(string)
			if strings.Count(expr, "> 3600") != 1 {
				t.Fatalf("NovaImageStuckInSaving's expr has no single `> 3600` to lower:\n%s", expr)
			}
			rule["expr"] = strings.Replace(expr, "> 3600", "> "+e2eStuckThreshold, 1)
			rule["for"] = e2eStuckFor
			found = true
		}
	}
	if !found {
		t.Fatal("no NovaImageStuckInSaving alert in " + rulesPath)
	}
	out, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "rules.yml")
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// promSample is one element of an instant vector from Prometheus's HTTP API.
type promSample struct {
	Metric map[string]string
	Value  float64
}

type promClient struct {
	base string
	http *http.Client
}

// query runs an instant query (or, with rng > 0, a range query over the last rng) and returns the
// samples (for a range query: the last value of each series).
func (c promClient) query(expr string, rng time.Duration) ([]promSample, error) {
	return c.queryAt(expr, rng, time.Now())
}

// queryAt is query evaluated at, or ending at, the time at.
func (c promClient) queryAt(expr string, rng time.Duration, at time.Time) ([]promSample, error) {
	v := url.Values{"query": {expr}, "time": {strconv.FormatInt(at.Unix(), 10)}}
	path := "/api/v1/query"
	if rng > 0 {
		path = "/api/v1/query_range"
		v.Del("time")
		v.Set("start", strconv.FormatInt(at.Add(-rng).Unix(), 10))
		v.Set("end", strconv.FormatInt(at.Unix(), 10))
		v.Set("step", "1")
	}
	resp, err := c.http.PostForm(c.base+path, v)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Status    string `json:"status"`
		ErrorType string `json:"errorType"`
		Error     string `json:"error"`
		Data      struct {
			ResultType string `json:"resultType"`
			Result     json.RawMessage
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("%s: undecodable answer: %w", resp.Status, err)
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("%s: %s: %s", resp.Status, body.ErrorType, body.Error)
	}
	var out []promSample
	switch body.Data.ResultType {
	case "vector":
		var res []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		}
		if err := json.Unmarshal(body.Data.Result, &res); err != nil {
			return nil, err
		}
		for _, r := range res {
			f, _ := strconv.ParseFloat(fmt.Sprint(r.Value[1]), 64)
			out = append(out, promSample{r.Metric, f})
		}
	case "matrix":
		var res []struct {
			Metric map[string]string `json:"metric"`
			Values [][2]any          `json:"values"`
		}
		if err := json.Unmarshal(body.Data.Result, &res); err != nil {
			return nil, err
		}
		for _, r := range res {
			if len(r.Values) > 0 {
				f, _ := strconv.ParseFloat(fmt.Sprint(r.Values[len(r.Values)-1][1]), 64)
				out = append(out, promSample{r.Metric, f})
			}
		}
	case "scalar":
		var r [2]any
		if err := json.Unmarshal(body.Data.Result, &r); err != nil {
			return nil, err
		}
		f, _ := strconv.ParseFloat(fmt.Sprint(r[1]), 64)
		out = append(out, promSample{map[string]string{}, f})
	default:
		return nil, fmt.Errorf("unexpected result type %q", body.Data.ResultType)
	}
	return out, nil
}

// waitFor polls cond every 250ms until it returns ok or timeout passes, then fails with its last
// message and the Prometheus log.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() (ok bool, msg string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var msg string
	for {
		var ok bool
		ok, msg = cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("%s: not within %s: %s", what, timeout, msg)
}

func runTool(t *testing.T, stdin string, bin string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	code := 0
	if err != nil {
		var ee *exec.ExitError
		ok := errors.As(err, &ee)
		if !ok {
			t.Fatalf("%s %s: %v", bin, strings.Join(args, " "), err)
		}
		code = ee.ExitCode()
	}
	return string(out), code
}

func TestWithRealPrometheus(t *testing.T) {
	promBin, promtool := prometheusBinaries(t)
	started := time.Now()
	dir := t.TempDir()

	// promtool on the shipped files.
	if out, code := runTool(t, "", promtool, "check", "rules", rulesPath); code != 0 {
		t.Errorf("promtool check rules %s: exit %d\n%s", rulesPath, code, out)
	}
	if out, code := runTool(t, "", promtool, "test", "rules", ruleTestsPath); code != 0 {
		t.Errorf("promtool test rules %s: exit %d\n%s", ruleTestsPath, code, out)
	}

	// One simulated cloud with the SAVING images the alert is about, read through each image API
	// (e2eClouds): the rules and the dashboard must work alike on each API's series.
	images := e2eImages(time.Now())
	sim := simulator.New(simulator.Options{Images: images, AccessKeys: []simulator.AccessKey{{AK: e2eAK, SK: e2eSK}},
		GlanceQuotas: e2eGlanceQuotas, IMSQuotas: e2eIMSQuotas})
	srv := httptest.NewServer(sim)
	t.Cleanup(func() { srv.CloseClientConnections(); srv.Close() })
	clouds := filepath.Join(dir, "clouds.yaml")
	if err := os.WriteFile(clouds, []byte(e2eCloudsYAML(srv.URL, sim.IssueToken())), 0o600); err != nil {
		t.Fatal(err)
	}
	exporter, exporterProc := startExporter(t, []string{"OS_CLIENT_CONFIG_FILE=" + clouds}, "--cloud=sim")
	exporterAddr := strings.TrimPrefix(exporter, "http://")
	// A second replica of the same exporter (the Kubernetes example runs two).
	replica, _ := startExporter(t, []string{"OS_CLIENT_CONFIG_FILE=" + clouds}, "--cloud=sim")
	replicaAddr := strings.TrimPrefix(replica, "http://")

	// promtool check metrics: the exposition must parse, and must have no lint finding (none
	// today; a deliberate one would be listed here with its reason).
	paths := []string{"/metrics"}
	var cloudNames []string
	for _, cl := range e2eClouds {
		paths = append(paths, "/probe?cloud="+cl.name)
		cloudNames = append(cloudNames, cl.name)
	}
	for _, path := range paths {
		body := fetch(t, exporter+path)
		if !strings.Contains(body, "\nnova_up 1\n") {
			t.Fatalf("%s: nova_up is not 1; exporter log:\n%s\n%s", path, exporterProc.out, body)
		}
		if out, code := runTool(t, body, promtool, "check", "metrics"); code != 0 || strings.TrimSpace(out) != "" {
			t.Errorf("promtool check metrics on %s: exit %d (1: unparsable, 3: lint findings)\n%s", path, code, out)
		}
	}
	// Each cloud was read through its own API (IMS's requests signed with AK/SK).
	asked := map[string]int{}
	for _, r := range sim.Requests() {
		asked[r.API]++
		if r.API == simulator.APIIMS && !strings.HasPrefix(r.Header.Get("Authorization"), "SDK-HMAC-SHA256 ") {
			t.Errorf("an IMS request not signed with AK/SK: %v", r.Header)
		}
	}
	for _, cl := range e2eClouds {
		if asked[cl.api] == 0 {
			t.Fatalf("cloud %s: no request to the %s API (requests by API: %v); exporter log:\n%s", cl.name, cl.api, asked, exporterProc.out)
		}
	}

	// Prometheus on loopback: /metrics as the exporter's own job, /probe of every cloud with the
	// README's relabelling, every second, with the shipped rules (stuck threshold lowered).
	rules := e2eRules(t, dir)
	promAddr := freeAddr(t)
	config := filepath.Join(dir, "prometheus.yml")
	var replicaTargets strings.Builder
	for _, name := range cloudNames {
		fmt.Fprintf(&replicaTargets, `      - targets: [%q]
        labels: {cloud: %s, pod: replica-a}
      - targets: [%q]
        labels: {cloud: %s, pod: replica-b}
`, exporterAddr, name, replicaAddr, name)
	}
	if err := os.WriteFile(config, fmt.Appendf(nil, `global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files: [%q]
scrape_configs:
  - job_name: nova_image_exporter
    static_configs:
      - targets: [%q]
  - job_name: nova_images
    metrics_path: /probe
    static_configs:
      - targets: [%s]
    relabel_configs:
      - source_labels: [__address__]
        target_label: __param_cloud
      - source_labels: [__param_cloud]
        target_label: cloud
      - target_label: __address__
        replacement: %q
  # Both replicas scraped for each cloud, as pods (an HA pair, or a PodMonitor on the
  # Kubernetes example): the dashboard must count the cloud once.
  - job_name: nova_replicas
    metrics_path: /probe
    static_configs:
%s    relabel_configs:
      - source_labels: [cloud]
        target_label: __param_cloud
`, rules, exporterAddr, strings.Join(cloudNames, ", "), exporterAddr, replicaTargets.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	prom := startProcess(t, "prometheus", promBin, nil,
		"--config.file="+config, "--storage.tsdb.path="+filepath.Join(dir, "tsdb"),
		"--web.listen-address="+promAddr, "--log.level=info")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("prometheus log:\n%s", prom.out)
			t.Logf("exporter log:\n%s", exporterProc.out)
		}
	})
	prom.waitHTTP(t, "http://"+promAddr+"/-/ready", 30*time.Second)
	t.Logf("prometheus ready %s after start of the test", time.Since(started).Round(time.Millisecond))
	c := promClient{base: "http://" + promAddr, http: &http.Client{Timeout: 10 * time.Second}}

	// one returns the value of the single series expr selects.
	one := func(expr string) (float64, string) {
		s, err := c.query(expr, 0)
		if err != nil {
			return 0, err.Error()
		}
		if len(s) != 1 {
			return 0, fmt.Sprintf("%s: %d series, want 1: %v", expr, len(s), s)
		}
		return s[0].Value, ""
	}
	expectValue := func(expr string, want float64) {
		t.Helper()
		waitFor(t, expr, 20*time.Second, func() (bool, string) {
			got, msg := one(expr)
			if msg != "" {
				return false, msg
			}
			return got == want, fmt.Sprintf("%s = %v, want %v", expr, got, want)
		})
	}
	// expectNone waits until, at one instant, evidence selects one series (the scrape it comes
	// from is in) and expr none.
	expectNone := func(expr, evidence string) {
		t.Helper()
		waitFor(t, expr+" absent", 20*time.Second, func() (bool, string) {
			at := time.Now()
			ev, err := c.queryAt(evidence, 0, at)
			if err != nil || len(ev) != 1 {
				return false, fmt.Sprintf("%s: %v %v, want one series", evidence, ev, err)
			}
			s, err := c.queryAt(expr, 0, at)
			if err != nil {
				return false, err.Error()
			}
			return len(s) == 0, fmt.Sprintf("%s = %v, want no series", expr, s)
		})
	}
	// expectSample is expectValue when the sample should be there, else expectNone.
	expectSample := func(expr string, want float64, present bool, evidence string) {
		t.Helper()
		if present {
			expectValue(expr, want)
		} else {
			expectNone(expr, evidence)
		}
	}
	byID := map[string]simulator.Image{}
	for _, im := range images {
		byID[im.ID] = im
	}

	// The series exist with the right values, for each API.
	expectValue(`up{job="nova_image_exporter"}`, 1)
	expectValue(`nova_up{job="nova_image_exporter"}`, 1)
	for _, cl := range e2eClouds {
		sel := fmt.Sprintf(`job="nova_images", cloud=%q`, cl.name)
		img := func(id string) string { return fmt.Sprintf(`%s, id=%q`, sel, id) }
		expectValue(`up{`+sel+`}`, 1)
		expectValue(`nova_up{`+sel+`}`, 1)
		counts := map[string]float64{"ACTIVE": 0, "SAVING": 0, "ERROR": 0, "DELETED": 0, "UNKNOWN": 0}
		var totalBytes float64
		for _, im := range images {
			if !listedBy(cl.api, im) {
				continue
			}
			counts[novaStatus(im.Status)]++
			if size, ok := sizeBy(cl.api, im); ok {
				totalBytes += size
			}
		}
		for status, n := range counts {
			expectValue(fmt.Sprintf(`nova_images{%s, status=%q}`, sel, status), n)
		}
		cirros, stuck, hidden := byID[simulator.DefaultIDCirros], byID[idStuck], byID[simulator.DefaultIDHidden]
		csize, ok := sizeBy(cl.api, cirros)
		expectSample(`nova_image_size_bytes{`+img(cirros.ID)+`}`, csize, ok, `nova_image_status{`+img(cirros.ID)+`}`)
		expectValue(`nova_image_min_disk_bytes{`+img(cirros.ID)+`}`, 1<<30)
		vsize, ok := virtualSizeBy(cl.api, cirros)
		expectSample(`nova_image_virtual_size_bytes{`+img(cirros.ID)+`}`, vsize, ok, `nova_image_status{`+img(cirros.ID)+`}`)
		expectValue(`nova_image_progress_ratio{`+img(idStuck)+`}`, 0.25)
		size, ok := sizeBy(cl.api, stuck)
		expectSample(`nova_image_size_bytes{`+img(idStuck)+`}`, size, ok, `nova_image_status{`+img(idStuck)+`}`)
		expectValue(fmt.Sprintf(`nova_image_status{%s, status="SAVING", name="e2e-stuck-queued"}`, img(idStuck)), 1)
		expectValue(fmt.Sprintf(`nova_image_info{%s, api_status=%q, visibility=%q}`,
			img(idStuck), apiStatusBy(cl.api, stuck), privateVisibilityBy(cl.api)), 1)
		expectValue(fmt.Sprintf(`nova_image_info{%s, metadata_image_type="snapshot", server_id=%q}`,
			img(simulator.DefaultIDSnapshot), simulator.DefaultSnapshotServerID), 1)
		// An import Nova calls UNKNOWN, which Glance and IMS name.
		expectValue(fmt.Sprintf(`nova_image_status{%s, status="UNKNOWN"} * on (job, instance, cloud, id, name) nova_image_info{api_status=%q}`,
			img(simulator.DefaultIDImporting), apiStatusBy(cl.api, byID[simulator.DefaultIDImporting])), 1)
		expectSample(fmt.Sprintf(`nova_image_status{%s, status="ACTIVE"}`, img(hidden.ID)), 1, listedBy(cl.api, hidden),
			`nova_image_status{`+img(cirros.ID)+`}`)
		expectValue(fmt.Sprintf(`nova_image_exporter_api_requests_total{job="nova_image_exporter", cloud=%q, code="200"} > bool 0`, cl.name), 1)
		// Recording rules.
		expectValue(`cloud:nova_image_size_bytes:sum{`+sel+`}`, totalBytes)
		expectValue(`cloud:nova_images:count_by_image_type{`+sel+`, metadata_image_type="snapshot"}`, 1)
		// Quotas (issue 16): none through nova; counts through IMS; counts and bytes through Glance.
		// Glance's MiB are bytes; its -1 is a limit of 0 (nothing allowed); a limit of 0 no ratio.
		switch cl.api {
		case "nova":
			expectNone(`nova_image_quota_up{`+sel+`}`, `nova_up{`+sel+`}`)
			expectNone(`{__name__=~"nova_image_quota_.*", `+sel+`}`, `nova_up{`+sel+`}`)
		case "glance":
			expectValue(`nova_image_quota_up{`+sel+`}`, 1)
			expectValue(`nova_image_quota_limit{`+sel+`, resource="image_count_total"}`, 1)
			expectValue(`nova_image_quota_limit_bytes{`+sel+`, resource="image_size_total"}`, 1<<40)
			expectValue(`nova_image_quota_limit_bytes{`+sel+`, resource="image_stage_total"}`, 0)
			expectValue(`nova_image_quota_usage{`+sel+`, resource="image_count_total"} >= bool 1`, 1)
			expectValue(`nova_image_quota_limit{`+sel+`, resource="image_count_uploading"}`, 0)
			expectNone(`cloud:nova_image_quota_usage_bytes:ratio{`+sel+`, resource="image_stage_total"}`, `cloud:nova_image_quota_usage_bytes:ratio{`+sel+`, resource="image_size_total"}`)
		case "ims":
			expectValue(`nova_image_quota_up{`+sel+`}`, 1)
			expectValue(`nova_image_quota_limit{`+sel+`, resource="image"}`, 1)
			expectValue(`nova_image_quota_limit{`+sel+`, resource="image_member"}`, 128)
			expectValue(`nova_image_quota_usage{`+sel+`, resource="image"} >= bool 1`, 1)
			expectNone(`{__name__=~"nova_image_quota_.*_bytes", `+sel+`}`, `nova_image_quota_up{`+sel+`}`)
		}
		waitFor(t, cl.name+": the stuck image's SAVING age", 20*time.Second, func() (bool, string) {
			age, msg := one(`image:nova_image_saving_age_seconds{` + img(idStuck) + `}`)
			if msg != "" {
				return false, msg
			}
			return age >= 1200 && age < 1200+300, fmt.Sprintf("age %v, want 1200s and a little", age)
		})
	}

	// NovaImageStuckInSaving: pending, then firing, for the images SAVING longer than the lowered
	// threshold (ours and the simulator's two old ones, on /metrics and on each cloud's /probe),
	// never for the fresh one.
	wantFiring := []string{idStuck, simulator.DefaultIDQueued, simulator.DefaultIDSaving}
	wantTargets := []string{"nova_image_exporter/"} // job/cloud
	for _, name := range cloudNames {
		wantTargets = append(wantTargets, "nova_images/"+name)
	}
	sawPending := false
	waitFor(t, "NovaImageStuckInSaving firing", 30*time.Second, func() (bool, string) {
		s, err := c.query(`ALERTS{alertname="NovaImageStuckInSaving"}`, 0)
		if err != nil {
			return false, err.Error()
		}
		firing := map[string]bool{}
		for _, a := range s {
			if a.Metric["id"] == idFresh {
				t.Fatalf("NovaImageStuckInSaving is %s for the image SAVING for 1 minute only (%v)", a.Metric["alertstate"], a.Metric)
			}
			switch a.Metric["alertstate"] {
			case "pending":
				sawPending = true
			case "firing":
				firing[a.Metric["job"]+"/"+a.Metric["cloud"]+"/"+a.Metric["id"]] = true
			}
		}
		var missing []string
		for _, target := range wantTargets {
			for _, id := range wantFiring {
				if !firing[target+"/"+id] {
					missing = append(missing, target+"/"+id)
				}
			}
		}
		return len(missing) == 0, fmt.Sprintf("not firing for %v (ALERTS: %v)", missing, s)
	})
	t.Logf("NovaImageStuckInSaving firing %s after start of the test (pending seen: %v)", time.Since(started).Round(time.Millisecond), sawPending)
	// The annotations name the image and the cloud.
	waitFor(t, "the alert's annotations", 10*time.Second, func() (bool, string) {
		resp, err := c.http.Get(c.base + "/api/v1/alerts")
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		var body struct {
			Data struct {
				Alerts []struct {
					Labels      map[string]string `json:"labels"`
					Annotations map[string]string `json:"annotations"`
					State       string            `json:"state"`
				} `json:"alerts"`
			} `json:"data"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			return false, err.Error()
		}
		var bad []string
	clouds:
		for _, name := range cloudNames {
			for _, a := range body.Data.Alerts {
				if a.Labels["id"] == idStuck && a.Labels["job"] == "nova_images" && a.Labels["cloud"] == name && a.State == "firing" {
					want := fmt.Sprintf(`Image "e2e-stuck-queued" (%s) stuck in SAVING on %s`, idStuck, name)
					if a.Annotations["summary"] != want || !strings.Contains(a.Annotations["runbook"], "openstack image show "+idStuck) {
						bad = append(bad, fmt.Sprintf("%s: annotations %v, want summary %q", name, a.Annotations, want))
					}
					continue clouds
				}
			}
			bad = append(bad, fmt.Sprintf("%s: no firing alert for %s", name, idStuck))
		}
		return len(bad) == 0, strings.Join(bad, "\n\t")
	})

	// The quota alerts: full (usage above a limit of 1) and nearly full for Glance's
	// image_count_total and IMS's image, for each cloud's /probe, and for nothing else (a limit
	// of 0, Glance's -1, quotas far from full, the nova cloud without quotas).
	for _, alert := range []string{"NovaImageQuotaFull", "NovaImageQuotaNearlyFull"} {
		waitFor(t, alert+" firing", 30*time.Second, func() (bool, string) {
			s, err := c.query(fmt.Sprintf(`ALERTS{alertname=%q, job="nova_images"}`, alert), 0)
			if err != nil {
				return false, err.Error()
			}
			var firing []string
			for _, a := range s {
				if a.Metric["alertstate"] == "firing" {
					firing = append(firing, a.Metric["cloud"]+"/"+a.Metric["resource"])
				}
			}
			sort.Strings(firing)
			return fmt.Sprint(firing) == fmt.Sprint(e2eQuotaAlerts), fmt.Sprintf("firing for %v, want %v (ALERTS: %v)", firing, e2eQuotaAlerts, s)
		})
	}
	if s, err := c.query(`ALERTS{alertname="NovaImageQuotaDown"}`, 0); err != nil || len(s) > 0 {
		t.Errorf("NovaImageQuotaDown: %v %v, want none: every quota request succeeds", s, err)
	}

	// Every dashboard query, with the cloud variable set to each cloud in turn and the others at
	// "All", answers without error, and non-empty: every panel has data here for each API (ERROR
	// and UNKNOWN images, an alert firing, API requests).
	d, err := LoadDashboard(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	queries, err := d.Queries()
	if err != nil {
		t.Fatal(err)
	}
	type pending struct {
		q     Query
		cloud string
		expr  string
		data  bool // whether the query has data for the cloud
	}
	var todo []pending
	for _, cl := range e2eClouds {
		for _, q := range queries {
			expr, err := Substitute(q.Expr, d.Variables, map[string]string{"cloud": cl.name})
			if err != nil {
				t.Fatalf("%s: %v", q.Where, err)
			}
			todo = append(todo, pending{q, cl.name, expr, hasData(t, cl.api, expr)})
		}
	}
	varValues := map[string]map[string]bool{}
	waitFor(t, "every dashboard query non-empty", 30*time.Second, func() (bool, string) {
		var empty []string
		for _, p := range todo {
			rng := time.Duration(0)
			if !p.q.Instant {
				rng = 30 * time.Second
			}
			s, err := c.query(p.expr, rng)
			if err != nil {
				t.Fatalf("%s: Prometheus refused the query: %v\n\t%s", p.q.Where, err, p.expr)
			}
			if (len(s) == 0) == p.data {
				want := "empty"
				if !p.data {
					want = fmt.Sprintf("not empty (the cloud has no such quota): %v", s)
				}
				empty = append(empty, fmt.Sprintf("cloud %s: %s: %s: %s", p.cloud, p.q.Where, want, p.expr))
			}
			if p.q.Label != "" {
				vals := map[string]bool{}
				for _, x := range s {
					if v := x.Metric[p.q.Label]; v != "" {
						vals[v] = true
					}
				}
				varValues[p.q.Variable] = vals
			}
		}
		return len(empty) == 0, fmt.Sprintf("%d queries empty, or not empty where the cloud's API has no quotas:\n\t%s", len(empty), strings.Join(empty, "\n\t"))
	})
	for v, want := range map[string][]string{
		"job":      {"nova_images", "nova_image_exporter"},
		"instance": {exporterAddr},
		"cloud":    cloudNames,
	} {
		for _, w := range want {
			if !varValues[v][w] {
				t.Errorf("variable %q offers %v, want %q among them", v, SortedKeys(varValues[v]), w)
			}
		}
	}
	t.Logf("%d dashboard queries for each of %d clouds answered, all non-empty but the quota panels of clouds without quotas", len(queries), len(cloudNames))
	checkReplicasCountOnce(t, c, d, queries, exporterAddr, e2eClouds)

	// The capacity panels count the project's own bytes: the public images that Glance and IMS
	// list beside them (nova_image_info visibility="public") are left out.
	var imageBytes string
	for _, q := range queries {
		if q.Where == `panel "Image bytes", query A` {
			imageBytes = q.Expr
		}
	}
	if imageBytes == "" {
		t.Fatal(`no query A in the panel "Image bytes"`)
	}
	for _, cl := range e2eClouds {
		var own float64
		for _, im := range images {
			if size, ok := sizeBy(cl.api, im); ok && listedBy(cl.api, im) && !publicBy(cl.api, im) {
				own += size
			}
		}
		expr, err := Substitute(imageBytes, d.Variables, map[string]string{"job": "nova_images", "cloud": cl.name})
		if err != nil {
			t.Fatal(err)
		}
		expectValue(expr, own)
	}

	checkProjectCapacity(t, c, d, queries, images, expectValue, expectNone)

	// The image leaves SAVING (its upload finished): the alert resolves at the next evaluation.
	now := time.Now().UTC().Truncate(time.Second)
	done := make([]simulator.Image, len(images))
	copy(done, images)
	for i := range done {
		if done[i].ID == idStuck {
			size := int64(4096)
			done[i].Status, done[i].Size, done[i].Updated = "active", &size, &now
		}
	}
	sim.SetImages(done)
	waitFor(t, "NovaImageStuckInSaving resolved once the image is ACTIVE", 20*time.Second, func() (bool, string) {
		s, err := c.query(fmt.Sprintf(`ALERTS{alertname="NovaImageStuckInSaving", id=%q}`, idStuck), 0)
		if err != nil {
			return false, err.Error()
		}
		return len(s) == 0, fmt.Sprintf("still %v", s)
	})
	s, err := c.query(`ALERTS{alertname="NovaImageStuckInSaving", alertstate="firing", job="nova_images"}`, 0)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string][]string{}
	for _, a := range s {
		ids[a.Metric["cloud"]] = append(ids[a.Metric["cloud"]], a.Metric["id"])
	}
	want := []string{simulator.DefaultIDQueued, simulator.DefaultIDSaving}
	for _, name := range cloudNames {
		sort.Strings(ids[name])
		if fmt.Sprint(ids[name]) != fmt.Sprint(want) {
			t.Errorf("%s: firing after the upload finished: %v, want the two old SAVING images only %v", name, ids[name], want)
		}
	}
	if len(ids) != len(cloudNames) {
		t.Errorf("firing after the upload finished on clouds %v, want %v only", SortedKeys(ids), cloudNames)
	}
	t.Logf("end-to-end in %s", time.Since(started).Round(time.Millisecond))
}

// checkReplicasCountOnce asserts that the capacity and image panels count a cloud that two
// replicas serve once: for each cloud, each of their queries gives the same answer for both
// replicas of the nova_replicas job as for one of them.
func checkReplicasCountOnce(t *testing.T, c promClient, d *Dashboard, queries []Query, oneReplica string, clouds []e2eCloud) {
	t.Helper()
	type pair struct {
		q         Query
		cloud     string
		both, one string
	}
	var pairs []pair
	for _, q := range queries {
		if (q.Row != "Capacity" && q.Row != "Capacity by project" && q.Row != "Images" && q.Row != "Quotas") || strings.Contains(q.Expr, "ALERTS") {
			continue // scrape health and alerts are per target
		}
		for _, cl := range clouds {
			cloud := cl.name
			if !hasData(t, cl.api, q.Expr) {
				continue // a quota panel of a cloud without that quota: empty, as checked above
			}
			both, err := Substitute(q.Expr, d.Variables, map[string]string{"job": "nova_replicas", "instance": ".*", "cloud": cloud})
			if err != nil {
				t.Fatal(err)
			}
			one, err := Substitute(q.Expr, d.Variables, map[string]string{"job": "nova_replicas", "instance": oneReplica, "cloud": cloud})
			if err != nil {
				t.Fatal(err)
			}
			pairs = append(pairs, pair{q, cloud, both, one})
		}
	}
	if len(pairs) < 10*len(clouds) {
		t.Fatalf("only %d capacity, image and quota queries: are the rows still named Capacity, Images and Quotas?", len(pairs)/len(clouds))
	}
	answer := func(expr string, q Query, at time.Time) (string, error) {
		rng := time.Duration(0)
		if !q.Instant {
			rng = 30 * time.Second
		}
		s, err := c.queryAt(expr, rng, at)
		lines := make([]string, len(s))
		for i, x := range s {
			lines[i] = fmt.Sprintf("%v %v", x.Metric, x.Value)
		}
		sort.Strings(lines)
		return strings.Join(lines, "; "), err
	}
	waitFor(t, "the dashboard counting two replicas of a cloud once", 20*time.Second, func() (bool, string) {
		at := time.Now().Add(-3 * time.Second) // every sample up to then is in
		var differ []string
		for _, p := range pairs {
			both, err := answer(p.both, p.q, at)
			if err != nil {
				t.Fatalf("%s: %v", p.q.Where, err)
			}
			one, err := answer(p.one, p.q, at)
			if err != nil {
				t.Fatalf("%s: %v", p.q.Where, err)
			}
			if both != one || one == "" {
				differ = append(differ, fmt.Sprintf("cloud %s: %s: two replicas give [%s], one gives [%s]", p.cloud, p.q.Where, both, one))
			}
		}
		return len(differ) == 0, strings.Join(differ, "\n\t")
	})
	t.Logf("%d capacity, image and quota query answers count two replicas once (%d clouds; quota panels only where the cloud has quotas)", len(pairs), len(clouds))
}

// hasData reports whether expr has data for a cloud read through api: false when it reads only
// quota families (or their recording rules) the API has none of (quotaFamilyOf), or an
// orphaned-snapshot family the API has none of (orphanFamilyOf).
func hasData(t *testing.T, api, expr string) bool {
	t.Helper()
	vars := map[string]bool{"job": true, "instance": true, "cloud": true}
	e, err := Substitute(expr, vars, nil)
	if err != nil {
		t.Fatal(err)
	}
	ast, err := promqlParser.ParseExpr(e)
	if err != nil {
		t.Fatalf("%s: %v", e, err)
	}
	quota, has, project, hasProject := false, false, false, true
	orphans, hasOrphans := false, true
	parser.Inspect(ast, func(node parser.Node, _ []parser.Node) error {
		if vs, ok := node.(*parser.VectorSelector); ok {
			_, family := quotaFamilies[vs.Name]
			_, rule := quotaRatioRules[vs.Name]
			if family || rule {
				quota = true
				has = has || quotaFamilyOf(api, vs.Name)
			}
			if isProjectSeries(vs.Name) {
				project = true
				hasProject = hasProject && projectFamilyOf(api, vs.Name)
			}
			if isOrphanSeries(vs.Name) {
				orphans = true
				hasOrphans = hasOrphans && orphanFamilyOf(api, vs.Name)
			}
		}
		return nil
	})
	return (!quota || has) && (!project || hasProject) && (!orphans || hasOrphans)
}

// checkProjectCapacity checks the "Capacity by project" row and its recording rules on each
// cloud: each owning project's images and bytes, its public and not-public bytes (a public image
// counts under its owner), nothing through nova (no owner), and that "Top projects by bytes"
// names each project by nova_project_info where Prometheus has it, else by its id.
func checkProjectCapacity(t *testing.T, c promClient, d *Dashboard, queries []Query, images []simulator.Image,
	expectValue func(string, float64), expectNone func(string, string)) {
	t.Helper()
	var top string
	for _, q := range queries {
		if q.Where == `panel "Top projects by bytes", query A` {
			top = q.Expr
		}
	}
	if top == "" {
		t.Fatal(`no query A in the panel "Top projects by bytes"`)
	}
	for _, cl := range e2eClouds {
		sel := fmt.Sprintf(`job="nova_images", cloud=%q`, cl.name)
		if cl.api == "nova" {
			expectNone(`{__name__=~"cloud_project:.*|nova_project_.*", `+sel+`}`, `nova_up{`+sel+`}`)
			continue
		}
		count, bytes, public := map[string]float64{}, map[string]float64{}, map[string]float64{}
		for _, im := range images {
			if !listedBy(cl.api, im) {
				continue
			}
			count[im.Owner]++
			size, ok := sizeBy(cl.api, im)
			bytes[im.Owner] += size
			if ok && publicBy(cl.api, im) {
				public[im.Owner] += size
			}
		}
		if len(count) < 2 {
			t.Fatalf("the e2e images have %d owners, want the project's and another's (the public image's)", len(count))
		}
		var listed float64
		for _, b := range bytes {
			listed += b
		}
		expectValue(`sum(nova_images_size_bytes{`+sel+`})`, listed)
		for owner := range count {
			p := fmt.Sprintf(`%s, project_id=%q`, sel, owner)
			expectValue(`cloud_project:nova_project_images:sum{`+p+`}`, count[owner])
			expectValue(`cloud_project:nova_project_images_size_bytes:sum{`+p+`}`, bytes[owner])
			expectValue(`cloud_project:nova_project_images_size_bytes:sum_not_public{`+p+`}`, bytes[owner]-public[owner])
			if _, ok := public[owner]; ok && projectFamilyOf(cl.api, "cloud_project:nova_image_size_bytes:sum_public") {
				expectValue(`cloud_project:nova_image_size_bytes:sum_public{`+p+`}`, public[owner])
			}
		}
		expr, err := Substitute(top, d.Variables, map[string]string{"job": "nova_images", "cloud": cl.name})
		if err != nil {
			t.Fatal(err)
		}
		var named map[string]string
		waitFor(t, cl.name+": the top projects by bytes, named", 20*time.Second, func() (bool, string) {
			info, err := c.query(`nova_project_info{`+sel+`}`, 0)
			if err != nil {
				return false, err.Error()
			}
			names := map[string]string{}
			for _, s := range info {
				names[s.Metric["project_id"]] = s.Metric["project_name"]
			}
			got, err := c.query(expr, 0)
			if err != nil {
				return false, err.Error()
			}
			have := map[string]string{}
			for _, s := range got {
				id := s.Metric["project_id"]
				name, ok := names[id]
				if !ok {
					name = id
				}
				if s.Metric["project_name"] != name || s.Value != bytes[id] {
					return false, fmt.Sprintf("%v = %v, want project_name %q and %v bytes (nova_project_info: %v)", s.Metric, s.Value, name, bytes[id], info)
				}
				have[id] = name
			}
			named = have
			return len(have) == len(bytes), fmt.Sprintf("projects %v, want %d (the owners %v)", have, len(bytes), SortedKeys(bytes))
		})
		t.Logf("%s: top projects by bytes (id: name) %v", cl.name, named)
	}
}
