package targets

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go-kit/log"

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/client/cloud"
	"github.com/nova-image-exporter/nova_image_exporter/collector"
)

// endlessLister lists until its context ends, and keeps why it ended.
type endlessLister struct {
	mu    sync.Mutex
	ended []error
}

func (e *endlessLister) EachImage(ctx context.Context, _ client.ListOptions, _ func(client.Image) error) error {
	<-ctx.Done()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.ended = append(e.ended, ctx.Err())
	return ctx.Err()
}

func (e *endlessLister) endings() []error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]error(nil), e.ended...)
}

// A reload that changes a cloud stops the listing its old target had going on in the
// background (--cache.ttl): it would send the old credentials, to the old endpoints, for up
// to --listings.timeout, in a slot, and cache a listing no scrape can ask for.
func TestReloadStopsTheOldCloudsBackgroundListing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "clouds.yaml")
		if err := os.WriteFile(file, []byte(entries), 0o600); err != nil {
			t.Fatal(err)
		}
		listers := map[string]*endlessLister{} // the last built of each cloud
		set, err := New(Options{File: file, Default: "a", Logger: log.NewNopLogger(),
			Build: func(cfg *cloud.Config) (collector.Target, error) {
				listers[cfg.Name] = &endlessLister{}
				return collector.Target{Cloud: cfg.Name, Listings: collector.NewListings(listers[cfg.Name], time.Hour)}, nil
			}})
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"a", "b"} {
			target, err := set.Get(name)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, err = target.Listings.Inventory(ctx, collector.ListingRequest{})
			cancel()
			if !errors.As(err, new(*collector.PendingError)) {
				t.Fatalf("the scrape of %s: %v, want the listing going on in the background", name, err)
			}
		}
		oldB := listers["b"]
		if err := os.WriteFile(file, []byte(strings.Replace(entries, "token: t-b", "token: t-b2", 1)), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := set.Reload(); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if ended := oldB.endings(); len(ended) != 1 || !errors.Is(ended[0], context.Canceled) {
			t.Errorf("the changed cloud's old background listing ended %v, want stopped by the reload", ended)
		}
		if ended := listers["a"].endings(); len(ended) != 0 {
			t.Errorf("the unchanged cloud's background listing ended %v, want it going on", ended)
		}
		time.Sleep(collector.DefaultListingTimeout) // the unchanged cloud's listing ends at its bound
	})
}
