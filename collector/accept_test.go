package collector

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-kit/log"
)

func TestAcceptsGzip(t *testing.T) {
	for header, want := range map[string]bool{
		"gzip": true, "gzip, deflate": true, "deflate, GZIP;q=0.5": true, "identity": false, "": false, "gzip;q=0": false,
		// q=0 in any of its forms refuses (RFC 9110, 12.4.2), whatever the case and spacing.
		"gzip;q=0.0": false, "gzip;q=0.00": false, "gzip;q=0.000": false, "gzip; q=0": false, "gzip ;q=0.0": false,
		"gzip;Q=0": false, "GZIP;q=0.0": false, "deflate;q=0.5, gzip;q=0.0": false, "gzip;level=1;q=0": false,
		"gzip;q=0.001": true, "gzip;q=1": true, "gzip;q=1.0": true, "gzip;level=1": true, "gzip;q=0.5;level=1": true,
		// x-gzip is gzip (RFC 9110, 8.4.1.3); * stands for every coding not named.
		"x-gzip": true, "X-GZIP;q=0": false, "*": true, "*;q=0": false, "br, *;q=0.1": true,
		"gzip;q=0, *": false, "*;q=0, gzip": true,
		// A weight that is not one refuses: better uncompressed than unreadable.
		"gzip;q=abc": false, "gzip;q=": false, "gzip;q=1.5": false, "gzip;q=-1": false, "gzip;q=0x1": false,
		"gzipped": false, "agzip": false,
	} {
		if got := acceptsGzip(header); got != want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", header, got, want)
		}
	}
}

// A scraper that refuses gzip gets the exposition uncompressed.
func TestHandlerHonoursARefusedGzip(t *testing.T) {
	h := &Handler{Resolve: StaticTarget(Target{Listings: NewListings(&fakeLister{images: testImages}, 0)}),
		Timeouts: ScrapeTimeouts{Default: time.Second}, Logger: log.NewNopLogger()}
	for header, want := range map[string]string{"gzip;q=0.0": "", "gzip;q=0.5": "gzip"} {
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		req.Header.Set("Accept-Encoding", header)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if got := rec.Header().Get("Content-Encoding"); got != want {
			t.Errorf("Accept-Encoding %q: Content-Encoding %q, want %q", header, got, want)
		}
	}
}
