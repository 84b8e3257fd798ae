package collector

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/collector/exposition"
)

// withPageSize is the zero selection with a page size.
func withPageSize(t *testing.T, size int) client.Selection {
	t.Helper()
	s, err := client.ParseSelection(client.Selection{}, url.Values{"page-size": {strconv.Itoa(size)}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// listed is what the listing of testImages[:2] is charged, its tally included, and entry
// what it counts in the cache (for the zero selection).
var (
	listed = client.ImageBytes(testImages[0]) + client.ImageBytes(testImages[1]) + tallyBytes(testImages[:2])
	entry  = listed + cacheEntryBytes + int64(len(ListingRequest{}.key()))
)

// tallyBytes is what the tally of images holds, the project families on.
func tallyBytes(images []client.Image) int64 {
	tally := exposition.NewTally(true)
	for _, img := range images {
		tally.Add(&img)
	}
	return tally.Bytes()
}

// A page size other than the cloud's default is a listing of its own, in flight and in the
// cache: a probe's page size never changes what another scrape is served, so /probe?page-size=1
// starts no refresh of the default listing, nor has its failure replace the listing cached.
func TestPageSizeIsAListingOfItsOwn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lister := &gatedLister{release: make(chan struct{})}
		memory := NewMemory(0, 0)
		shared := NewListings(lister, time.Hour).WithMemory(memory)
		var probes sync.WaitGroup
		for size := 1; size <= 4; size++ {
			probes.Go(func() {
				listing, err := shared.Inventory(context.Background(), ListingRequest{Selection: withPageSize(t, size)})
				if err != nil || listing.Len() != 2 {
					t.Errorf("page-size=%d: %d images, %v", size, listing.Len(), err)
				}
				listing.Release()
			})
		}
		synctest.Wait() // the four probes wait for listings in flight
		close(lister.release)
		probes.Wait()
		if n := lister.calls.Load(); n != 4 {
			t.Errorf("four concurrent probes with page-size=1..4 ran %d listings, want 4", n)
		}
		for size := 1; size <= 5; size++ {
			listing, err := shared.Inventory(context.Background(), ListingRequest{Selection: withPageSize(t, size)})
			if err != nil {
				t.Fatal(err)
			}
			listing.Release()
		}
		if n := lister.calls.Load(); n != 5 {
			t.Errorf("page-size=1..5 in a row after page-size=1..4: %d listings, want 5 (page-size=5's only)", n)
		}
		listing, err := shared.Inventory(context.Background(), ListingRequest{})
		if err != nil {
			t.Fatal(err)
		}
		listing.Release()
		if n := lister.calls.Load(); n != 6 {
			t.Errorf("the default listing after the probes: %d listings, want 6 (its own)", n)
		}
	})
}

// The cache holds at most --cache.max-bytes of listings, counted as client.ImageBytes, across
// every cloud: storing beyond it drops the oldest entries, whatever their cloud, and a listing
// larger than the bound is not kept at all.
func TestCacheIsBoundedInBytesAcrossClouds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		memory := NewMemory(0, 2*entry)
		listers := make([]*gatedLister, 3)
		clouds := make([]*Listings, 3)
		for i := range clouds {
			listers[i] = &gatedLister{release: make(chan struct{})}
			close(listers[i].release)
			clouds[i] = NewListings(listers[i], time.Hour).WithMemory(memory)
		}
		list := func(cloud int) {
			listing, err := clouds[cloud].Inventory(context.Background(), ListingRequest{})
			if err != nil {
				t.Fatal(err)
			}
			listing.Release()
		}
		for cloud := range clouds {
			list(cloud)
			time.Sleep(time.Second)
		}
		if cached := memory.cachedBytes(); cached != 2*entry {
			t.Errorf("%d bytes cached, want the bound, %d (two listings)", cached, 2*entry)
		}
		list(2)
		list(1)
		list(0)
		if calls := []int32{listers[0].calls.Load(), listers[1].calls.Load(), listers[2].calls.Load()}; calls[0] != 2 || calls[1] != 1 || calls[2] != 1 {
			t.Errorf("listings per cloud %v, want [2 1 1]: the first cloud's, the oldest, dropped for the third's", calls)
		}

		small := NewMemory(0, entry-1)
		lister := &gatedLister{release: make(chan struct{})}
		close(lister.release)
		shared := NewListings(lister, time.Hour).WithMemory(small)
		for range 2 {
			listing, err := shared.Inventory(context.Background(), ListingRequest{})
			if err != nil {
				t.Fatal(err)
			}
			listing.Release()
		}
		if n := lister.calls.Load(); n != 2 || small.cachedBytes() != 0 || small.heldBytes() != 0 {
			t.Errorf("a listing larger than the cache: %d listings, %d bytes cached, %d held; want 2, 0, 0", n, small.cachedBytes(), small.heldBytes())
		}
	})
}

// Listings of every cloud share one memory bound: a listing is charged as its images are
// handed over, for as long as anyone holds it (its flight, a scrape answering it, the
// cache); one that cannot be charged fails, naming the flag; nothing stays charged once no
// one holds a listing.
func TestListingsShareOneMemoryBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		memory := NewMemory(listed+listed/2, 0)
		first := &gatedLister{release: make(chan struct{})}
		close(first.release)
		second := &gatedLister{release: make(chan struct{})}
		close(second.release)
		cloudA := NewListings(first, 0).WithMemory(memory)
		cloudB := NewListings(second, 0).WithMemory(memory)

		held, err := cloudA.Inventory(context.Background(), ListingRequest{})
		if err != nil || memory.heldBytes() != listed {
			t.Fatalf("the first listing: %v, %d bytes held; want %d", err, memory.heldBytes(), listed)
		}
		var failures []error
		_, err = cloudB.Inventory(context.Background(), ListingRequest{OnFailure: func(err error) { failures = append(failures, err) }})
		if err == nil || !strings.Contains(err.Error(), "--listings.max-bytes") || len(failures) != 1 {
			t.Errorf("a second cloud's listing while the first is held: %v (%d failures reported), want a failure naming --listings.max-bytes", err, len(failures))
		}
		if memory.heldBytes() != listed {
			t.Errorf("%d bytes held after the failed listing, want the first listing's %d", memory.heldBytes(), listed)
		}
		held.Release()
		if memory.heldBytes() != 0 {
			t.Errorf("%d bytes held once the listing is answered, want 0", memory.heldBytes())
		}
		again, err := cloudB.Inventory(context.Background(), ListingRequest{})
		if err != nil {
			t.Errorf("the second cloud once the first listing is let go: %v", err)
		}
		again.Release()

		cached := NewListings(first, time.Minute).WithMemory(memory)
		listing, err := cached.Inventory(context.Background(), ListingRequest{})
		if err != nil {
			t.Fatal(err)
		}
		listing.Release()
		if memory.heldBytes() != listed {
			t.Errorf("%d bytes held by the cache, want %d", memory.heldBytes(), listed)
		}
		time.Sleep(2 * time.Minute)
		listing, _ = cached.Inventory(context.Background(), ListingRequest{}) // drops the expired entry, lists again
		listing.Release()
		if memory.heldBytes() != listed || memory.cachedBytes() != entry {
			t.Errorf("%d bytes held, %d cached after the entry expired and was listed again, want %d and %d", memory.heldBytes(), memory.cachedBytes(), listed, entry)
		}
	})
}

// A gzip scrape of a listing whose rendering does not fit the memory bound beside it is
// answered anyway, compressed as it is written, and the rendering is not kept.
func TestRenderingBeyondTheMemoryBoundIsNotKept(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		memory := NewMemory(listed+16, 0)
		shared := NewListings(&fakeLister{images: testImages[:2]}, time.Hour).WithMemory(memory)
		h := &Handler{Resolve: StaticTarget(Target{Cloud: "c", Listings: shared}), Limiter: NewLimiter(2),
			Timeouts: ScrapeTimeouts{Default: time.Minute}, Logger: log.NewNopLogger()}
		for range 2 {
			req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
			req.Header.Set("Accept-Encoding", "gzip")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			zr, err := gzip.NewReader(rec.Body)
			if err != nil {
				t.Fatal(err)
			}
			text, err := io.ReadAll(zr)
			if err != nil || upOf(string(text)) != "1" || !bytes.Contains(text, []byte("nova_image_info{")) {
				t.Errorf("gzip scrape: %v\n%s", err, text)
			}
		}
		if memory.heldBytes() != listed {
			t.Errorf("%d bytes held, want the cached listing's %d and no rendering", memory.heldBytes(), listed)
		}
	})
}

// blockedReader is a scraper that takes the headers of its answer and then reads nothing
// until unblocked.
type blockedReader struct {
	header  http.Header
	unblock chan struct{}
}

func (b *blockedReader) Header() http.Header { return b.header }
func (b *blockedReader) WriteHeader(int)     {}
func (b *blockedReader) Write(p []byte) (int, error) {
	<-b.unblock
	return len(p), nil
}

// 45 scrapers of /probe that read nothing hold none of the 40 work slots: /metrics still
// lists its healthy default cloud, and the listings they held are let go once they are
// answered.
func TestSlowReadersHoldNoWorkSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		limiter := NewLimiter(40)
		memory := NewMemory(0, 0)
		target := Target{Cloud: "c", Listings: NewListings(&slowLister{}, 0).WithMemory(memory)}
		handler := func(own prometheus.Gatherer) *Handler {
			return &Handler{Resolve: StaticTarget(target), Own: own, Limiter: limiter, WriteMargin: 10 * time.Second,
				Timeouts: ScrapeTimeouts{Default: time.Minute}, Logger: log.NewNopLogger()}
		}
		probe := handler(nil)
		unblock := make(chan struct{})
		var readers sync.WaitGroup
		for range 45 {
			readers.Go(func() {
				probe.ServeHTTP(&blockedReader{header: http.Header{}, unblock: unblock}, httptest.NewRequest(http.MethodGet, "/probe", nil))
			})
		}
		synctest.Wait() // every reader's answer waits to be read
		if got := upOf(serve(handler(prometheus.NewRegistry()), "").Body.String()); got != "1" {
			t.Errorf("/metrics while 45 scrapers of /probe read nothing: nova_up %s, want 1", got)
		}
		close(unblock)
		readers.Wait()
		if memory.heldBytes() != 0 {
			t.Errorf("%d bytes held once every scrape is answered, want 0", memory.heldBytes())
		}
	})
}

// What Memory counts is exported, fresh on every scrape.
func TestMemoryIsExported(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		memory := NewMemory(0, 0)
		lister := &gatedLister{release: make(chan struct{})}
		close(lister.release)
		listing, err := NewListings(lister, time.Hour).WithMemory(memory).Inventory(context.Background(), ListingRequest{})
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf(`
# HELP nova_image_exporter_cache_bytes What the --cache.ttl cache counts, across every cloud: its listings' images, as --client.max-listing-bytes counts them, plus 512 bytes an entry; at most --cache.max-bytes.
# TYPE nova_image_exporter_cache_bytes gauge
nova_image_exporter_cache_bytes %d
# HELP nova_image_exporter_listings_held_bytes What the listings held at once count, across every cloud: in flight, being answered or cached, as --client.max-listing-bytes counts them, with the renderings gzip scrapes share; at most --listings.max-bytes.
# TYPE nova_image_exporter_listings_held_bytes gauge
nova_image_exporter_listings_held_bytes %d
`, entry, listed)
		if err := testutil.CollectAndCompare(memory, strings.NewReader(want)); err != nil {
			t.Error(err)
		}
		listing.Release()
	})
}
