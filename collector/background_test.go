package collector

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/internal/testlog"
)

// scriptedLister lists testImages[:2] after took, or fails with err; both may change between
// listings. It counts the listings started and keeps their outcomes.
type scriptedLister struct {
	mu       sync.Mutex
	took     time.Duration
	err      error
	calls    int
	outcomes []error
}

func (s *scriptedLister) set(took time.Duration, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.took, s.err = took, err
}

func (s *scriptedLister) EachImage(ctx context.Context, _ client.ListOptions, fn func(client.Image) error) error {
	s.mu.Lock()
	s.calls++
	took, err := s.took, s.err
	s.mu.Unlock()
	select {
	case <-time.After(took):
	case <-ctx.Done():
		err = ctx.Err()
	}
	for _, img := range testImages[:2] {
		if err != nil {
			break
		}
		err = fn(img)
	}
	s.mu.Lock()
	s.outcomes = append(s.outcomes, err)
	s.mu.Unlock()
	return err
}

func (s *scriptedLister) listings() (calls int, outcomes []error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls, append([]error(nil), s.outcomes...)
}

// failureReports are the failures a ListingRequest's OnFailure reported.
type failureReports struct {
	mu   sync.Mutex
	errs []error
}

func (f *failureReports) add(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs = append(f.errs, err)
}

func (f *failureReports) list() []error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]error(nil), f.errs...)
}

// inventoryWithin takes the listing of shared under a scrape deadline of timeout.
func inventoryWithin(shared *Listings, timeout time.Duration, req ListingRequest) (Inventory, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	inventory, err := shared.Inventory(ctx, req)
	inventory.Release()
	return inventory, err
}

// With --cache.ttl, a listing that outlasts the scrape that started it goes on in the
// background, and a scrape after it ends gets it from the cache, without another listing.
// synctest.Test fails if any goroutine of the listing is left behind.
func TestSlowListingIsServedToALaterScrape(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lister := &scriptedLister{took: 3 * time.Minute}
		shared := NewListings(lister, time.Hour)
		var reported failureReports
		req := ListingRequest{MaxDuration: time.Minute, OnFailure: reported.add}
		for range 4 { // a scrape every 15s, each ending at its deadline
			_, err := inventoryWithin(shared, 10*time.Second, req)
			var pending *PendingError
			if !errors.As(err, &pending) || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("a scrape whose deadline passed before the first listing ended: %v, want a PendingError", err)
			}
			time.Sleep(5 * time.Second)
		}
		time.Sleep(3 * time.Minute)
		listing, err := inventoryWithin(shared, 10*time.Second, req)
		if calls, _ := lister.listings(); err != nil || listing.Len() != 2 || calls != 1 {
			t.Errorf("the scrape after the listing ended: %v, %d images, %d listings; want the one listing, from the cache", err, listing.Len(), calls)
		}
		if errs := reported.list(); len(errs) != 0 {
			t.Errorf("failures reported for a listing that went on in the background: %v, want none", errs)
		}
	})
}

// A scrape that finds the cached listing older than the TTL gets it at once while one
// refresh runs, however many scrapes come meanwhile; the scrape after the refresh gets the
// new listing.
func TestStaleListingIsServedAtOnceWhileOneRefreshRuns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lister := &scriptedLister{}
		shared := NewListings(lister, time.Minute)
		first, err := inventoryWithin(shared, 10*time.Second, ListingRequest{})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		lister.set(5*time.Minute, nil)
		for range 20 { // 5 minutes of scrapes every 15 s
			start := time.Now()
			stale, err := inventoryWithin(shared, 10*time.Second, ListingRequest{})
			if err != nil || !stale.At.Equal(first.At) || time.Since(start) != 0 {
				t.Fatalf("a scrape of a stale listing: %v, listed at %v after %v; want the stale listing (listed at %v) at once",
					err, stale.At, time.Since(start), first.At)
			}
			time.Sleep(15 * time.Second)
		}
		synctest.Wait()
		fresh, err := inventoryWithin(shared, 10*time.Second, ListingRequest{})
		if calls, _ := lister.listings(); err != nil || !fresh.At.After(first.At) || calls != 2 {
			t.Errorf("the scrape after the refresh: %v, listed at %v, %d listings; want the refresh, the only one", err, fresh.At, calls)
		}
	})
}

// A refresh that fails is reported once, and the stale listing is not served after it: the
// next scrapes answer the failure at once, each starting a new listing, until one succeeds.
func TestFailedRefreshIsNotHiddenBehindTheStaleListing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lister := &scriptedLister{}
		shared := NewListings(lister, time.Minute)
		var reported failureReports
		req := ListingRequest{OnFailure: reported.add}
		if _, err := inventoryWithin(shared, 10*time.Second, req); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		down := errors.New("HTTP 503")
		lister.set(time.Second, down)
		if _, err := inventoryWithin(shared, 10*time.Second, req); err != nil {
			t.Fatalf("the scrape that starts the refresh: %v, want the stale listing", err)
		}
		time.Sleep(15 * time.Second)
		if errs := reported.list(); len(errs) != 1 || !errors.Is(errs[0], down) {
			t.Fatalf("failures reported: %v, want the refresh's, once", errs)
		}
		lister.set(time.Second, nil) // the cloud is back
		_, err := inventoryWithin(shared, 10*time.Second, req)
		var failed *LastFailureError
		if !errors.As(err, &failed) || !errors.Is(err, down) || failed.Age != 14*time.Second {
			t.Errorf("the scrape after the failed refresh: %v, want the failure of 14s ago, not the stale listing", err)
		}
		time.Sleep(15 * time.Second)
		listing, err := inventoryWithin(shared, 10*time.Second, req)
		if calls, _ := lister.listings(); err != nil || listing.Len() != 2 || calls != 3 || len(reported.list()) != 1 {
			t.Errorf("once the cloud is back: %v, %d images, %d listings, %d failures reported; want the listing the last scrape started, 3, 1",
				err, listing.Len(), calls, len(reported.list()))
		}
	})
}

// A refresh refused with the credentials starts the back-off: scrapes then answer it at
// once, neither with the stale listing nor with another request.
func TestRefusedRefreshHoldsBackTheCredentials(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lister := &scriptedLister{}
		shared := NewListings(lister, time.Minute)
		if _, err := inventoryWithin(shared, 10*time.Second, ListingRequest{}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		lister.set(0, &client.AuthError{Err: errors.New("HTTP 401")})
		if _, err := inventoryWithin(shared, 10*time.Second, ListingRequest{}); err != nil {
			t.Fatalf("the scrape that starts the refresh: %v, want the stale listing", err)
		}
		for range 3 {
			time.Sleep(15 * time.Second)
			_, err := inventoryWithin(shared, 10*time.Second, ListingRequest{})
			if !errors.As(err, new(*BackoffError)) && !errors.As(err, new(*LastFailureError)) {
				t.Errorf("a scrape in the back-off: %v, want the refusal", err)
			}
		}
		if calls, _ := lister.listings(); calls != 2 {
			t.Errorf("%d listings, want 2: none in the back-off", calls)
		}
	})
}

// --listings.timeout stops a listing that goes on in the background; its failure is
// reported once.
func TestListingsTimeoutStopsABackgroundListing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lister := &scriptedLister{took: time.Hour}
		shared := NewListings(lister, time.Hour).WithTimeout(10 * time.Minute)
		var reported failureReports
		req := ListingRequest{MaxDuration: time.Minute, OnFailure: reported.add}
		if _, err := inventoryWithin(shared, 10*time.Second, req); !errors.As(err, new(*PendingError)) {
			t.Fatalf("the first scrape: %v, want a PendingError", err)
		}
		start := time.Now()
		synctest.Wait()
		time.Sleep(10*time.Minute - 10*time.Second - time.Nanosecond)
		synctest.Wait()
		if _, outcomes := lister.listings(); len(outcomes) != 0 {
			t.Fatalf("the listing ended after %v: %v; want it to run for --listings.timeout", time.Since(start), outcomes)
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		if _, outcomes := lister.listings(); len(outcomes) != 1 || !errors.Is(outcomes[0], context.DeadlineExceeded) {
			t.Errorf("listing outcomes %v, want one, stopped by --listings.timeout", outcomes)
		}
		if errs := reported.list(); len(errs) != 1 || !errors.Is(errs[0], context.DeadlineExceeded) {
			t.Errorf("failures reported %v, want the timeout, once", errs)
		}
	})
}

// A cloud whose listing takes ten minutes answers every 15 s scrape within its deadline: nova_up 0
// until its first listing ends (logged once, not per scrape), then its listing, fresh or stale,
// while one refresh after another runs.
func TestTenMinuteListingAnswersEveryScrapeInTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lister := &scriptedLister{took: 10 * time.Minute}
		var logs testlog.Buffer
		metrics := NewExporterMetrics(prometheus.NewRegistry())
		h := &Handler{Resolve: StaticTarget(Target{Cloud: "c", Listings: NewListings(lister, 5*time.Minute)}),
			Timeouts: ScrapeTimeouts{Default: time.Minute, Offset: 500 * time.Millisecond},
			Limiter:  NewLimiter(4), Metrics: metrics, Logger: level.NewFilter(log.NewLogfmtLogger(&logs), level.AllowInfo())}
		var ups []string
		for range 4 * 60 { // an hour of scrapes every 15 s, with a 10 s scrape timeout
			start := time.Now()
			rec := serve(h, "10")
			if took := time.Since(start); took > 10*time.Second || rec.Code != http.StatusOK {
				t.Fatalf("scrape %d answered %d after %v, past its 10s deadline", len(ups), rec.Code, took)
			}
			ups = append(ups, upOf(rec.Body.String()))
			time.Sleep(15*time.Second - time.Since(start))
		}
		if got := strings.Join(ups[:40], ""); got != strings.Repeat("0", 40) {
			t.Errorf("nova_up during the first listing (10 minutes): %s, want 0 throughout", got)
		}
		if got := strings.Join(ups[41:], ""); got != strings.Repeat("1", len(ups)-41) {
			t.Errorf("nova_up after the first listing: %s, want 1 throughout", got)
		}
		if n := strings.Count(logs.String(), "\n"); n != 1 || !strings.Contains(logs.String(), "in the background") {
			t.Errorf("%d log lines for an hour of a slow cloud, want the one of the first listing:\n%s", n, logs.String())
		}
		if calls, _ := lister.listings(); calls < 4 || calls > 5 {
			t.Errorf("%d listings in an hour, want one every TTL + listing (15m) or so", calls)
		}
		if v := testutil.ToFloat64(metrics.rejectedScrapes.WithLabelValues("too_many_requests")); v != 0 {
			t.Errorf("%v scrapes rejected, want none", v)
		}
	})
}

// Without a TTL nothing goes on in the background: the listing stops when its last scrape
// leaves, as ever.
func TestNoBackgroundListingWithoutTTL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lister := &scriptedLister{took: time.Hour}
		shared := NewListings(lister, 0)
		_, err := inventoryWithin(shared, 10*time.Second, ListingRequest{MaxDuration: time.Minute})
		var waitErr *WaitError
		if !errors.As(err, &waitErr) || waitErr.Others != 0 {
			t.Errorf("without a TTL: %v, want the listing stopped with its scrape", err)
		}
		synctest.Wait()
		if _, outcomes := lister.listings(); len(outcomes) != 1 || !errors.Is(outcomes[0], context.Canceled) {
			t.Errorf("listing outcomes %v, want one, stopped", outcomes)
		}
	})
}

// slowQuotas answers glanceQuotas after took.
type slowQuotas struct{ took time.Duration }

func (s slowQuotas) Quotas(ctx context.Context) ([]client.Quota, error) {
	select {
	case <-time.After(s.took):
		return glanceQuotas, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// A listing that goes on in the background asks for the quotas beside it within its own
// bound: the deadline of the scrape that started it, long passed, does not cut them short for
// the scrapes it serves.
func TestBackgroundListingReadsItsQuotasWhateverItsStarter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		shared := NewListings(&scriptedLister{took: 3 * time.Minute}, time.Hour).WithQuotas(slowQuotas{took: 2 * time.Second})
		if _, err := inventoryWithin(shared, time.Second, ListingRequest{}); !errors.As(err, new(*PendingError)) {
			t.Fatalf("the starter: %v, want a PendingError", err)
		}
		time.Sleep(5 * time.Minute)
		listing, err := inventoryWithin(shared, time.Second, ListingRequest{})
		if err != nil || listing.Quotas == nil || !listing.Quotas.Up {
			t.Errorf("the scrape after the listing: %v, quotas %+v; want the quotas read", err, listing.Quotas)
		}
	})
}

// A listing in the background holds its --web.max-requests slot while it runs, and its
// images are charged to the Memory for as long as the cache serves them: until --cache.ttl
// plus the timeout after it ended, when nothing of it is held.
func TestBackgroundListingIsBoundedAndCounted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		memory := NewMemory(1<<20, 1<<20)
		shared := NewListings(&scriptedLister{took: 3 * time.Minute}, time.Minute).WithTimeout(5 * time.Minute).WithMemory(memory)
		slots := NewLimiter(1)
		if _, err := inventoryWithin(shared, time.Second, ListingRequest{Slots: slots}); !errors.As(err, new(*PendingError)) {
			t.Fatalf("the starter: %v, want a PendingError", err)
		}
		named, _ := client.ParseSelection(client.Selection{}, map[string][]string{"name": {"ubuntu"}})
		if _, err := inventoryWithin(shared, time.Second, ListingRequest{Selection: named, Slots: slots}); !errors.Is(err, ErrBusy) {
			t.Errorf("another listing while the first runs in the background: %v, want ErrBusy (its one slot is taken)", err)
		}
		time.Sleep(3 * time.Minute)
		if held := memory.heldBytes(); held == 0 || len(slots.slots) != 0 {
			t.Errorf("the listing ended: %d bytes held, %d slots taken; want its images held by the cache, no slot", held, len(slots.slots))
		}
		time.Sleep(6 * time.Minute) // past TTL + timeout, nobody scraping
		if held, cached := memory.heldBytes(), memory.cachedBytes(); held != 0 || cached != 0 {
			t.Errorf("past --cache.ttl + --listings.timeout: %d bytes held, %d cached; want none", held, cached)
		}
	})
}

// Close (a reload that changed or removed the cloud) stops a listing in the background with
// no scrape waiting, at once and unreported, gives back its slot, and drops the cached
// listings with their memory; a scrape that waits for a listing still gets it, which then
// stops when its last scrape leaves, as without a TTL, and is not cached.
func TestClosedListingsStopInTheBackgroundAndCacheNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		memory := NewMemory(1<<20, 1<<20)
		lister := &scriptedLister{}
		shared := NewListings(lister, time.Minute).WithMemory(memory)
		slots := NewLimiter(1)
		var reported failureReports
		req := ListingRequest{Slots: slots, OnFailure: reported.add}
		if _, err := inventoryWithin(shared, time.Second, req); err != nil || memory.cachedBytes() == 0 {
			t.Fatalf("the first listing: %v, %d bytes cached; want it cached", err, memory.cachedBytes())
		}
		time.Sleep(time.Minute)
		lister.set(time.Hour, nil)
		if _, err := inventoryWithin(shared, time.Second, req); err != nil {
			t.Fatalf("the scrape that starts the refresh: %v, want the stale listing", err)
		}
		shared.Close()
		synctest.Wait()
		if _, outcomes := lister.listings(); len(outcomes) != 2 || !errors.Is(outcomes[1], context.Canceled) {
			t.Errorf("listing outcomes %v, want the refresh stopped by Close", outcomes)
		}
		if held, cached := memory.heldBytes(), memory.cachedBytes(); held != 0 || cached != 0 || len(slots.slots) != 0 {
			t.Errorf("once closed: %d bytes held, %d cached, %d slots taken; want none", held, cached, len(slots.slots))
		}
		_, err := inventoryWithin(shared, time.Second, req)
		var waitErr *WaitError
		if !errors.As(err, &waitErr) || waitErr.Others != 0 {
			t.Errorf("a scrape once closed: %v, want its listing stopped with it", err)
		}
		synctest.Wait()
		if calls, outcomes := lister.listings(); calls != 3 || len(outcomes) != 3 || len(reported.list()) != 0 {
			t.Errorf("%d listings, outcomes %v, failures reported %v; want 3, each stopped, none reported", calls, outcomes, reported.list())
		}
	})
}

// With --cache.ttl, the listings that outlive every scrape waiting for them go on in the
// background in at most half of the --web.max-requests slots (rounded up): the scrapes of
// many distinct selections that hang up or time out at once cannot take every slot, and a
// later scrape still finds one for its listing and one for its rendering. A listing beyond
// the bound stops when its last scrape leaves, as without a TTL.
func TestListingsInTheBackgroundLeaveSlotsToScrapes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lister := &scriptedLister{took: time.Hour}
		shared := NewListings(lister, time.Minute)
		slots := NewLimiter(4)
		probe := func(name string, hangUp bool) error {
			selection, _ := client.ParseSelection(client.Selection{}, map[string][]string{"name": {name}})
			ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond) // a tiny scrape timeout
			defer cancel()
			if hangUp {
				cancel()
			}
			inventory, err := shared.Inventory(ctx, ListingRequest{Selection: selection, Slots: slots})
			inventory.Release()
			synctest.Wait() // a listing stopped gives back its slot
			return err
		}
		var busy int
		for i := range 40 {
			if err := probe(strconv.Itoa(i), i%2 == 1); errors.Is(err, ErrBusy) {
				busy++
			}
		}
		if busy != 0 {
			t.Errorf("%d of 40 probes leaving early found no slot for their listing, want none", busy)
		}
		if err := probe("later", false); errors.Is(err, ErrBusy) {
			t.Errorf("a later scrape: %v, want a slot for its listing", err)
		}
		var waitErr *WaitError
		if err := probe("2", false); !errors.As(err, &waitErr) || !waitErr.Crowded {
			t.Errorf("a scrape of a listing stopped earlier: %v, want it listed anew (and stopped, the background full), not its stop cached", err)
		}
		if slots.tryAcquire() {
			slots.release()
		} else {
			t.Errorf("after 40 probes that left early, no slot for a rendering")
		}
		if calls, outcomes := lister.listings(); calls != 42 || len(outcomes) != 40 {
			t.Errorf("%d listings, %d ended; want 42, of which all but 2 (in the background) stopped", calls, len(outcomes))
		}
		time.Sleep(time.Hour) // the listings in the background end, within --listings.timeout
		if calls, outcomes := lister.listings(); len(outcomes) != calls {
			t.Errorf("an hour later: %d listings, %d ended; want all ended", calls, len(outcomes))
		}
	})
}
