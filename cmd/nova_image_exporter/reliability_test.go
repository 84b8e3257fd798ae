package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nova-image-exporter/nova_image_exporter/simulator"
)

// faultyCloud is a simulator behind a token cloud, for fault-injection tests.
func faultyCloud(t *testing.T, images []simulator.Image) *simulator.Simulator {
	t.Helper()
	if images == nil {
		images = simulator.DefaultImages(testNow)
	}
	sim := simulator.New(simulator.Options{Images: images})
	srv := httptest.NewServer(sim)
	t.Cleanup(func() {
		srv.CloseClientConnections() // ends hanging requests before Close waits for them
		srv.Close()
	})
	clouds := writeClouds(t, fmt.Sprintf(`clouds:
  faulty:
    auth_type: token
    auth: {token: %s, project_id: %s}
    compute_endpoint_override: %s/v2.1/{project_id}
`, sim.IssueToken(), testProject, srv.URL))
	t.Setenv("OS_CLIENT_CONFIG_FILE", clouds)
	return sim
}

// scrapeLikePrometheus scrapes with Prometheus's timeout header and gives up as Prometheus
// would when that timeout passes.
func scrapeLikePrometheus(t *testing.T, url string, timeout time.Duration) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", fmt.Sprint(timeout.Seconds()))
	resp, err := (&http.Client{Timeout: timeout}).Do(req)
	if err != nil {
		t.Fatalf("the scrape did not answer within Prometheus's timeout of %s: %v", timeout, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestHangingAPIAnswersUpZeroInTime(t *testing.T) {
	sim := faultyCloud(t, nil)
	sim.SetFaults(func(int, *http.Request) simulator.Fault { return simulator.Fault{Hang: true} })
	base, logs := startExporter(t, "--cloud=faulty")
	// While one scrape waits on the hanging API, others, and the landing page, still answer.
	go func() { _, _ = http.Get(base + "/metrics") }()
	code, body := scrapeLikePrometheus(t, base+"/metrics", 2*time.Second)
	if code != http.StatusOK || !strings.Contains(body, "\nnova_up 0\n") || !strings.Contains(body, "nova_image_exporter_build_info") {
		t.Errorf("status %d, want 200 with nova_up 0 and the exporter's own metrics:\n%s", code, body)
	}
	if !strings.Contains(logs.String(), "context deadline exceeded") {
		t.Errorf("the log does not say the deadline passed:\n%s", logs)
	}
	if code, _ := scrapeLikePrometheus(t, base+"/", time.Second); code != http.StatusOK {
		t.Errorf("landing page: %d", code)
	}
}

func TestHostileResponses(t *testing.T) {
	tests := []struct {
		name    string
		fault   simulator.Fault
		args    []string
		wantLog string
	}{
		{"garbage", simulator.Fault{Garbage: true}, nil, "malformed JSON"},
		{"HTML from a proxy", simulator.Fault{HTML: true}, nil, "response is text/html"},
		{"HTML 502 from nginx", simulator.Fault{Status: 502}, []string{"--client.max-retries=0"}, "HTTP 502"},
		{"connection reset mid-body", simulator.Fault{TruncateAfter: 500}, nil, "listing images, page 1"},
		{"wrong JSON types", simulator.Fault{WrongTypes: true}, nil, "wrong JSON type"},
		{"negative size", simulator.Fault{Negative: true}, nil, "OS-EXT-IMG-SIZE:size is negative"},
		{"pagination loop", simulator.Fault{Loop: true}, []string{"--images.page-size=2"}, "pagination loop"},
		{"too large", simulator.Fault{Huge: 1 << 20}, []string{"--client.max-response-bytes=65536"}, "response body larger than 65536 bytes"},
		{"a run of whitespace past the bound on one value", simulator.Fault{Huge: 4 << 20}, nil, "larger than 1048576 bytes of JSON in one image, value or run of whitespace"},
		{"too many pages", simulator.Fault{}, []string{"--images.page-size=1", "--client.max-pages=3"}, "more than 3 pages"},
		{"Glance down", simulator.Fault{Status: 500}, nil, "computeFault"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim := faultyCloud(t, nil)
			sim.SetFaults(func(n int, _ *http.Request) simulator.Fault {
				if tt.name == "pagination loop" && n == 0 {
					return simulator.Fault{}
				}
				return tt.fault
			})
			base, logs := startExporter(t, append([]string{"--cloud=faulty"}, tt.args...)...)
			families := scrape(t, base+"/metrics")
			if up, _ := value(families, "nova_up", nil); up != 0 {
				t.Errorf("nova_up = %v, want 0", up)
			}
			if _, found := families["go_goroutines"]; !found {
				t.Error("the exporter's own metrics are missing")
			}
			if n := len(families["nova_image_status"].GetMetric()); n != 0 {
				t.Errorf("%d image series from a failed listing", n)
			}
			text := logs.String()
			if strings.Count(text, "level=error") != 1 || !strings.Contains(text, tt.wantLog) {
				t.Errorf("want one error line containing %q:\n%s", tt.wantLog, text)
			}
		})
	}
}

func TestQuirkyButValidResponses(t *testing.T) {
	t.Run("duplicate ids across pages", func(t *testing.T) {
		sim := faultyCloud(t, nil)
		sim.SetFaults(func(n int, _ *http.Request) simulator.Fault { return simulator.Fault{Duplicate: n == 1} })
		base, _ := startExporter(t, "--cloud=faulty", "--images.page-size=3")
		checkImages(t, scrape(t, base+"/metrics"))
	})
	t.Run("invalid UTF-8 in names", func(t *testing.T) {
		sim := faultyCloud(t, nil)
		sim.SetFaults(func(int, *http.Request) simulator.Fault { return simulator.Fault{InvalidUTF8: true} })
		base, _ := startExporter(t, "--cloud=faulty")
		families := scrape(t, base+"/metrics")
		if up, _ := value(families, "nova_up", nil); up != 1 {
			t.Fatalf("nova_up = %v, want 1: invalid UTF-8 is repaired, not rejected", up)
		}
		if n := len(families["nova_image_status"].GetMetric()); n != len(simulator.DefaultImages(testNow)) {
			t.Errorf("%d images, want all", n)
		}
		if !strings.Contains(get(t, base+"/metrics"), "\uFFFD") {
			t.Error("no repaired name (U+FFFD) in the exposition")
		}
	})
	t.Run("odd and unparsable times", func(t *testing.T) {
		sim := faultyCloud(t, nil)
		sim.SetFaults(func(int, *http.Request) simulator.Fault { return simulator.Fault{OddTimes: true, BadTimes: true} })
		base, logs := startExporter(t, "--cloud=faulty")
		families := scrape(t, base+"/metrics")
		images := len(simulator.DefaultImages(testNow))
		if up, _ := value(families, "nova_up", nil); up != 1 {
			t.Fatalf("nova_up = %v, want 1", up)
		}
		if n := len(families["nova_image_created_timestamp_seconds"].GetMetric()); n != images-1 {
			t.Errorf("%d created samples, want all but the unparsable one (%d)", n, images-1)
		}
		if v, _ := value(families, "nova_listing_unreadable_fields", nil); v != 1 {
			t.Errorf("nova_listing_unreadable_fields = %v, want 1", v)
		}
		if !strings.Contains(logs.String(), "level=warn") || !strings.Contains(logs.String(), "not-a-time") {
			t.Errorf("the dropped field is not logged:\n%s", logs)
		}
	})
	t.Run("throttled then answered", func(t *testing.T) {
		sim := faultyCloud(t, nil)
		sim.SetFaults(func(n int, _ *http.Request) simulator.Fault {
			if n < 2 {
				return simulator.Fault{Status: 429, Gateway: n == 1, RetryAfter: "1"}
			}
			return simulator.Fault{}
		})
		base, _ := startExporter(t, "--cloud=faulty")
		families := scrape(t, base+"/metrics")
		checkImages(t, families)
		for code, want := range map[string]float64{"429": 2, "200": 1} {
			if got, _ := value(families, "nova_image_exporter_api_requests_total", map[string]string{"cloud": "faulty", "code": code}); got != want {
				t.Errorf("api_requests_total{code=%q} = %v, want %v", code, got, want)
			}
		}
	})
}

// TestConcurrentScrapesShareOneListing is the burst of an HA pair or of many probes: 200
// scrapes at once cause one listing, page by page, and none is refused: waiting for a
// listing takes none of the --web.max-requests slots. It reports latency and memory.
func TestConcurrentScrapesShareOneListing(t *testing.T) {
	sim := faultyCloud(t, nil)
	// The first page waits until every scrape has been sent, so that they are concurrent
	// however slowly a loaded machine sends them.
	const scrapes = 200
	var sent sync.WaitGroup
	sent.Add(scrapes)
	sim.SetFaults(func(n int, _ *http.Request) simulator.Fault {
		if n == 0 {
			sent.Wait()
		}
		return simulator.Fault{}
	})
	base, _ := startExporter(t, "--cloud=faulty", "--images.page-size=3", "--scrape.timeout=2m")
	trace := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		WroteRequest: func(httptrace.WroteRequestInfo) { sent.Done() },
	})
	var wg sync.WaitGroup
	latencies := make([]time.Duration, scrapes)
	stop := make(chan struct{})
	peak := make(chan uint64)
	go func() {
		var m runtime.MemStats
		var peakHeap uint64
		for {
			select {
			case <-stop:
				peak <- peakHeap
				return
			case <-time.After(50 * time.Millisecond):
				runtime.ReadMemStats(&m)
				peakHeap = max(peakHeap, m.HeapInuse)
			}
		}
	}()
	transport := &http.Transport{MaxIdleConnsPerHost: scrapes}
	for i := range scrapes {
		wg.Go(func() {
			start := time.Now()
			req, _ := http.NewRequestWithContext(trace, http.MethodGet, base+"/metrics", nil)
			resp, err := (&http.Client{Transport: transport}).Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			latencies[i] = time.Since(start)
			if !strings.Contains(string(body), "\nnova_up 1\n") {
				t.Errorf("scrape %d failed", i)
			}
		})
	}
	wg.Wait()
	close(stop)
	peakHeap := <-peak
	// 9 images by 3: three full pages and the empty page that ends the walk. A scrape that
	// reached the exporter only after the listing ended (a loaded machine) rightly starts
	// another; what must never happen is two listings at once.
	listings := checkListingsOneAtATime(t, sim.Requests(), 4)
	if listings > scrapes/20 {
		t.Errorf("%d listings for %d concurrent scrapes, want them to share (one, or a few on a loaded machine)", listings, scrapes)
	}
	slices.Sort(latencies)
	t.Logf("200 concurrent scrapes: p50 %v, p99 %v, max %v; peak heap in use %.1f MiB",
		latencies[scrapes/2], latencies[scrapes*99/100], latencies[scrapes-1], float64(peakHeap)/(1<<20))
}

func openFiles(t *testing.T) int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(entries)
}

// TestSoak scrapes many times against an API that fails 30% of requests in mixed ways:
// every scrape is answered, and goroutines, open files and memory do not grow.
func TestSoak(t *testing.T) {
	// The race detector makes each scrape about ten times slower; CI runs the full soak
	// without it (see .ci/run).
	scrapes := 10000
	if raceEnabled || testing.Short() {
		scrapes = 1000
	}
	sim := faultyCloud(t, simulator.GenerateImages(20, 3, testNow))
	sim.SetFaults(simulator.FailRandomly(0.3, 42))
	base, _ := startExporter(t, "--cloud=faulty", "--images.page-size=10", "--client.max-retries=0", "--log.level=error")
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	scrapeOnce := func() (string, error) {
		resp, err := client.Get(base + "/metrics")
		if err != nil {
			return "", fmt.Errorf("a scrape was not answered: %w", err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return "", fmt.Errorf("scrape answered %d", resp.StatusCode)
		}
		return string(body), nil
	}
	for range 50 { // warm up connections and pools before measuring
		if _, err := scrapeOnce(); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	goroutinesBefore, filesBefore := runtime.NumGoroutine(), openFiles(t)

	outcome := scrapeConcurrently(8, scrapes, scrapeOnce)
	if outcome.failed > 0 {
		t.Fatalf("%d of %d scrapes failed, the first: %v", outcome.failed, scrapes, outcome.firstErr)
	}
	up, down := outcome.up, outcome.down
	if up+down != scrapes || up == 0 || down == 0 {
		t.Errorf("%d up, %d down of %d scrapes: every scrape must answer, with both outcomes", up, down, scrapes)
	}
	client.CloseIdleConnections()
	var goroutinesAfter, filesAfter int
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		goroutinesAfter, filesAfter = runtime.NumGoroutine(), openFiles(t)
		if goroutinesAfter <= goroutinesBefore+5 && filesAfter <= filesBefore+5 {
			break
		}
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	t.Logf("%d scrapes: %d up, %d down; goroutines %d → %d, open files %d → %d, heap %.1f → %.1f MiB",
		scrapes, up, down, goroutinesBefore, goroutinesAfter, filesBefore, filesAfter,
		float64(before.HeapAlloc)/(1<<20), float64(after.HeapAlloc)/(1<<20))
	if goroutinesAfter > goroutinesBefore+5 {
		t.Errorf("goroutines grew from %d to %d", goroutinesBefore, goroutinesAfter)
	}
	if filesAfter > filesBefore+5 {
		t.Errorf("open files grew from %d to %d", filesBefore, filesAfter)
	}
	if after.HeapAlloc > before.HeapAlloc+16<<20 {
		t.Errorf("heap grew from %d to %d bytes", before.HeapAlloc, after.HeapAlloc)
	}
}

// scrapeOutcome is what scrapeConcurrently saw: answers with nova_up 1 and 0, and the
// scrapes that failed, with the first error.
type scrapeOutcome struct {
	up, down, failed int
	firstErr         error
}

// scrapeConcurrently calls scrape n times from workers goroutines. Failures are returned,
// for the test's own goroutine to report: a worker that called t.Fatal would stop, and the
// remaining work would wait for it forever.
func scrapeConcurrently(workers, n int, scrape func() (string, error)) scrapeOutcome {
	var outcome scrapeOutcome
	var mu sync.Mutex
	var wg sync.WaitGroup
	work := make(chan struct{})
	for range workers {
		wg.Go(func() {
			for range work {
				body, err := scrape()
				mu.Lock()
				switch {
				case err != nil:
					outcome.failed++
					if outcome.firstErr == nil {
						outcome.firstErr = err
					}
				case strings.Contains(body, "\nnova_up 1\n"):
					outcome.up++
				case strings.Contains(body, "\nnova_up 0\n"):
					outcome.down++
				}
				mu.Unlock()
			}
		})
	}
	for range n {
		work <- struct{}{}
	}
	close(work)
	wg.Wait()
	return outcome
}

// Every scrape failing is reported, not waited for: the workers go on to the end.
func TestScrapeConcurrentlyReportsFailures(t *testing.T) {
	refused := errors.New("scrape answered 503")
	var calls atomic.Int32
	outcome := scrapeConcurrently(8, 100, func() (string, error) {
		if calls.Add(1)%2 == 0 {
			return "\nnova_up 1\n", nil
		}
		return "", refused
	})
	if outcome.failed != 50 || outcome.up != 50 || !errors.Is(outcome.firstErr, refused) {
		t.Errorf("%+v, want 50 failed (the first %v) and 50 up", outcome, refused)
	}
}

// checkListingsOneAtATime checks that requests, in the order the API received them, are
// whole listings of pages requests each, one after the other (a listing starts without a
// marker), and returns how many there were.
func checkListingsOneAtATime(t *testing.T, requests []simulator.RequestRecord, pages int) int {
	t.Helper()
	for i, r := range requests {
		starts := !strings.Contains(r.RawQuery, "marker=")
		if starts != (i%pages == 0) {
			t.Errorf("request %d (%s) of %d: two listings ran at once", i, r.RawQuery, len(requests))
			return len(requests) / pages
		}
	}
	if len(requests)%pages != 0 {
		t.Errorf("%d requests: a listing was cut short", len(requests))
	}
	return len(requests) / pages
}
