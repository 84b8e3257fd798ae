package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/nova-image-exporter/nova_image_exporter/internal/testlog"
	"github.com/nova-image-exporter/nova_image_exporter/simulator"
)

// freeAddresses are the ports freeAddress handed out in this process.
var freeAddresses = struct {
	sync.Mutex
	given map[int]bool
}{given: map[int]bool{}}

// freeAddress returns a loopback address free for the exporter to listen on. The port is
// taken below the kernel's ephemeral range (32768 and up on Linux), where the test servers
// the other tests start with port 0 never land: a port closed here and handed by the kernel
// to another test's server before the exporter binds it would have the exporter fail, or a
// test talk to the wrong server. The realstack's ports (25000 and up) are above the range.
func freeAddress(t *testing.T) string {
	t.Helper()
	freeAddresses.Lock()
	defer freeAddresses.Unlock()
	for range 1000 {
		port := 10000 + rand.IntN(10000)
		if freeAddresses.given[port] {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		_ = l.Close()
		freeAddresses.given[port] = true
		return l.Addr().String()
	}
	t.Fatal("no free port between 10000 and 20000")
	return ""
}

// startExporter runs the exporter with args until the test ends, and returns its base URL
// and its log.
func startExporter(t *testing.T, args ...string) (string, *testlog.Buffer) {
	t.Helper()
	return startExporterWithClock(t, time.Now, args...)
}

// startExporterWithClock is startExporter with now as the clock of the clouds' tokens.
func startExporterWithClock(t *testing.T, now func() time.Time, args ...string) (string, *testlog.Buffer) {
	t.Helper()
	addr := freeAddress(t)
	base := "http://" + addr
	logs := runUntilServing(t, now, append(args, "--web.listen-address="+addr), func() error {
		resp, err := http.Get(base + "/")
		if err == nil {
			resp.Body.Close()
		}
		return err
	})
	return base, logs
}

// runUntilServing runs the exporter with now and args until the test ends, and waits up to
// 10s for serving to succeed; it returns the exporter's log.
func runUntilServing(t *testing.T, now func() time.Time, args []string, serving func() error) *testlog.Buffer {
	t.Helper()
	logs := &testlog.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, now, args, io.Discard, logs) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("exporter stopped with %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("exporter did not stop within 10s")
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := serving()
		if err == nil {
			return logs
		}
		select {
		case err := <-done:
			done <- nil // for the cleanup, which waits for the exporter to stop
			t.Fatalf("exporter exited before serving: %v\nlog:\n%s", err, logs)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("exporter not serving after 10s: %v\nlog:\n%s", err, logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// scrape fetches path and parses the exposition.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d\n%s", url, resp.StatusCode, body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parsing %s: %v", url, err)
	}
	return families
}

// value returns the sample of family name whose labels include want; ok is false if none.
func value(families map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	family, found := families[name]
	if !found {
		return 0, false
	}
next:
	for _, m := range family.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue next
			}
		}
		if m.GetCounter() != nil {
			return m.GetCounter().GetValue(), true
		}
		return m.GetGauge().GetValue(), true
	}
	return 0, false
}

func writeClouds(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "clouds.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

var testNow = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

func startSimulator(t *testing.T) (*simulator.Simulator, string) {
	t.Helper()
	sim := simulator.New(simulator.Options{Images: simulator.DefaultImages(testNow), InternalHost: "http://nova-api.internal:8774"})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return sim, srv.URL
}

// checkImages asserts that families hold exactly what the simulator's default images should give.
func checkImages(t *testing.T, families map[string]*dto.MetricFamily) {
	t.Helper()
	if up, _ := value(families, "nova_up", nil); up != 1 {
		t.Fatalf("nova_up = %v, want 1", up)
	}
	images := simulator.DefaultImages(testNow)
	if n := len(families["nova_image_status"].GetMetric()); n != len(images) {
		t.Errorf("%d nova_image_status series, want %d", n, len(images))
	}
	wantCounts := map[string]float64{"ACTIVE": 0, "SAVING": 0, "DELETED": 0, "ERROR": 0, "UNKNOWN": 0}
	glanceToNova := map[string]string{"active": "ACTIVE", "queued": "SAVING", "saving": "SAVING", "killed": "ERROR", "deleted": "DELETED"}
	for _, img := range images {
		status, known := glanceToNova[img.Status]
		if !known {
			status = "UNKNOWN"
		}
		wantCounts[status]++
		name := ""
		if img.Name != nil {
			name = *img.Name
		}
		id := map[string]string{"id": img.ID, "name": name}
		size := int64(0)
		if img.Size != nil {
			size = *img.Size
		}
		expect := map[string]float64{
			"nova_image_size_bytes":                float64(size),
			"nova_image_min_disk_bytes":            float64(img.MinDisk) * math.Pow(2, 30),
			"nova_image_min_ram_bytes":             float64(img.MinRAM) * math.Pow(2, 20),
			"nova_image_created_timestamp_seconds": float64(img.Created.Unix()),
		}
		if img.Updated != nil {
			expect["nova_image_updated_timestamp_seconds"] = float64(img.Updated.Unix())
		} else if _, found := value(families, "nova_image_updated_timestamp_seconds", id); found {
			t.Errorf("image %s: an updated sample although updated is null", img.ID)
		}
		for metric, want := range expect {
			if got, found := value(families, metric, id); !found || got != want {
				t.Errorf("%s{id=%q}: got %v (found %v), want %v", metric, img.ID, got, found, want)
			}
		}
		if _, found := value(families, "nova_image_status", map[string]string{"id": img.ID, "name": name, "status": status}); !found {
			t.Errorf("image %s: no nova_image_status with status %s", img.ID, status)
		}
		if _, found := value(families, "nova_image_info", map[string]string{"id": img.ID, "server_id": img.ServerID}); !found {
			t.Errorf("image %s: no nova_image_info with server_id %q", img.ID, img.ServerID)
		}
	}
	for status, want := range wantCounts {
		if got, _ := value(families, "nova_images", map[string]string{"status": status}); got != want {
			t.Errorf("nova_images{status=%q} = %v, want %v", status, got, want)
		}
	}
	progress, _ := value(families, "nova_image_progress_ratio", map[string]string{"id": simulator.DefaultIDQueued})
	if progress != 0.25 {
		t.Errorf("progress of the queued image %v, want 0.25", progress)
	}
}

func TestKeystoneCloudEndToEnd(t *testing.T) {
	sim, simURL := startSimulator(t)
	clouds := writeClouds(t, fmt.Sprintf(`clouds:
  sim:
    auth:
      auth_url: %s/v3
      username: demo
      password: demo-secret
      user_domain_name: Default
      project_name: demo
      project_domain_name: Default
    region_name: RegionOne
`, simURL))
	t.Setenv("OS_CLIENT_CONFIG_FILE", clouds)
	base, logs := startExporter(t, "--cloud=sim", "--images.page-size=2")

	checkImages(t, scrape(t, base+"/metrics"))
	pages := len(sim.Requests())
	// 9 images by 2: 5 pages, the last one not full.
	if pages != 5 {
		t.Errorf("%d requests for one scrape, want 5 pages", pages)
	}

	// The token is reused; once revoked, it is renewed once and the scrape still succeeds.
	checkImages(t, scrape(t, base+"/metrics"))
	if n := sim.TokenRequests(); n != 1 {
		t.Errorf("%d token requests after two scrapes, want 1 (reuse)", n)
	}
	sim.RevokeTokens()
	checkImages(t, scrape(t, base+"/metrics"))
	if n := sim.TokenRequests(); n != 2 {
		t.Errorf("%d token requests after a revocation, want 2", n)
	}
	if strings.Contains(logs.String(), "demo-secret") {
		t.Errorf("the log holds the password:\n%s", logs)
	}
}

func TestTokenCloudEndToEnd(t *testing.T) {
	sim, simURL := startSimulator(t)
	token := sim.IssueToken()
	clouds := writeClouds(t, fmt.Sprintf(`clouds:
  pretoken:
    auth_type: token
    auth:
      token: %s
      project_id: 0123456789abcdef0123456789abcdef
    compute_endpoint_override: %s/v2.1/{project_id}
`, token, simURL))
	t.Setenv("OS_CLIENT_CONFIG_FILE", clouds)
	t.Setenv("OS_CLOUD", "pretoken")
	base, logs := startExporter(t)
	checkImages(t, scrape(t, base+"/metrics"))
	if n := sim.TokenRequests(); n != 0 {
		t.Errorf("%d Keystone requests with a pre-issued token, want 0", n)
	}

	sim.RevokeTokens()
	families := scrape(t, base+"/metrics")
	if up, _ := value(families, "nova_up", nil); up != 0 {
		t.Errorf("nova_up = %v with a revoked pre-issued token, want 0", up)
	}
	if !strings.Contains(logs.String(), "cannot be renewed") || strings.Contains(logs.String(), token) {
		t.Errorf("log should explain the refused token without showing it:\n%s", logs)
	}
}

func TestFailingAPIGivesUpZeroAnd200(t *testing.T) {
	sim, simURL := startSimulator(t)
	sim.SetFaults(func(int, *http.Request) simulator.Fault {
		return simulator.Fault{Status: http.StatusInternalServerError, Message: "GlanceConnectionFailed: Connection to glance failed"}
	})
	clouds := writeClouds(t, fmt.Sprintf(`clouds:
  sim:
    auth_type: token
    auth: {token: %s}
    compute_endpoint_override: %s/v2.1/0123456789abcdef0123456789abcdef
`, sim.IssueToken(), simURL))
	t.Setenv("OS_CLIENT_CONFIG_FILE", clouds)
	base, logs := startExporter(t, "--cloud=sim")
	families := scrape(t, base+"/metrics")
	if up, found := value(families, "nova_up", nil); !found || up != 0 {
		t.Errorf("nova_up = %v (found %v), want 0", up, found)
	}
	if _, found := families["nova_scrape_duration_seconds"]; !found {
		t.Error("no nova_scrape_duration_seconds on a failed scrape")
	}
	if _, found := families["nova_image_exporter_build_info"]; !found {
		t.Error("no build info on a failed scrape")
	}
	for name := range families {
		if strings.HasPrefix(name, "nova_image_") && !strings.HasPrefix(name, "nova_image_exporter_") {
			t.Errorf("image series %s on a failed scrape", name)
		}
	}
	errorLines := strings.Count(logs.String(), "level=error")
	if errorLines != 1 || !strings.Contains(logs.String(), "HTTP 500 computeFault: GlanceConnectionFailed") {
		t.Errorf("want exactly one error line naming status and fault, got %d:\n%s", errorLines, logs)
	}
}

func TestDemoServesEveryContractMetric(t *testing.T) {
	base, _ := startExporter(t, "--demo")
	families := scrape(t, base+"/metrics")
	for _, name := range []string{
		"nova_up", "nova_images", "nova_image_status", "nova_image_size_bytes", "nova_image_min_disk_bytes",
		"nova_image_min_ram_bytes", "nova_image_progress_ratio", "nova_image_created_timestamp_seconds",
		"nova_image_updated_timestamp_seconds", "nova_image_info", "nova_scrape_duration_seconds",
		"nova_image_exporter_build_info",
	} {
		if _, found := families[name]; !found {
			t.Errorf("--demo does not serve %s", name)
		}
	}
	if up, _ := value(families, "nova_up", nil); up != 1 {
		t.Errorf("--demo: nova_up = %v, want 1", up)
	}
	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	page, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !bytes.Contains(page, []byte(`href="/metrics"`)) || bytes.Contains(page, []byte("debug/pprof")) {
		t.Errorf("landing page: %d, want a link to /metrics and no pprof links:\n%s", resp.StatusCode, page)
	}
}

func TestConfigErrorsStopStartup(t *testing.T) {
	clouds := writeClouds(t, `clouds:
  broken:
    auth:
      auth_url: https://keystone.example.com/v3
      username: u
      password: hunter2-secret
      user_domain_name: Default
      project_name: p
`)
	t.Setenv("OS_CLIENT_CONFIG_FILE", clouds)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--cloud=broken"}, `cloud "broken": auth.project_domain_name or auth.project_domain_id is required`},
		{[]string{"--cloud=absent"}, `no cloud "absent"`},
		{[]string{"--cloud=broken", "--images.page-size=-1"}, `--images.page-size="-1": want a whole number, 0 or more`},
		{[]string{"--cloud=broken", "--images.status=SAVINGS"}, `--images.status="SAVINGS": want a Glance status`},
		{[]string{"--cloud=broken", "--images.per-image-filter=oops"}, "want KEY=VALUE or KEY!=VALUE"},
		{[]string{"--cloud=broken", "--images.per-image-status="}, `--images.per-image-status "": want a Nova status such as ACTIVE`},
		{[]string{"--cloud=broken", "--images.per-image-visibility=!hidden"}, `--images.per-image-visibility "!hidden": want one of public, private, shared, community`},
		{[]string{"--log.level=loud"}, `--log.level: "loud" is not one of debug, info, warn, error; see --help`},
		{[]string{"--cloud=broken", "--web.telemetry-path=metrics"}, `--web.telemetry-path "metrics": want an absolute path`},
		{[]string{"--cloud=broken", "--web.telemetry-path=/probe"}, "taken by the exporter's own endpoint"},
		{[]string{"--cloud=broken", "--client.timeout=-1s"}, "--client.timeout must be positive"},
		{[]string{"--cloud=broken", "--client.max-retries=99"}, "--client.max-retries must be from 0 to 10"},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), time.Now, append(tt.args, "--web.listen-address="+freeAddress(t)), &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("run(%v) = %v, want an error containing %q", tt.args, err, tt.want)
		}
		if err != nil && (strings.Contains(err.Error(), "hunter2-secret") || strings.Contains(stderr.String(), "hunter2-secret")) {
			t.Errorf("run(%v) revealed the password", tt.args)
		}
		if err != nil && strings.Contains(tt.want, "cloud") && !strings.Contains(err.Error(), clouds) {
			t.Errorf("run(%v) = %v, want the file named", tt.args, err)
		}
	}
}

// runMainEnv, set in the environment of a run of the test binary, makes TestSignalsAreLogged
// run main with the arguments it holds instead of testing.
const runMainEnv = "NOVA_IMAGE_EXPORTER_TEST_MAIN_ARGS"

// TestSignalsAreLogged runs the exporter as a process of its own, sends it SIGTERM or
// SIGINT once it listens, and finds one line saying that it shuts down and which signal
// made it; it exits 0.
func TestSignalsAreLogged(t *testing.T) {
	if args, ok := os.LookupEnv(runMainEnv); ok {
		os.Args = append([]string{exporterName}, strings.Fields(args)...)
		main()
		return
	}
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestSignalsAreLogged$")
			cmd.Env = append(os.Environ(), runMainEnv+"=--demo --web.listen-address="+freeAddress(t))
			stderr, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			var log strings.Builder
			lines := bufio.NewScanner(stderr)
			for lines.Scan() && !strings.Contains(lines.Text(), "Listening on") {
				log.WriteString(lines.Text() + "\n")
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			var after []string
			for lines.Scan() {
				after = append(after, lines.Text())
			}
			if err := cmd.Wait(); err != nil {
				t.Errorf("the exporter exited with %v after %s:\n%s%s", err, sig, log.String(), strings.Join(after, "\n"))
			}
			want := fmt.Sprintf(`msg="shutting down" reason="%s signal received"`, sig)
			if got := linesWith(strings.Join(after, "\n"), want); len(got) != 1 {
				t.Errorf("after %s, want one line with %s, got:\n%s", sig, want, strings.Join(after, "\n"))
			}
		})
	}
}
