package collector

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
	"weak"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/nova-image-exporter/nova_image_exporter/client"
)

// gatherCount is an exporter's own metric that counts its gatherings: each scrape gets
// its own value.
func gatherCount() prometheus.Gatherer {
	var gathers atomic.Int64
	return prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		n := float64(gathers.Add(1))
		name, help, kind := "own_gathers_total", "Gatherings of the exporter's own metrics.", dto.MetricType_COUNTER
		return []*dto.MetricFamily{{Name: &name, Help: &help, Type: &kind,
			Metric: []*dto.Metric{{Counter: &dto.Counter{Value: &n}}}}}, nil
	})
}

// scrapeAs serves one scrape through h, asking for gzip if acceptEncoding says so, and
// returns the answer decoded as Prometheus decodes it (compress/gzip reads every member).
func scrapeAs(t *testing.T, h http.Handler, acceptEncoding string) (body string, header http.Header) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	if acceptEncoding != "" {
		req.Header.Set("Accept-Encoding", acceptEncoding)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape answered %d: %s", rec.Code, rec.Body)
	}
	if rec.Header().Get("Content-Encoding") != "gzip" {
		return rec.Body.String(), rec.Header()
	}
	gz, err := gzip.NewReader(rec.Body)
	if err != nil {
		t.Fatalf("the gzip answer does not start a gzip stream: %v", err)
	}
	decoded, err := io.ReadAll(gz)
	if err != nil {
		t.Fatalf("the gzip answer does not decode: %v", err)
	}
	return string(decoded), rec.Header()
}

// parseExposition parses an answer as Prometheus's text parser does, and returns it as a
// Gatherer, which checks it as a registry would.
func parseExposition(t *testing.T, body string) prometheus.Gatherer {
	t.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	parsed, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("the exposition does not parse: %v\n%s", err, body)
	}
	return prometheus.Gatherers{prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		families := make([]*dto.MetricFamily, 0, len(parsed))
		for _, mf := range parsed {
			families = append(families, mf)
		}
		return families, nil
	})}
}

// timings are the samples whose values change from one scrape to the next.
var timings = regexp.MustCompile(`(?m)^(nova_scrape_duration_seconds|nova_listing_age_seconds) .*$`)

func TestGzipAnswerDecodesToTheUncompressedOne(t *testing.T) {
	for _, ttl := range []time.Duration{0, time.Hour} {
		own := prometheus.NewRegistry()
		own.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "own_metric", Help: "The exporter's own."}))
		h := &Handler{Resolve: StaticTarget(Target{Cloud: "c1", Listings: NewListings(&fakeLister{images: testImages}, ttl)}),
			Own: own, Timeouts: ScrapeTimeouts{Default: time.Second}, Logger: log.NewNopLogger()}
		plain, plainHeader := scrapeAs(t, h, "")
		for range 2 { // with a TTL, the second serves the cached listing's rendering
			gzipped, gzipHeader := scrapeAs(t, h, "gzip")
			if gzipHeader.Get("Content-Encoding") != "gzip" || gzipHeader.Get("Vary") != "Accept-Encoding" || plainHeader.Get("Vary") != "Accept-Encoding" {
				t.Errorf("TTL %s: headers %v and %v, want gzip and Vary: Accept-Encoding", ttl, gzipHeader, plainHeader)
			}
			if got, want := timings.ReplaceAllString(gzipped, "$1"), timings.ReplaceAllString(plain, "$1"); got != want {
				t.Fatalf("TTL %s: the gzip answer decodes to\n%s\nwant the uncompressed answer\n%s", ttl, got, want)
			}
			if err := testutil.GatherAndCompare(parseExposition(t, gzipped), strings.NewReader(wantTestImages), imageMetricNames...); err != nil {
				t.Errorf("TTL %s: %v", ttl, err)
			}
		}
	}
}

// Gzip scrapes waiting for one listing get one rendering of it, and each a complete
// exposition with its own exporter metrics and its own nova_up and duration.
func TestConcurrentGzipScrapesShareOneRendering(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lister := &gatedLister{release: make(chan struct{})}
		h := &Handler{Resolve: StaticTarget(Target{Cloud: "c1", Listings: NewListings(lister, 0)}), Own: gatherCount(),
			Limiter: NewLimiter(2), Timeouts: ScrapeTimeouts{Default: 5 * time.Second}, Logger: log.NewNopLogger()}
		const scrapes = 8
		bodies := make(chan string, scrapes)
		for range scrapes {
			go func() {
				time.Sleep(time.Second) // the listing's second, for the durations to tell
				body, _ := scrapeAs(t, h, "gzip")
				bodies <- body
			}()
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		close(lister.release)

		want := plainAnswer(t, testImages[:2])
		ownValues := map[string]bool{}
		for range scrapes {
			body := <-bodies
			if got := timings.ReplaceAllString(strings.ReplaceAll(body, ownLine(body), ""), "$1"); got != want {
				t.Fatalf("a scrape sharing the rendering got\n%s\nwant\n%s", got, want)
			}
			if _, err := parseExposition(t, body).Gather(); err != nil {
				t.Errorf("the exposition is not valid: %v", err)
			}
			ownValues[ownLine(body)] = true
			if !strings.Contains(body, "\nnova_scrape_duration_seconds 1\n") {
				t.Errorf("a scrape that waited 1s for the listing reports\n%s", timings.FindAllString(body, -1))
			}
		}
		if len(ownValues) != scrapes {
			t.Errorf("own metrics %v, want one gathering per scrape", ownValues)
		}
		if n := lister.calls.Load(); n != 1 {
			t.Errorf("%d listings, want 1", n)
		}
	})
}

// plainAnswer is the uncompressed answer of a scrape of images, with the sample lines of
// the timings and of own_gathers_total left without their values.
func plainAnswer(t *testing.T, images []client.Image) string {
	t.Helper()
	h := &Handler{Resolve: StaticTarget(Target{Cloud: "c1", Listings: NewListings(&fakeLister{images: images}, 0)}), Own: gatherCount(),
		Timeouts: ScrapeTimeouts{Default: time.Second}, Logger: log.NewNopLogger()}
	body, _ := scrapeAs(t, h, "")
	return timings.ReplaceAllString(strings.ReplaceAll(body, ownLine(body), ""), "$1")
}

// ownLine is the sample line of own_gathers_total.
func ownLine(body string) string {
	_, after, _ := strings.Cut(body, "\nown_gathers_total ")
	value, _, _ := strings.Cut(after, "\n")
	return "own_gathers_total " + value
}

func TestGzipScrapesOfAListingGetTheSameRendering(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lister := &gatedLister{release: make(chan struct{})}
		h := &Handler{Timeouts: ScrapeTimeouts{Default: 5 * time.Second}, Logger: log.NewNopLogger()}
		target := Target{Cloud: "c1", Listings: NewListings(lister, 0)}
		const scrapes = 5
		shared := make(chan *rendering, scrapes)
		for range scrapes {
			go func() {
				served, _ := h.scrape(context.Background(), target, true, log.NewNopLogger())
				defer served.release()
				shared <- served.shared
			}()
		}
		synctest.Wait()
		close(lister.release)
		first := <-shared
		for range scrapes - 1 {
			if other := <-shared; other != first || other == nil {
				t.Fatalf("renderings %p and %p, want one for every scrape of the listing", first, other)
			}
		}
	})
}

// Without --cache.ttl nothing holds a rendering once the scrapes of its listing are
// answered; with it, the cached listing's rendering serves the next scrapes.
func TestRenderingLivesAsLongAsItsListing(t *testing.T) {
	for _, ttl := range []time.Duration{0, time.Hour} {
		synctest.Test(t, func(t *testing.T) {
			lister := &gatedLister{release: make(chan struct{})}
			h := &Handler{Timeouts: ScrapeTimeouts{Default: 5 * time.Second}, Logger: log.NewNopLogger()}
			target := Target{Cloud: "c1", Listings: NewListings(lister, ttl)}
			shared := make(chan weak.Pointer[rendering], 2)
			for range 2 {
				go func() {
					served, _ := h.scrape(context.Background(), target, true, log.NewNopLogger())
					served.release()
					shared <- weak.Make(served.shared)
				}()
			}
			synctest.Wait()
			close(lister.release)
			first, second := <-shared, <-shared
			if first != second || first.Value() == nil {
				t.Fatalf("TTL %s: the two scrapes of the listing got renderings %p and %p, want one", ttl, first.Value(), second.Value())
			}
			runtime.GC()
			if held := first.Value() != nil; held != (ttl > 0) {
				t.Errorf("TTL %s: rendering held after its scrapes were answered: %v, want %v", ttl, held, ttl > 0)
			}
			next, _ := h.scrape(context.Background(), target, true, log.NewNopLogger())
			defer next.release()
			if reused := next.shared != nil && next.shared == first.Value(); reused != (ttl > 0) {
				t.Errorf("TTL %s: the next scrape reused the rendering: %v, want %v", ttl, reused, ttl > 0)
			}
		})
	}
}

// A scrape that was to render a shared listing but found no slot before its deadline
// leaves the rendering to the next scrape waiting for it, which renders it.
func TestWaiterRendersWhenTheRendererFindsNoSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRenderings()
		exports := defaultExports
		fail := make(chan struct{})
		started := make(chan struct{})
		go func() {
			_, err := r.get(context.Background(), exports, func() (*rendering, error) {
				close(started)
				<-fail
				return nil, ErrBusy
			})
			if !errors.Is(err, ErrBusy) {
				t.Errorf("the renderer without a slot: %v, want ErrBusy", err)
			}
		}()
		<-started
		got := make(chan *rendering)
		go func() {
			shared, err := r.get(context.Background(), exports, func() (*rendering, error) {
				return &rendering{part: &deflated{data: chunks{[]byte("member")}}}, nil
			})
			if err != nil {
				t.Errorf("the waiter: %v", err)
			}
			got <- shared
		}()
		synctest.Wait()
		close(fail)
		if shared := <-got; shared == nil || !bytes.Equal(shared.part.data[0], []byte("member")) {
			t.Errorf("the waiter got %v, want the rendering it made", shared)
		}
	})
}

// Rendering a shared listing takes a work slot: while every slot is taken, gzip scrapes of
// a cached listing wait for one until their deadline, then are refused.
func TestSharedRenderingTakesASlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		limiter := NewLimiter(1)
		h := &Handler{Resolve: StaticTarget(Target{Cloud: "c1", Listings: NewListings(&fakeLister{images: testImages}, time.Hour)}),
			Limiter: limiter, Timeouts: ScrapeTimeouts{Default: 5 * time.Second}, Logger: log.NewNopLogger()}
		if body, _ := scrapeAs(t, h, ""); upOf(body) != "1" { // lists, and caches the listing
			t.Fatalf("the first scrape:\n%s", body)
		}
		limiter.slots <- struct{}{} // other work takes the one slot
		codes := make(chan int, 3)
		for range 3 {
			go func() {
				req := httptest.NewRequest(http.MethodGet, "/probe", nil)
				req.Header.Set("Accept-Encoding", "gzip")
				req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "1")
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				codes <- rec.Code
			}()
		}
		for range 3 {
			if code := <-codes; code != http.StatusServiceUnavailable {
				t.Errorf("a gzip scrape with no slot to render in: %d, want 503", code)
			}
		}
		<-limiter.slots
		if body, _ := scrapeAs(t, h, "gzip"); upOf(body) != "1" {
			t.Errorf("a gzip scrape once the slot is free:\n%s", body)
		}
	})
}
