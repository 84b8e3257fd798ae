package collector

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/nova-image-exporter/nova_image_exporter/client"
)

// A shared answer is one gzip member: a single-member decoder (curl --compressed, browsers,
// zlib.decompressobj(31)) reads all of it, image metrics included.
func TestSingleMemberDecodersReadTheWholeAnswer(t *testing.T) {
	h := &Handler{Resolve: StaticTarget(Target{Cloud: "c1", Listings: NewListings(&fakeLister{images: testImages}, time.Hour)}),
		Timeouts: ScrapeTimeouts{Default: time.Second}, Logger: log.NewNopLogger()}
	srv := httptest.NewServer(h)
	defer srv.Close()
	get := func() []byte {
		req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
		req.Header.Set("Accept-Encoding", "gzip")
		resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return b
	}
	get() // the first scrape lists and caches; the second gets the cached rendering
	raw := get()
	zr, _ := gzip.NewReader(bytes.NewReader(raw))
	all, _ := io.ReadAll(zr)
	zr, _ = gzip.NewReader(bytes.NewReader(raw))
	zr.Multistream(false)
	first, _ := io.ReadAll(zr)
	t.Logf("multistream: %d bytes, nova_images present %v; first member only: %d bytes, nova_images present %v",
		len(all), strings.Contains(string(all), "nova_images{"), len(first), strings.Contains(string(first), "nova_images{"))
	if out, err := exec.Command("curl", "-s", "--compressed", srv.URL).CombinedOutput(); err == nil || len(out) > 0 {
		t.Logf("curl --compressed: %d bytes, nova_images present %v (err %v)\n%s", len(out), strings.Contains(string(out), "nova_images{"), err, out)
	}
	if !strings.Contains(string(first), "nova_images{") {
		t.Errorf("a single-member gzip decoder gets no image metrics, nova_up %s", upOf(string(first)))
	}
}

// manyLister takes `wait` and then lists n images.
type manyLister struct {
	n    int
	wait time.Duration
}

func (m manyLister) EachImage(ctx context.Context, _ client.ListOptions, fn func(client.Image) error) error {
	select {
	case <-time.After(m.wait):
	case <-ctx.Done():
		return ctx.Err()
	}
	for i := range m.n {
		img := testImages[0]
		img.ID = fmt.Sprintf("%08d-0000-0000-0000-000000000000", i)
		img.Name = fmt.Sprintf("image-%d", i)
		if err := hand(fn, img); err != nil {
			return err
		}
	}
	return nil
}

// A scrape waiting for another's rendering of its listing waits for the rendering, not for
// its listing deadline (it was refused as "too many requests" once), and stops waiting when
// its scraper goes away.
func TestWaiterOfARenderingOutlivesItsListingDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRenderings()
		finish := make(chan struct{})
		go func() {
			_, _ = r.get(context.Background(), defaultExports, func() (*rendering, error) {
				<-finish
				return &rendering{part: &deflated{}}, nil
			})
		}()
		synctest.Wait()
		waitFor := func(ctx context.Context) chan error {
			done := make(chan error, 1)
			gone, stop := untilGone(ctx)
			go func() {
				defer stop()
				_, err := r.get(gone, defaultExports, func() (*rendering, error) {
					t.Error("rendered twice")
					return nil, errors.New("twice")
				})
				done <- err
			}()
			return done
		}
		listing, cancelListing := context.WithTimeout(context.Background(), time.Second)
		defer cancelListing()
		patient := waitFor(listing)
		scraper, goAway := context.WithCancel(context.Background())
		leaving := waitFor(scraper)
		time.Sleep(2 * time.Second) // past the listing deadline
		goAway()
		if err := <-leaving; !errors.Is(err, context.Canceled) {
			t.Errorf("a scrape whose scraper went away: %v, want it to stop waiting", err)
		}
		close(finish)
		if err := <-patient; err != nil {
			t.Errorf("a scrape past its listing deadline: %v, want the rendering", err)
		}
	})
}

// Vary: Accept-Encoding is on every answer: 200, 400 (bad target) and 503 (no slot).
func TestVaryOnErrors(t *testing.T) {
	bad := &Handler{Resolve: func(*http.Request) (Target, bool, error) { return Target{}, false, errors.New("no such cloud") },
		Logger: log.NewNopLogger()}
	limiter := NewLimiter(1)
	limiter.slots <- struct{}{}
	busy := &Handler{Resolve: StaticTarget(Target{Cloud: "c1", Listings: NewListings(&fakeLister{images: testImages}, 0)}),
		Limiter: limiter, Timeouts: ScrapeTimeouts{Default: time.Second}, Logger: log.NewNopLogger()}
	for name, h := range map[string]*Handler{"400": bad, "503": busy} {
		req := httptest.NewRequest(http.MethodGet, "/probe", nil)
		req.Header.Set("Accept-Encoding", "gzip")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Header().Get("Vary") != "Accept-Encoding" {
			t.Errorf("%s answer (code %d): Vary %q", name, rec.Code, rec.Header().Get("Vary"))
		}
	}
}

// Prometheus's parser accepts the shared answer.
func TestSharedAnswerParses(t *testing.T) {
	h := &Handler{Resolve: StaticTarget(Target{Cloud: "c1", Listings: NewListings(&fakeLister{images: testImages}, time.Hour)}),
		Own: gatherCount(), Timeouts: ScrapeTimeouts{Default: time.Second}, Logger: log.NewNopLogger()}
	scrapeAs(t, h, "gzip")
	body, _ := scrapeAs(t, h, "gzip")
	parser := expfmt.NewTextParser(model.UTF8Validation)
	if _, err := parser.TextToMetricFamilies(strings.NewReader(body)); err != nil {
		t.Fatal(err)
	}
}
