package collector_test

import (
	stdgzip "compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-kit/log"
	kgzip "github.com/klauspost/compress/gzip"

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/client/cloud"
	"github.com/nova-image-exporter/nova_image_exporter/client/nova"
	"github.com/nova-image-exporter/nova_image_exporter/collector"
	"github.com/nova-image-exporter/nova_image_exporter/collector/exposition"
	"github.com/nova-image-exporter/nova_image_exporter/simulator"
)

// The benchmarks measure, at 1 000, 10 000 and 100 000 images, what one scrape costs:
//
//	floor:  decoding the page bodies with encoding/json into the fields the metrics need
//	        (Floor), or those but the metadata's image_type (FloorLean);
//	client: the client's listing of the same bodies from an in-memory transport;
//	scrape: a whole /metrics scrape over loopback, exposition included, uncompressed
//	        (Scrape) and gzipped as Prometheus asks by default (ScrapeGzip);
//	10 gzipped scrapes at once of the same cloud (ScrapeGzipConcurrent).
//
// Each reports CPU time (user+system) per scrape, bytes allocated, peak live heap, the peak
// of the resident set above what it was before, and bytes per image. The gzipped answers are
// read as they come, not decoded: decoding is Prometheus's CPU, not the exporter's (the tests
// check that they decode to the uncompressed answer). scripts/bench.sh runs them and prints
// the ratios.

var benchSizes = []int{1000, 10000, 100000}

const benchPageSize = 1000

// pages are the simulator's answers for a listing of n images, by marker. They are kept in
// files, not in memory: 130 MB of bodies on the heap would distort the garbage collector's
// pacing, and so the peak heap measured for the exporter.
type pages struct {
	n     int
	files map[string]string // marker ("" for the first page) → file holding the body
	total int               // bytes over all pages
}

var (
	pagesMu    sync.Mutex
	pagesCache = map[int]*pages{}
	pagesDir   string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if pagesDir != "" {
		_ = os.RemoveAll(pagesDir)
	}
	os.Exit(code)
}

func (p *pages) open(marker string) (*os.File, bool) {
	path, ok := p.files[marker]
	if !ok {
		return nil, false
	}
	f, err := os.Open(path)
	return f, err == nil
}

// simulatorPages renders, once per size, every page the simulator answers with for n
// generated images, pages of benchPageSize.
func simulatorPages(tb testing.TB, n int) *pages {
	tb.Helper()
	pagesMu.Lock()
	defer pagesMu.Unlock()
	if p, ok := pagesCache[n]; ok {
		return p
	}
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	sim := simulator.New(simulator.Options{Images: simulator.GenerateImages(n, 1, now)})
	token := sim.IssueToken()
	p := &pages{n: n, files: map[string]string{}}
	if pagesDir == "" {
		var err error
		if pagesDir, err = os.MkdirTemp("", "nova-bench-pages-"); err != nil {
			tb.Fatal(err)
		}
	}
	marker := ""
	for {
		target := "/v2.1/0123456789abcdef0123456789abcdef/images/detail?limit=" + strconv.Itoa(benchPageSize)
		if marker != "" {
			target += "&marker=" + marker
		}
		req := httptest.NewRequest(http.MethodGet, "http://nova.bench"+target, nil)
		req.Header.Set("X-Auth-Token", token)
		rec := httptest.NewRecorder()
		sim.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			tb.Fatalf("simulator: %d %s", rec.Code, rec.Body)
		}
		body := rec.Body.Bytes()
		path := filepath.Join(pagesDir, fmt.Sprintf("%d-%d.json", n, len(p.files)))
		if err := os.WriteFile(path, body, 0o600); err != nil {
			tb.Fatal(err)
		}
		p.files[marker] = path
		p.total += len(body)
		var page struct {
			Images []struct {
				ID string `json:"id"`
			} `json:"images"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			tb.Fatal(err)
		}
		if len(page.Images) == 0 {
			break
		}
		marker = page.Images[len(page.Images)-1].ID
	}
	pagesCache[n] = p
	runtime.GC()
	return p
}

// serve answers a page request from the rendered pages.
func (p *pages) serve(w http.ResponseWriter, r *http.Request) {
	f, ok := p.open(r.URL.Query().Get("marker"))
	if !ok {
		http.Error(w, `{"badRequest": {"code": 400, "message": "unknown marker"}}`, http.StatusBadRequest)
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "application/json")
	http.ServeContent(w, r, "", time.Time{}, f)
}

// floorImage holds exactly what the metrics need, decoded the plain encoding/json way.
type floorImage struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Status   string `json:"status"`
	Size     *int64 `json:"OS-EXT-IMG-SIZE:size"`
	MinDisk  *int64 `json:"minDisk"`
	MinRAM   *int64 `json:"minRam"`
	Progress *int64 `json:"progress"`
	Created  string `json:"created"`
	Updated  string `json:"updated"`
	Server   struct {
		ID string `json:"id"`
	} `json:"server"`
	Metadata struct {
		ImageType string `json:"image_type"`
	} `json:"metadata"`
}

// floorLeanImage is floorImage without the metadata, which the decoder skips.
type floorLeanImage struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Status   string `json:"status"`
	Size     *int64 `json:"OS-EXT-IMG-SIZE:size"`
	MinDisk  *int64 `json:"minDisk"`
	MinRAM   *int64 `json:"minRam"`
	Progress *int64 `json:"progress"`
	Created  string `json:"created"`
	Updated  string `json:"updated"`
	Server   struct {
		ID string `json:"id"`
	} `json:"server"`
}

// measurement collects CPU time and the peak of the live heap over b's iterations.
type measurement struct {
	b        *testing.B
	cpuStart time.Duration
	baseline uint64 // live heap before the first iteration: the rendered pages and the like
	peak     atomic.Uint64
	rss      uint64 // resident set before the first iteration, once the free heap was returned
	stop     chan struct{}
	done     chan struct{}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// residentKB reads a field of /proc/self/status (VmRSS, VmHWM) in kB; 0 where there is none.
func residentKB(field string) uint64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		if value, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(value), "kB")), 10, 64)
			return kb
		}
	}
	return 0
}

func measure(b *testing.B) *measurement {
	debug.FreeOSMemory()
	// Resets VmHWM to the current resident set (Linux); elsewhere the peak is not reported.
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	m := &measurement{b: b, stop: make(chan struct{}), done: make(chan struct{}), rss: residentKB("VmRSS")}
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(sample)
	m.baseline = sample[0].Value.Uint64()
	go func() {
		defer close(m.done)
		for {
			metrics.Read(sample)
			if v := sample[0].Value.Uint64(); v > m.peak.Load() {
				m.peak.Store(v)
			}
			select {
			case <-m.stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	b.ReportAllocs()
	b.ResetTimer()
	m.cpuStart = cpuTime()
	return m
}

func (m *measurement) report(images int, bodyBytes int) {
	cpu := cpuTime() - m.cpuStart
	m.b.StopTimer()
	close(m.stop)
	<-m.done
	m.b.ReportMetric(float64(cpu.Nanoseconds())/float64(m.b.N), "cpu-ns/op")
	m.b.ReportMetric(float64(m.peak.Load()-min(m.baseline, m.peak.Load())), "peak-heap-B")
	m.b.ReportMetric(float64(cpu.Nanoseconds())/float64(m.b.N)/float64(images), "cpu-ns/image")
	if peak := residentKB("VmHWM"); peak >= m.rss && m.rss > 0 {
		m.b.ReportMetric(float64(peak-m.rss)*1024, "peak-rss-B")
	}
	m.b.ReportMetric(float64(bodyBytes), "body-B")
}

func BenchmarkFloor(b *testing.B) { benchFloor[floorImage](b) }

// BenchmarkFloorLean is the floor of a decoder that skips the metadata: floorLeanImage.
func BenchmarkFloorLean(b *testing.B) { benchFloor[floorLeanImage](b) }

// benchFloor decodes every page into a list of T with encoding/json and keeps them.
func benchFloor[T any](b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("images=%d", n), func(b *testing.B) {
			p := simulatorPages(b, n)
			m := measure(b)
			for b.Loop() {
				var kept []T
				for marker := range p.files {
					f, _ := p.open(marker)
					var page struct {
						Images []T `json:"images"`
					}
					if err := json.NewDecoder(f).Decode(&page); err != nil {
						b.Fatal(err)
					}
					f.Close()
					kept = append(kept, page.Images...)
				}
				if len(kept) != n {
					b.Fatalf("%d images, want %d", len(kept), n)
				}
			}
			m.report(n, p.total)
		})
	}
}

// memoryTransport answers from the rendered pages without a network.
type memoryTransport struct{ p *pages }

func (t memoryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	f, ok := t.p.open(req.URL.Query().Get("marker"))
	if !ok {
		return nil, fmt.Errorf("unknown marker")
	}
	return &http.Response{
		StatusCode: http.StatusOK, Request: req, Header: http.Header{"Content-Type": {"application/json"}},
		Body: f, ContentLength: -1,
	}, nil
}

// memoryClient lists p's pages through memoryTransport.
func memoryClient(p *pages) *nova.Client {
	return nova.New(&cloud.StaticToken{Token: "test-token-0123456789", ComputeEndpoint: "http://nova.bench/v2.1/p"}, client.Options{
		HTTPClient:   &http.Client{Transport: memoryTransport{p}},
		MetadataKeys: exposition.DefaultImageExports().MetadataKeys(),
	})
}

func BenchmarkClient(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("images=%d", n), func(b *testing.B) {
			p := simulatorPages(b, n)
			c := memoryClient(p)
			opts := client.ListOptions{PageSize: benchPageSize}
			m := measure(b)
			for b.Loop() {
				images, err := client.Collect(context.Background(), c, opts)
				if err != nil || len(images) != n {
					b.Fatalf("%d images, %v", len(images), err)
				}
			}
			m.report(n, p.total)
		})
	}
}

// scrapeSetup serves the rendered pages on loopback and the exporter's handler on another
// loopback port, as in production.
func scrapeSetup(b *testing.B, n int) (url string, client *http.Client) {
	p := simulatorPages(b, n)
	api := httptest.NewServer(http.HandlerFunc(p.serve))
	b.Cleanup(api.Close)
	c := clientFor(api.URL)
	selection, err := clientSelection()
	if err != nil {
		b.Fatal(err)
	}
	handler := &collector.Handler{
		Resolve:  collector.StaticTarget(collector.Target{Cloud: "bench", Listings: collector.NewListings(c, 0), Selection: selection}),
		Timeouts: collector.ScrapeTimeouts{Default: 5 * time.Minute},
		Logger:   log.NewNopLogger(),
	}
	exporter := httptest.NewServer(handler)
	b.Cleanup(exporter.Close)
	// The transport does not decode: a gzip scrape asks for gzip itself.
	return exporter.URL + "/metrics", &http.Client{Transport: &http.Transport{
		DialContext: (&net.Dialer{}).DialContext, DisableCompression: true,
	}}
}

// scrapeOnce scrapes url as Prometheus does, gzipped or not, and reads the answer without
// decoding it: the bytes on the wire.
func scrapeOnce(b *testing.B, httpClient *http.Client, url string, n int, gzip bool) int64 {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if gzip {
		req.Header.Set("Accept-Encoding", "gzip")
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		b.Error(err)
		return 0
	}
	defer resp.Body.Close()
	written, _ := io.Copy(io.Discard, resp.Body)
	minimum := int64(n) * 100 // of text; gzip keeps more than 1 byte in 100
	if gzip {
		minimum /= 100
	}
	if resp.StatusCode != http.StatusOK || written < minimum || (resp.Header.Get("Content-Encoding") == "gzip") != gzip {
		b.Errorf("scrape: %d, %d bytes, Content-Encoding %q", resp.StatusCode, written, resp.Header.Get("Content-Encoding"))
	}
	return written
}

func clientFor(apiURL string) *nova.Client {
	return nova.New(&cloud.StaticToken{Token: "test-token-0123456789", ComputeEndpoint: apiURL + "/v2.1/p"}, client.Options{
		MetadataKeys: exposition.DefaultImageExports().MetadataKeys(),
	})
}

func clientSelection() (client.Selection, error) {
	return client.ParseSelection(client.Selection{}, map[string][]string{"page-size": {strconv.Itoa(benchPageSize)}})
}

// BenchmarkScrape scrapes without compression, as Prometheus does with
// enable_compression: false; BenchmarkScrapeGzip as it does by default.
func BenchmarkScrape(b *testing.B) { benchmarkScrape(b, false) }

// BenchmarkScrapeGzip scrapes with Accept-Encoding: gzip.
func BenchmarkScrapeGzip(b *testing.B) { benchmarkScrape(b, true) }

func benchmarkScrape(b *testing.B, gzip bool) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("images=%d", n), func(b *testing.B) {
			url, httpClient := scrapeSetup(b, n)
			m := measure(b)
			var answer int64
			for b.Loop() {
				answer = scrapeOnce(b, httpClient, url, n, gzip)
			}
			m.report(n, simulatorPages(b, n).total)
			b.ReportMetric(float64(answer), "answer-B")
		})
	}
}

// concurrentScrapes is how many scrapers BenchmarkScrapeGzipConcurrent sends at once.
const concurrentScrapes = 10

// BenchmarkScrapeGzipConcurrent sends 10 gzipped scrapes of the same cloud at once: they
// share one listing and one rendering. Its cpu-ns/op is for the 10.
func BenchmarkScrapeGzipConcurrent(b *testing.B) {
	for _, n := range benchSizes[1:] {
		b.Run(fmt.Sprintf("images=%d", n), func(b *testing.B) {
			url, httpClient := scrapeSetup(b, n)
			m := measure(b)
			for b.Loop() {
				var scrapes sync.WaitGroup
				for range concurrentScrapes {
					scrapes.Go(func() { scrapeOnce(b, httpClient, url, n, true) })
				}
				scrapes.Wait()
			}
			m.report(n, simulatorPages(b, n).total)
		})
	}
}

// BenchmarkExposition is the text exposition alone of a listing already made: its share of
// a scrape.
func BenchmarkExposition(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("images=%d", n), func(b *testing.B) {
			p := simulatorPages(b, n)
			c := memoryClient(p)
			shared := collector.NewListings(c, time.Hour) // listed once, then served from the cache
			selection, _ := clientSelection()
			handler := &collector.Handler{
				Resolve:  collector.StaticTarget(collector.Target{Cloud: "bench", Listings: shared, Selection: selection}),
				Timeouts: collector.ScrapeTimeouts{Default: time.Minute},
				Logger:   log.NewNopLogger(),
			}
			req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
			handler.ServeHTTP(discardResponse{header: http.Header{}}, req)
			m := measure(b)
			for b.Loop() {
				handler.ServeHTTP(discardResponse{header: http.Header{}}, req)
			}
			m.report(n, p.total)
		})
	}
}

// BenchmarkPageSize lists 10 000 images over loopback with several page sizes: the
// round trips against the memory each page costs.
func BenchmarkPageSize(b *testing.B) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	sim := simulator.New(simulator.Options{Images: simulator.GenerateImages(10000, 1, now)})
	api := httptest.NewServer(sim)
	b.Cleanup(api.Close)
	for _, size := range []int{100, 250, 1000} {
		b.Run(fmt.Sprintf("page-size=%d", size), func(b *testing.B) {
			c := nova.New(&cloud.StaticToken{Token: sim.IssueToken(), ComputeEndpoint: api.URL + "/v2.1/0123456789abcdef0123456789abcdef"}, client.Options{})
			m := measure(b)
			for b.Loop() {
				if err := c.EachImage(context.Background(), client.ListOptions{PageSize: size}, func(client.Image) error { return nil }); err != nil {
					b.Fatal(err)
				}
			}
			m.report(10000, 0)
		})
	}
}

type discardResponse struct{ header http.Header }

func (d discardResponse) Header() http.Header         { return d.header }
func (d discardResponse) Write(p []byte) (int, error) { return len(p), nil }
func (d discardResponse) WriteHeader(int)             {}

// BenchmarkCompress compresses the text of a 100 000-image scrape at BestSpeed with the
// standard library's gzip and with klauspost/compress's, which the exporter uses.
func BenchmarkCompress(b *testing.B) {
	p := simulatorPages(b, 100000)
	selection, _ := clientSelection()
	handler := &collector.Handler{
		Resolve:  collector.StaticTarget(collector.Target{Cloud: "bench", Listings: collector.NewListings(memoryClient(p), 0), Selection: selection}),
		Timeouts: collector.ScrapeTimeouts{Default: time.Minute},
		Logger:   log.NewNopLogger(),
	}
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	text := rec.Body.Bytes()
	for _, c := range []struct {
		name string
		new  func(io.Writer) io.WriteCloser
	}{
		{"stdlib", func(w io.Writer) io.WriteCloser { gz, _ := stdgzip.NewWriterLevel(w, stdgzip.BestSpeed); return gz }},
		{"klauspost", func(w io.Writer) io.WriteCloser { gz, _ := kgzip.NewWriterLevel(w, kgzip.BestSpeed); return gz }},
	} {
		b.Run(c.name, func(b *testing.B) {
			m := measure(b)
			var out countingWriter
			for b.Loop() {
				out = 0
				gz := c.new(&out)
				_, _ = gz.Write(text)
				_ = gz.Close()
			}
			m.report(100000, p.total)
			b.ReportMetric(float64(len(text)), "text-B")
			b.ReportMetric(float64(out), "answer-B")
		})
	}
}

type countingWriter int

func (c *countingWriter) Write(p []byte) (int, error) {
	*c += countingWriter(len(p))
	return len(p), nil
}

// BenchmarkProbesByPageSize probes a cloud of 100 000 images as /probe?page-size=N does,
// gzipped: five probes in a row with page-size=1..5 and --cache.ttl (sequential), and four
// at once with page-size=6..9 and no cache (concurrent). The page size changes how the
// images are listed, not which (the rendered pages here are of 1 000 whatever the limit).
// It reports the live heap held once the probes are answered (the cache), and the peak of
// the resident set and of the heap above what they were before.
func BenchmarkProbesByPageSize(b *testing.B) {
	const n = 100000
	p := simulatorPages(b, n)
	api := httptest.NewServer(http.HandlerFunc(p.serve))
	b.Cleanup(api.Close)
	httpClient := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	for _, run := range []struct {
		name       string
		ttl        time.Duration
		sizes      []int
		concurrent bool
	}{
		{"sequential", time.Hour, []int{1, 2, 3, 4, 5}, false},
		{"concurrent", 0, []int{6, 7, 8, 9}, true},
	} {
		b.Run(run.name, func(b *testing.B) {
			m := measure(b)
			var held uint64
			for b.Loop() {
				shared := collector.NewListings(clientFor(api.URL), run.ttl)
				exporter := httptest.NewServer(&collector.Handler{
					Resolve: func(r *http.Request) (collector.Target, bool, error) {
						selection, err := client.ParseSelection(client.Selection{}, r.URL.Query())
						return collector.Target{Cloud: "bench", Listings: shared, Selection: selection}, true, err
					},
					Timeouts: collector.ScrapeTimeouts{Default: 5 * time.Minute},
					Logger:   log.NewNopLogger(),
				})
				var probes sync.WaitGroup
				for _, size := range run.sizes {
					probe := func() { scrapeOnce(b, httpClient, fmt.Sprintf("%s/probe?page-size=%d", exporter.URL, size), n, true) }
					if run.concurrent {
						probes.Go(probe)
					} else {
						probe()
					}
				}
				probes.Wait()
				exporter.Close()
				runtime.GC()
				sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
				metrics.Read(sample)
				held = sample[0].Value.Uint64() - min(m.baseline, sample[0].Value.Uint64())
				runtime.KeepAlive(shared)
			}
			m.report(n, p.total)
			b.ReportMetric(float64(held), "held-heap-B")
		})
	}
}
