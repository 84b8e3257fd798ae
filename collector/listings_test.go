package collector

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
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

// gatedLister blocks every listing until release is closed, and counts listings.
type gatedLister struct {
	calls   atomic.Int32
	release chan struct{}
	err     error
}

func (g *gatedLister) EachImage(ctx context.Context, _ client.ListOptions, fn func(client.Image) error) error {
	g.calls.Add(1)
	select {
	case <-g.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	if g.err != nil {
		return g.err
	}
	for _, img := range testImages[:2] {
		if err := hand(fn, img); err != nil {
			return err
		}
	}
	return nil
}

func TestSharedJoinsConcurrentListings(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lister := &gatedLister{release: make(chan struct{})}
		shared := NewListings(lister, 0)
		const scrapes = 50
		var wg sync.WaitGroup
		results := make(chan error, scrapes)
		for range scrapes {
			wg.Go(func() {
				listing, err := shared.Inventory(context.Background(), ListingRequest{Selection: client.Selection{}})
				if err == nil && listing.Len() != 2 {
					err = errors.New("wrong listing")
				}
				results <- err
			})
		}
		synctest.Wait() // every scrape waits for the listing in flight
		close(lister.release)
		wg.Wait()
		close(results)
		for err := range results {
			if err != nil {
				t.Error(err)
			}
		}
		if n := lister.calls.Load(); n != 1 {
			t.Errorf("%d listings for %d concurrent scrapes, want 1", n, scrapes)
		}
	})
}

func TestSharedListingOutlivesTheScrapeThatStartedIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lister := &gatedLister{release: make(chan struct{})}
		shared := NewListings(lister, 0)
		leaderCtx, cancelLeader := context.WithCancel(context.Background())
		leaderDone := make(chan error, 1)
		go func() {
			_, err := shared.Inventory(leaderCtx, ListingRequest{Selection: client.Selection{}})
			leaderDone <- err
		}()
		synctest.Wait() // the listing is in flight
		followerDone := make(chan error, 1)
		go func() {
			_, err := shared.Inventory(context.Background(), ListingRequest{Selection: client.Selection{}})
			followerDone <- err
		}()
		synctest.Wait() // the follower waits for the listing too
		cancelLeader()
		if err := <-leaderDone; !errors.Is(err, context.Canceled) {
			t.Errorf("leader: %v, want its own cancellation", err)
		}
		close(lister.release)
		if err := <-followerDone; err != nil {
			t.Errorf("follower: %v, want the listing the leader started", err)
		}
	})
}

func TestSharedCache(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lister := &fakeLister{images: testImages}
		shared := NewListings(lister, time.Second)
		first, err := shared.Inventory(context.Background(), ListingRequest{Selection: client.Selection{}})
		if err != nil {
			t.Fatal(err)
		}
		second, err := shared.Inventory(context.Background(), ListingRequest{Selection: client.Selection{}})
		if err != nil || lister.calls != 1 || !second.At.Equal(first.At) {
			t.Fatalf("second listing within the TTL: %d API listings, %v; want 1, served from the cache", lister.calls, err)
		}
		named, _ := client.ParseSelection(client.Selection{}, url.Values{"name": {"ubuntu"}})
		if _, err := shared.Inventory(context.Background(), ListingRequest{Selection: named}); err != nil || lister.calls != 2 {
			t.Errorf("other options must not share the cache entry: %d listings", lister.calls)
		}
		time.Sleep(1100 * time.Millisecond)
		lister.err = errors.New("API down")
		if _, err := shared.Inventory(context.Background(), ListingRequest{Selection: client.Selection{}}); err == nil {
			t.Error("an expired entry was served while the refresh failed")
		}
		if _, err := shared.Inventory(context.Background(), ListingRequest{Selection: client.Selection{}}); err == nil || lister.calls != 4 {
			t.Errorf("a failed listing was cached: %d listings, %v", lister.calls, err)
		}
	})
}

func TestCachedListingReportsItsAge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		shared := NewListings(&fakeLister{images: testImages}, time.Hour)
		if _, err := shared.Inventory(context.Background(), ListingRequest{Selection: client.Selection{}}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
		rec := httptest.NewRecorder()
		h := &Handler{Resolve: StaticTarget(Target{Listings: shared}), Timeouts: ScrapeTimeouts{Default: time.Second}, Logger: log.NewNopLogger()}
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		body := rec.Body.String()
		m := regexp.MustCompile(`(?m)^nova_listing_age_seconds (\S+)$`).FindStringSubmatch(body)
		if m == nil || !strings.Contains(body, "\nnova_up 1\n") {
			t.Fatalf("no listing age or not up:\n%s", body)
		}
		if age, _ := strconv.ParseFloat(m[1], 64); age < 0.1 || age >= 3600 {
			t.Errorf("nova_listing_age_seconds %v, want the age of the cached listing (at least 0.1s)", age)
		}
	})
}

func TestSharedFailureIsReportedOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lister := &gatedLister{release: make(chan struct{}), err: &client.AuthError{Err: errors.New("HTTP 401")}}
		own := prometheus.NewRegistry()
		metrics := NewExporterMetrics(own)
		var logs testlog.Buffer
		h := &Handler{Resolve: StaticTarget(Target{Cloud: "c", Listings: NewListings(lister, 0)}), Metrics: metrics,
			Timeouts: ScrapeTimeouts{Default: 5 * time.Second}, Logger: log.NewLogfmtLogger(&logs)}
		var wg sync.WaitGroup
		for range 5 {
			wg.Go(func() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
				if !strings.Contains(rec.Body.String(), "\nnova_up 0\n") {
					t.Error("a scrape of a failed listing is not down")
				}
			})
		}
		synctest.Wait() // every scrape waits for the listing in flight
		close(lister.release)
		wg.Wait()
		if n := strings.Count(logs.String(), "listing images failed"); n != 1 || lister.calls.Load() != 1 {
			t.Errorf("%d log lines for %d listing(s) shared by 5 scrapes, want 1:\n%s", n, lister.calls.Load(), logs.String())
		}
		if v := testutil.ToFloat64(metrics.authFailures.WithLabelValues("c")); v != 1 {
			t.Errorf("auth failures %v for one failed listing, want 1", v)
		}
	})
}

func TestScrapeThatGivesUpWaitingSaysSo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lister := &gatedLister{release: make(chan struct{})}
		shared := NewListings(lister, 0)
		leader := make(chan error, 1)
		go func() {
			_, err := shared.Inventory(context.Background(), ListingRequest{Selection: client.Selection{}})
			leader <- err
		}()
		synctest.Wait() // the listing is in flight
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		_, err := shared.Inventory(ctx, ListingRequest{Selection: client.Selection{}})
		var waitErr *WaitError
		if !errors.As(err, &waitErr) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("follower with an earlier deadline: %v, want a WaitError", err)
		}
		close(lister.release)
		if err := <-leader; err != nil {
			t.Errorf("leader: %v", err)
		}
	})
}

// When every scrape has left, the listing stops, and its failure is not reported again:
// each scrape reported its own deadline.
func TestListingStopsWhenItsLastScrapeLeaves(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lister := &slowLister{took: time.Hour}
		shared := NewListings(lister, 0)
		var failures atomic.Int32
		req := ListingRequest{MaxDuration: 10 * time.Second, OnFailure: func(error) { failures.Add(1) }}
		results := make(chan error, 2)
		for _, d := range []time.Duration{time.Second, 2 * time.Second} {
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), d)
				defer cancel()
				_, err := shared.Inventory(ctx, req)
				results <- err
			}()
		}
		var first, second *WaitError
		if err := <-results; !errors.As(err, &first) || first.Others != 1 || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("the first scrape to leave: %v, want its own deadline, the listing going on for 1", err)
		}
		if err := <-results; !errors.As(err, &second) || second.Others != 0 {
			t.Errorf("the last scrape to leave: %v, want its own deadline, the listing stopped", err)
		}
		synctest.Wait()
		if len(lister.outcomes) != 1 || !errors.Is(lister.outcomes[0], context.Canceled) || time.Since(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)) != 2*time.Second {
			t.Errorf("listing outcomes %v at %v, want one, stopped when the last scrape left at 2s", lister.outcomes, time.Now())
		}
		if n := failures.Load(); n != 0 {
			t.Errorf("%d failures reported for a listing every scrape left, want 0", n)
		}
	})
}

// A listing runs under MaxDuration, not under the deadline of the scrape that started it,
// and a scrape that joins later gets it.
func TestListingRunsUnderMaxDuration(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lister := &slowLister{took: 3 * time.Second}
		shared := NewListings(lister, 0)
		req := ListingRequest{MaxDuration: 10 * time.Second}
		starter := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_, err := shared.Inventory(ctx, req)
			starter <- err
		}()
		synctest.Wait()
		listing, err := shared.Inventory(context.Background(), req)
		if err != nil || listing.Len() != 2 {
			t.Errorf("the scrape that joined: %v, %d images; want the listing", err, listing.Len())
		}
		if err := <-starter; !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("the starter: %v, want its own deadline", err)
		}
		lister.took = time.Minute
		if _, err := shared.Inventory(context.Background(), req); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("a listing longer than MaxDuration: %v, want the deadline exceeded", err)
		}
	})
}
