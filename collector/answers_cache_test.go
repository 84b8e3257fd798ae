package collector

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
	"weak"

	"github.com/go-kit/log"

	"github.com/nova-image-exporter/nova_image_exporter/client"
)

// failAfterFirst lists testImages once, then fails.
type failAfterFirst struct{ calls atomic.Int32 }

func (f *failAfterFirst) EachImage(ctx context.Context, _ client.ListOptions, fn func(client.Image) error) error {
	if f.calls.Add(1) > 1 {
		return errors.New("cloud down")
	}
	for _, img := range testImages {
		_ = fn(img)
	}
	return nil
}

// With --cache.ttl, an expired listing and its rendering leave the cache when found expired,
// even if every later listing fails (a cloud that stays down).
func TestExpiredListingIsDroppedWhileCloudIsDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &Handler{Timeouts: ScrapeTimeouts{Default: 5 * time.Second}, Logger: log.NewNopLogger()}
		target := Target{Cloud: "c1", Listings: NewListings(&failAfterFirst{}, time.Minute)}
		served, _ := h.scrape(context.Background(), target, true, log.NewNopLogger())
		served.release()
		if served.shared == nil {
			t.Fatal("no shared rendering")
		}
		w := weak.Make(served.shared)
		runtime.GC()
		served = answer{}
		time.Sleep(2 * time.Minute)
		for range 3 {
			s, _ := h.scrape(context.Background(), target, true, log.NewNopLogger())
			s.release()
		}
		synctest.Wait() // the refresh the stale listing was served beside fails
		runtime.GC()
		defer runtime.KeepAlive(target.Listings) // the exporter keeps its Listings
		if w.Value() != nil {
			t.Errorf("the rendering of a listing expired a minute ago is still held while every listing fails")
		}
	})
}

// HEAD with gzip: sane headers, nothing written.
func TestHeadAnswers(t *testing.T) {
	h := &Handler{Resolve: StaticTarget(Target{Cloud: "c1", Listings: NewListings(&fakeLister{images: testImages}, time.Hour)}),
		Timeouts: ScrapeTimeouts{Default: time.Second}, Logger: log.NewNopLogger()}
	srv := httptest.NewServer(h)
	defer srv.Close()
	for range 2 {
		req, _ := http.NewRequest(http.MethodHead, srv.URL, nil)
		req.Header.Set("Accept-Encoding", "gzip")
		resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || len(body) != 0 || resp.Header.Get("Vary") != "Accept-Encoding" {
			t.Errorf("HEAD: %d, %d bytes of body, headers %v", resp.StatusCode, len(body), resp.Header)
		}
	}
}
