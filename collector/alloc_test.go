package collector_test

import (
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/go-kit/log"

	"github.com/nova-image-exporter/nova_image_exporter/collector"
)

// TestScrapeAllocationBound is a regression guard: a scrape of 10 000 images, listing and
// exposition, allocated about 4 MB when measured (docs/performance.md); more than 16 MB means
// something now copies or keeps what it should stream.
func TestScrapeAllocationBound(t *testing.T) {
	if testing.Short() {
		t.Skip("renders 10 000 images")
	}
	p := simulatorPages(t, 10000)
	c := memoryClient(p)
	selection, err := clientSelection()
	if err != nil {
		t.Fatal(err)
	}
	handler := &collector.Handler{
		Resolve:  collector.StaticTarget(collector.Target{Cloud: "guard", Listings: collector.NewListings(c, 0), Selection: selection}),
		Timeouts: collector.ScrapeTimeouts{Default: time.Minute},
		Logger:   log.NewNopLogger(),
	}
	req, _ := http.NewRequest(http.MethodGet, "/metrics", nil)
	handler.ServeHTTP(discardResponse{header: http.Header{}}, req) // warm up
	const bound = 16 << 20
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	handler.ServeHTTP(discardResponse{header: http.Header{}}, req)
	runtime.ReadMemStats(&after)
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("a scrape of 10 000 images allocated %.1f MB (%.0f bytes per image)", float64(allocated)/(1<<20), float64(allocated)/10000)
	if allocated > bound {
		t.Errorf("a scrape of 10 000 images allocated %d bytes, more than the bound of %d", allocated, bound)
	}
}
