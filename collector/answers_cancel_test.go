package collector

import (
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Concurrent gzip scrapes sharing renderings, half cancelled mid-read, under a limiter of
// 2: every slot comes back, no goroutine stays, every complete answer parses.
func TestCancelMidWriteFreesEverything(t *testing.T) {
	limiter := NewLimiter(2)
	h := &Handler{Resolve: StaticTarget(Target{Cloud: "c1", Listings: NewListings(manyLister{n: 2000, wait: 50 * time.Millisecond}, 0)}),
		Own: gatherCount(), Limiter: limiter, Timeouts: ScrapeTimeouts{Default: 10 * time.Second}, Logger: log.NewNopLogger()}
	srv := httptest.NewServer(h)
	before := runtime.NumGoroutine()
	tr := &http.Transport{DisableCompression: true}
	for round := range 2 {
		var wg sync.WaitGroup
		for i := range 12 {
			wg.Go(func() {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
				req.Header.Set("Accept-Encoding", "gzip")
				resp, err := tr.RoundTrip(req)
				if err != nil {
					t.Error(err)
					return
				}
				defer resp.Body.Close()
				if i%2 == 0 {
					io.CopyN(io.Discard, resp.Body, 100)
					cancel()
					return
				}
				zr, err := gzip.NewReader(resp.Body)
				if err != nil {
					t.Error(err)
					return
				}
				parser := expfmt.NewTextParser(model.UTF8Validation)
				mfs, err := parser.TextToMetricFamilies(zr)
				if err != nil || mfs["nova_image_info"] == nil && mfs["nova_images"] == nil {
					t.Errorf("round %d: %v, %d families", round, err, len(mfs))
				}
			})
		}
		wg.Wait()
	}
	srv.Close()
	tr.CloseIdleConnections()
	time.Sleep(200 * time.Millisecond)
	if len(limiter.slots) != 0 {
		t.Errorf("%d slots still taken", len(limiter.slots))
	}
	if after := runtime.NumGoroutine(); after > before+2 {
		t.Errorf("goroutines %d → %d", before, after)
	}
}
