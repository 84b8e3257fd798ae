package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-kit/log"

	"github.com/nova-image-exporter/nova_image_exporter/simulator"
)

// tokenClouds serves each simulator as a token cloud of that name in clouds.yaml, with no
// default cloud.
func tokenClouds(t *testing.T, sims map[string]*simulator.Simulator) {
	t.Helper()
	var yaml strings.Builder
	yaml.WriteString("clouds:\n")
	for name, sim := range sims {
		srv := httptest.NewServer(sim)
		t.Cleanup(func() {
			srv.CloseClientConnections()
			srv.Close()
		})
		fmt.Fprintf(&yaml, "  %s:\n    auth_type: token\n    auth: {token: %s, project_id: %s}\n    compute_endpoint_override: %s/v2.1/{project_id}\n",
			name, sim.IssueToken(), testProject, srv.URL)
	}
	t.Setenv("OS_CLIENT_CONFIG_FILE", writeClouds(t, yaml.String()))
	t.Setenv("OS_CLOUD", "")
}

// bigImages make an exposition of several MB: more than the socket buffers between a
// scraper that does not read and the exporter.
func bigImages() []simulator.Image {
	images := simulator.GenerateImages(2000, 12, testNow)
	for i := range images {
		name := fmt.Sprintf("%04d-%s", i, strings.Repeat("n", 250))
		images[i].Name = &name
	}
	return images
}

// waitFor calls check until it succeeds, for at most 10s.
func waitFor(t *testing.T, what string, check func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !check(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not within 10s: %s", what)
		}
	}
}

// Scrapers that ask for a probe and never read the answer hold no work slot: probes that
// need listings of their own, more than --web.max-requests of them, and /metrics are
// answered meanwhile.
func TestSlowReadersDoNotBlockMetrics(t *testing.T) {
	tokenClouds(t, map[string]*simulator.Simulator{
		"big":   simulator.New(simulator.Options{Images: bigImages()}),
		"small": simulator.New(simulator.Options{Images: simulator.DefaultImages(testNow)}),
	})
	base, logs := startExporter(t, "--web.max-requests=2", "--cache.ttl=1h", "--web.write-margin=200ms")
	// Listed once, however long that takes here; the slow probes are served from the cache.
	code, whole := probe(t, base, "cloud=big")
	if code != http.StatusOK || !strings.Contains(whole, "\nnova_up 1\n") {
		t.Fatalf("probe of the big cloud: %d\n%.500s", code, whole)
	}
	addr := strings.TrimPrefix(base, "http://")
	for range 5 {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		_ = conn.(*net.TCPConn).SetReadBuffer(4096)
		if _, err := io.WriteString(conn, "GET /probe?cloud=big HTTP/1.1\r\nHost: exporter\r\nX-Prometheus-Scrape-Timeout-Seconds: 30\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
	}
	// A probe of options never asked before needs a listing of its own and a slot to render.
	// Once the slow scrapers' answers are rendered as far as their connections take, they
	// wait for their scrapers, which read nothing for the 30s of their write deadline,
	// holding no slot (before, they held both until then).
	newListing := 0
	waitFor(t, "a new listing is answered while five scrapers read nothing", func() bool {
		newListing++
		code, body := probe(t, base, fmt.Sprintf("cloud=small&name=n%d", newListing))
		return code == http.StatusOK && strings.Contains(body, "\nnova_up 1\n")
	})
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "nova_image_exporter_build_info") {
		t.Errorf("/metrics while five scrapers read nothing: %d\n%s", resp.StatusCode, body)
	}
	if strings.Contains(logs.String(), "level=error") {
		t.Errorf("errors logged:\n%s", logs)
	}
}

// A listing that another scrape started with a short deadline serves a patient scrape
// within the patient one's own deadline.
func TestShortScrapesDoNotSpoilAPatientOne(t *testing.T) {
	sim := simulator.New(simulator.Options{Images: simulator.DefaultImages(testNow)})
	sim.SetFaults(func(int, *http.Request) simulator.Fault { return simulator.Fault{Delay: time.Second} })
	tokenClouds(t, map[string]*simulator.Simulator{"slow": sim})
	base, logs := startExporter(t)
	stop := make(chan struct{})
	var shortScrapes sync.WaitGroup
	shortScrapes.Go(func() {
		for {
			shortScrapes.Go(func() { _, _ = scrapeWithTimeout(base+"/probe?cloud=slow", "0.3") })
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
	})
	defer func() {
		close(stop)
		shortScrapes.Wait()
	}()
	waitFor(t, "a short scrape started a listing", func() bool { return sim.ImagesRequests() > 0 })
	code, body := scrapeWithTimeout(base+"/probe?cloud=slow", "10")
	if code != http.StatusOK || !strings.Contains(body, "\nnova_up 1\n") {
		t.Errorf("the patient scrape: %d\n%s\nlog:\n%s", code, body, logs)
	}
}

func scrapeWithTimeout(url, seconds string) (int, string) {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", seconds)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// Errors of the HTTP server itself go through the exporter's logger, in its format: here a
// plain HTTP request to the TLS port.
func TestServerErrorsAreLogged(t *testing.T) {
	dir := t.TempDir()
	pool := selfSignedCert(t, filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"))
	config := filepath.Join(dir, "web-config.yml")
	if err := os.WriteFile(config, []byte("tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddress(t)
	transport := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	t.Cleanup(transport.CloseIdleConnections)
	logs := runUntilServing(t, time.Now, []string{"--demo", "--log.format=json", "--web.config.file=" + config, "--web.listen-address=" + addr}, func() error {
		resp, err := (&http.Client{Transport: transport}).Get("https://" + addr + "/")
		if err == nil {
			resp.Body.Close()
		}
		return err
	})
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	waitFor(t, "the server's TLS handshake error reaches the log", func() bool {
		return strings.Contains(logs.String(), `"msg":"http: TLS handshake error from`)
	})
	for line := range strings.Lines(logs.String()) {
		if strings.Contains(line, "handshake") && (!strings.Contains(line, `"level":"warn"`) || !strings.Contains(line, `"ts":`)) {
			t.Errorf("the server's error is not a warning in the exporter's format: %s", line)
		}
	}
}

func TestServerBoundsConnections(t *testing.T) {
	cfg, err := parseFlags([]string{"--scrape.timeout=20s", "--web.write-margin=3s"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	server := newServer(cfg, http.NotFoundHandler(), log.NewNopLogger())
	if server.WriteTimeout != 23*time.Second || server.IdleTimeout <= 0 || server.ReadHeaderTimeout <= 0 ||
		server.MaxHeaderBytes <= 0 || server.MaxHeaderBytes > 1<<20 || server.ErrorLog == nil {
		t.Errorf("server: write %s, idle %s, read header %s, max header bytes %d, error log %v",
			server.WriteTimeout, server.IdleTimeout, server.ReadHeaderTimeout, server.MaxHeaderBytes, server.ErrorLog)
	}
	if _, err := parseFlags([]string{"--web.write-margin=0s"}, io.Discard); err == nil {
		t.Error("--web.write-margin=0s accepted")
	}
}

// A bad option is echoed and logged cut short; a repeated cloud is refused like any
// repeated option.
func TestProbeBoundsWhatItEchoes(t *testing.T) {
	twoClouds(t)
	base, logs := startExporter(t)
	long := strings.Repeat("é", 30_000) // 60 KB
	for query, want := range map[string]string{
		"cloud=cloud-a&name=" + long:   `name="éé`,
		"cloud=cloud-a&server=" + long: "...(cut, 60000 bytes in all): longer than 255 bytes",
		"cloud=" + long:                `unknown cloud "éé`,
		long + "=x&cloud=cloud-a":      `unknown parameter "éé`,
		"cloud=cloud-a&cloud=cloud-b":  "cloud: given 2 times, want once",
	} {
		code, body := probe(t, base, query)
		if code != http.StatusBadRequest || !strings.Contains(body, want) || len(body) > 1200 {
			t.Errorf("?%.40s...: %d, %d bytes, want 400 containing %q, at most 1200 bytes:\n%.300s", query, code, len(body), want, body)
		}
	}
	for line := range strings.Lines(logs.String()) {
		if len(line) > 1500 {
			t.Errorf("a log line of %d bytes: %.200s...", len(line), line)
		}
	}
	if code, _ := probe(t, base, "cloud=cloud-a&name="+strings.Repeat("x", 900_000)); code != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("a 900 KB query: %d, want 431", code)
	}
}

// The memory bounds take byte units, have defaults that keep the Kubernetes example's 256 MiB
// limit, and must be positive.
func TestMemoryFlags(t *testing.T) {
	cfg, err := parseFlags(nil, io.Discard)
	if err != nil || cfg.maxListingsBytes != 96<<20 || cfg.maxCacheBytes != 48<<20 {
		t.Fatalf("defaults: %v, --listings.max-bytes %d, --cache.max-bytes %d", err, cfg.maxListingsBytes, cfg.maxCacheBytes)
	}
	cfg, err = parseFlags([]string{"--listings.max-bytes=1GiB", "--cache.max-bytes=512KiB"}, io.Discard)
	if err != nil || cfg.maxListingsBytes != 1<<30 || cfg.maxCacheBytes != 512<<10 {
		t.Errorf("1GiB and 512KiB: %v, %d, %d", err, cfg.maxListingsBytes, cfg.maxCacheBytes)
	}
	if _, err := parseFlags([]string{"--cache.max-bytes=0"}, io.Discard); err == nil || !strings.Contains(err.Error(), "--cache.max-bytes") {
		t.Errorf("--cache.max-bytes=0: %v, want an error naming the flag", err)
	}
}

// A listing that would take the listings held at once past --listings.max-bytes fails,
// saying so.
func TestListingBeyondTheMemoryBoundFails(t *testing.T) {
	tokenClouds(t, map[string]*simulator.Simulator{"c": simulator.New(simulator.Options{Images: simulator.DefaultImages(testNow)})})
	base, logs := startExporter(t, "--listings.max-bytes=1KiB")
	if code, body := probe(t, base, "cloud=c"); code != http.StatusOK || !strings.Contains(body, "\nnova_up 0\n") {
		t.Errorf("probe: %d\n%.300s", code, body)
	}
	if !strings.Contains(logs.String(), "would take more than 1024 bytes of images (--listings.max-bytes)") {
		t.Errorf("no log line naming the flag:\n%s", logs)
	}
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "\nnova_image_exporter_listings_held_bytes 0\n") {
		t.Errorf("/metrics: the failed listing is still counted, or not exported:\n%s", body)
	}
}

// With --cache.ttl, a listing slower than the scrapes goes on in the background: the scrapes
// meanwhile answer nova_up 0 (one log line for the listing), and a later scrape gets it,
// without another listing. Past --listings.timeout it is stopped, and that is its failure.
func TestSlowListingGoesOnInTheBackground(t *testing.T) {
	sim := simulator.New(simulator.Options{Images: simulator.DefaultImages(testNow)})
	sim.SetFaults(func(int, *http.Request) simulator.Fault { return simulator.Fault{Delay: 1500 * time.Millisecond} })
	tokenClouds(t, map[string]*simulator.Simulator{"slow": sim})
	base, logs := startExporter(t, "--cache.ttl=1h", "--scrape.timeout-offset=0s")
	if code, body := scrapeWithTimeout(base+"/probe?cloud=slow", "0.3"); code != http.StatusOK || !strings.Contains(body, "\nnova_up 0\n") {
		t.Fatalf("the scrape that starts the slow listing: %d\n%s", code, body)
	}
	waitFor(t, "a later scrape got the listing", func() bool {
		_, body := scrapeWithTimeout(base+"/probe?cloud=slow", "0.3")
		return strings.Contains(body, "\nnova_up 1\n")
	})
	if n := sim.ImagesRequests(); n != 1 {
		t.Errorf("%d listing requests, want the one that went on in the background", n)
	}
	if n := strings.Count(logs.String(), `msg="the listing outlasts the scrape's deadline`); n != 1 || strings.Contains(logs.String(), "level=error") {
		t.Errorf("%d lines of the listing going on, want 1, and no error:\n%s", n, logs)
	}

	bounded, boundedLogs := startExporter(t, "--cache.ttl=1h", "--scrape.timeout=500ms", "--listings.timeout=500ms")
	if _, body := scrapeWithTimeout(bounded+"/probe?cloud=slow", "0.3"); !strings.Contains(body, "\nnova_up 0\n") {
		t.Fatalf("the scrape that starts the slow listing:\n%s", body)
	}
	waitFor(t, "--listings.timeout stopped the listing", func() bool {
		return strings.Contains(boundedLogs.String(), `msg="listing images failed"`)
	})
	if !strings.Contains(boundedLogs.String(), "context deadline exceeded") {
		t.Errorf("the listing stopped by --listings.timeout: want its deadline in the log:\n%s", boundedLogs)
	}
}
