package collector

import (
	"context"
	"errors"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/nova-image-exporter/nova_image_exporter/client"
)

// maxCachedListings bounds the cache: one entry per distinct set of listing options.
const maxCachedListings = 64

// Listing is one listing of a cloud's images and when it was made.
type Listing struct {
	// chunks hold the images in fixed-size slices: a growing single slice would copy
	// 100 000 images over and over (README, Performance).
	chunks [][]client.Image
	At     time.Time // when the listing finished
}

const listingChunk = 1024

func (l *Listing) add(img client.Image) {
	if n := len(l.chunks); n == 0 || len(l.chunks[n-1]) == listingChunk {
		l.chunks = append(l.chunks, make([]client.Image, 0, listingChunk))
	}
	last := &l.chunks[len(l.chunks)-1]
	*last = append(*last, img)
}

// Len is the number of images listed.
func (l Listing) Len() int {
	if len(l.chunks) == 0 {
		return 0
	}
	return (len(l.chunks)-1)*listingChunk + len(l.chunks[len(l.chunks)-1])
}

// Images returns pointers to the listed images, in the order listed.
func (l Listing) Images() []*client.Image {
	images := make([]*client.Image, 0, l.Len())
	for _, chunk := range l.chunks {
		for i := range chunk {
			images = append(images, &chunk[i])
		}
	}
	return images
}

// Shared lists a cloud's images on behalf of concurrent scrapes: scrapes that ask for the
// same listing while one is in flight wait for it instead of calling the API again, and,
// with a TTL, a successful listing younger than the TTL is served without calling the API.
// A failed listing is never cached, so a failure is never hidden behind an older success.
type Shared struct {
	lister Lister
	ttl    time.Duration
	group  singleflight.Group

	mu       sync.Mutex
	cache    map[string]Listing
	inFlight map[string]time.Time // the deadline of each listing in flight, by key
}

// NewShared wraps lister; ttl 0 turns the cache off.
func NewShared(lister Lister, ttl time.Duration) *Shared {
	return &Shared{lister: lister, ttl: ttl, cache: map[string]Listing{}, inFlight: map[string]time.Time{}}
}

// WaitError says that a scrape stopped waiting for the listing in flight, whose deadline
// is later than the scrape's: the listing goes on, and reports its own outcome.
type WaitError struct{ Err error }

// Error says why the scrape stopped waiting.
func (e *WaitError) Error() string {
	return "stopped waiting for the listing in flight, which another scrape started: " + e.Err.Error()
}

// Unwrap returns the scrape's context error.
func (e *WaitError) Unwrap() error { return e.Err }

// Listing returns a cached listing younger than the TTL, or joins or starts the one listing
// in flight for the selection (as the user wrote it, so that "changes-since=720h" is one
// listing however the seconds pass). The listing runs under the deadline of the scrape
// that started it, is not cancelled when that scrape goes away while others wait for it,
// and reports a failure once, through the starting scrape's onFailure.
func (s *Shared) Listing(ctx context.Context, selection client.Selection, onFailure func(error)) (Listing, error) {
	key := selection.String()
	if listing, ok := s.cached(key); ok {
		return listing, nil
	}
	results := s.group.DoChan(key, func() (any, error) {
		listCtx, cancel := detach(ctx)
		defer cancel()
		s.startFlight(listCtx, key)
		defer s.endFlight(key)
		listing, err := s.list(listCtx, selection)
		if err != nil {
			onFailure(err)
			return Listing{}, err
		}
		s.store(key, listing)
		return listing, nil
	})
	select {
	case r := <-results:
		return r.Val.(Listing), r.Err
	case <-ctx.Done():
		select {
		case r := <-results: // the listing ended at the same moment: take its outcome
			return r.Val.(Listing), r.Err
		default:
		}
		if s.outlives(ctx, key) {
			return Listing{}, &WaitError{Err: ctx.Err()}
		}
		// The scraper went away, or the listing ends at this scrape's deadline and reports
		// its failure itself.
		return Listing{}, ctx.Err()
	}
}

func (s *Shared) list(ctx context.Context, selection client.Selection) (Listing, error) {
	var listing Listing
	err := s.lister.EachImage(ctx, selection.ListOptions(time.Now()), func(img client.Image) error {
		listing.add(img)
		return nil
	})
	listing.At = time.Now()
	return listing, err
}

func (s *Shared) startFlight(ctx context.Context, key string) {
	deadline, _ := ctx.Deadline()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inFlight[key] = deadline
}

func (s *Shared) endFlight(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.inFlight, key)
}

// outlives reports whether the listing in flight for key runs past ctx's deadline: then
// ctx's scrape gave up on its own, and must say so.
func (s *Shared) outlives(ctx context.Context, key string) bool {
	if errors.Is(ctx.Err(), context.Canceled) {
		return false // the scraper went away: nobody reads the answer
	}
	deadline, ok := ctx.Deadline()
	s.mu.Lock()
	defer s.mu.Unlock()
	listingDeadline, inFlight := s.inFlight[key]
	return ok && inFlight && (listingDeadline.IsZero() || listingDeadline.After(deadline))
}

// detach keeps ctx's deadline and values but not its cancellation.
func detach(ctx context.Context) (context.Context, context.CancelFunc) {
	detached := context.WithoutCancel(ctx)
	if deadline, ok := ctx.Deadline(); ok {
		return context.WithDeadline(detached, deadline)
	}
	return context.WithCancel(detached)
}

func (s *Shared) cached(key string) (Listing, bool) {
	if s.ttl <= 0 {
		return Listing{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	listing, ok := s.cache[key]
	if !ok || time.Since(listing.At) >= s.ttl {
		return Listing{}, false
	}
	return listing, true
}

func (s *Shared) store(key string, listing Listing) {
	if s.ttl <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, old := range s.cache {
		if time.Since(old.At) >= s.ttl {
			delete(s.cache, k)
		}
	}
	if len(s.cache) >= maxCachedListings {
		return
	}
	s.cache[key] = listing
}
