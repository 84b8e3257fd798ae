package collector

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/internal/testlog"
)

// slowLister takes took (on the bubble's fake clock) to list, unless its context ends
// first; it records each listing's outcome.
type slowLister struct {
	took     time.Duration
	calls    atomic.Int32
	mu       sync.Mutex
	outcomes []error
}

func (l *slowLister) EachImage(ctx context.Context, _ client.ListOptions, fn func(client.Image) error) error {
	l.calls.Add(1)
	err := func() error {
		select {
		case <-time.After(l.took):
		case <-ctx.Done():
			return ctx.Err()
		}
		for _, img := range testImages[:2] {
			if err := hand(fn, img); err != nil {
				return err
			}
		}
		return nil
	}()
	l.mu.Lock()
	l.outcomes = append(l.outcomes, err)
	l.mu.Unlock()
	return err
}

// serve runs one scrape through h, with Prometheus's timeout header if timeout is set.
func serve(h http.Handler, timeout string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, "/probe", nil)
	if timeout != "" {
		req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", timeout)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// upOf is the value of nova_up in an exposition, "none" without one.
func upOf(body string) string {
	_, after, found := strings.Cut(body, "\nnova_up ")
	if !found {
		return "none"
	}
	value, _, _ := strings.Cut(after, "\n")
	return value
}

// Scrapes that join a listing in flight wait without taking a slot: one slot, one listing,
// 100 scrapes, 100 answers. Only work that needs a slot of its own is refused.
func TestScrapesWaitingForAListingTakeNoSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lister := &gatedLister{release: make(chan struct{})}
		metrics := NewExporterMetrics(prometheus.NewRegistry())
		limiter := NewLimiter(1)
		handler := func(target Target, own prometheus.Gatherer) *Handler {
			return &Handler{Resolve: StaticTarget(target), Own: own, Metrics: metrics, Limiter: limiter,
				Timeouts: ScrapeTimeouts{Default: 5 * time.Second}, Logger: log.NewNopLogger()}
		}
		busy := handler(Target{Cloud: "a", Listings: NewListings(lister, 0)}, nil)
		const scrapes = 100
		codes := make(chan string, scrapes)
		for range scrapes {
			go func() {
				rec := serve(busy, "")
				codes <- http.StatusText(rec.Code) + " " + upOf(rec.Body.String())
			}()
		}
		synctest.Wait() // every scrape waits for the one listing, which holds the one slot

		other := Target{Cloud: "b", Listings: NewListings(&fakeLister{images: testImages}, 0)}
		if rec := serve(handler(other, nil), ""); rec.Code != http.StatusServiceUnavailable ||
			!strings.Contains(rec.Body.String(), "--web.max-requests=1") {
			t.Errorf("a probe needing a listing of its own while the slot is taken: %d %q, want 503 naming the limit", rec.Code, rec.Body)
		}
		own := prometheus.NewRegistry()
		own.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "own_metric", Help: "The exporter's own."}))
		if rec := serve(handler(other, own), ""); rec.Code != http.StatusOK ||
			!strings.Contains(rec.Body.String(), "\nown_metric 0\n") || !strings.Contains(rec.Body.String(), "\nnova_up 0\n") {
			t.Errorf("/metrics while the slot is taken: %d\n%s\nwant 200 with its own metrics and nova_up 0", rec.Code, rec.Body)
		}

		close(lister.release)
		for range scrapes {
			if got := <-codes; got != "OK 1" {
				t.Fatalf("a scrape waiting for the listing in flight answered %q, want OK and nova_up 1", got)
			}
		}
		if n := lister.calls.Load(); n != 1 {
			t.Errorf("%d listings, want 1", n)
		}
		if v := testutil.ToFloat64(metrics.rejectedScrapes.WithLabelValues("too_many_requests")); v != 2 {
			t.Errorf("too_many_requests %v, want 2 (the probe and the default cloud of /metrics)", v)
		}
		if rec := serve(handler(other, nil), ""); rec.Code != http.StatusOK {
			t.Errorf("a probe once the slot is free: %d", rec.Code)
		}
	})
}

// A scraper with a short deadline, scraping again and again, neither cuts short the
// listing that a patient scraper waits for nor makes it fail.
func TestShortDeadlineDoesNotCutASharedListingShort(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lister := &slowLister{took: 2 * time.Second}
		var logs testlog.Buffer
		h := &Handler{Resolve: StaticTarget(Target{Cloud: "c", Listings: NewListings(lister, 0)}), Limiter: NewLimiter(40),
			Timeouts: ScrapeTimeouts{Default: 10 * time.Second}, Logger: log.NewLogfmtLogger(&logs)}
		short := make(chan string, 20)
		var shortScrapes sync.WaitGroup
		shortScrapes.Go(func() { // 0.3 s scrapes every 0.2 s, the first before the patient one
			for range 15 {
				shortScrapes.Go(func() { short <- serve(h, "0.3").Body.String() })
				time.Sleep(200 * time.Millisecond)
			}
		})
		time.Sleep(100 * time.Millisecond)
		body := serve(h, "").Body.String()
		if !strings.Contains(body, "\nnova_up 1\n") {
			t.Errorf("the patient scrape, which waited 2s of its 10s:\n%s", body)
		}
		shortScrapes.Wait()
		close(short)
		for body := range short {
			if !strings.Contains(body, "\nnova_up 0\n") && !strings.Contains(body, "\nnova_up 1\n") {
				t.Errorf("a short scrape: %s", body)
			}
		}
		if n := lister.calls.Load(); n != 2 {
			// The first, which the patient scrape joined, and one for the short scrapes after it.
			t.Errorf("%d listings, want 2", n)
		}
		lines := logs.String()
		if strings.Count(lines, "listing images failed") != strings.Count(lines, "no other scrape waits for it") {
			t.Errorf("a failure other than a scrape's own deadline was reported:\n%s", lines)
		}
		if !strings.Contains(lines, "goes on for 1 other scrape(s)") {
			t.Errorf("the short scrape that started the listing did not report its own deadline:\n%s", lines)
		}
	})
}

func TestMalformedTimeoutHeaderIsEchoedCutShort(t *testing.T) {
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", strings.Repeat("9", 60_000))
	timeout, err := ScrapeTimeouts{Default: time.Minute}.Timeout(req)
	if err == nil || timeout != time.Minute || len(err.Error()) > 200 || !strings.Contains(err.Error(), "60000 bytes in all") {
		t.Errorf("a 60 KB header: %s, %d bytes of error: %.200s", timeout, len(err.Error()), err)
	}
}
