package collector

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/collector/exposition"
)

// Listings are a cloud's listings, shared by concurrent scrapes: scrapes that ask for the
// same listing while one is in flight wait for it instead of calling the API again, and,
// with a TTL, a successful listing younger than the TTL is served without calling the API.
// A failed listing is never cached, so a failure is never hidden behind an older success.
//
// A listing in flight belongs to no scrape: it runs detached, under ListingRequest's
// MaxDuration, for as long as one scrape waits for it. Each scrape waits until its own
// deadline; when the last one leaves, the listing is stopped.
//
// What the listings hold is charged to a Memory, which keeps the cache too.
type Listings struct {
	lister client.ImageSource
	ttl    time.Duration
	quotas client.QuotaSource // nil: quotas are off
	memory *Memory
	// projectMetrics counts the images per owning project (the nova_project_* families).
	projectMetrics bool

	// refusals holds back the cloud's credentials once the cloud refused them, for every
	// listing; quotaRefusals the quota request once its endpoint did (backoff.go).
	refusals, quotaRefusals *backoff

	mu      sync.Mutex
	flights map[string]*flight // the listing in flight, by key
}

// flight is one listing in flight and the scrapes waiting for it.
type flight struct {
	done      chan struct{} // closed when inventory and err are set
	inventory Inventory
	err       error
	// waiters are the scrapes waiting, each of which is given the inventory once finished
	// is set; both guarded by Listings.mu.
	waiters  int
	finished bool
	stop     context.CancelFunc
}

// NewListings wraps lister; ttl 0 turns the cache off. Its listings are charged to a Memory
// of their own, with no bound, unless WithMemory gives one.
func NewListings(lister client.ImageSource, ttl time.Duration) *Listings {
	return &Listings{lister: lister, ttl: ttl, memory: NewMemory(0, 0), flights: map[string]*flight{},
		refusals: newBackoff(time.Now), quotaRefusals: newBackoff(time.Now), projectMetrics: true}
}

// WithProjectMetrics turns the project families (nova_project_images and the others labelled
// by project_id) on or off for the cloud's listings, on by default; it returns l.
func (l *Listings) WithProjectMetrics(on bool) *Listings {
	l.projectMetrics = on
	return l
}

// ProjectMetrics reports whether the project families are on for the cloud.
func (l *Listings) ProjectMetrics() bool { return l.projectMetrics }

// WithMemory charges the listings to memory, shared with other clouds' Listings, and caches
// them there; it returns l.
func (l *Listings) WithMemory(memory *Memory) *Listings {
	l.memory = memory
	return l
}

// WithQuotas makes every listing ask quotas for the cloud's image quotas too, under the same
// deadline, once the cloud has accepted the listing's credentials; it returns l.
func (l *Listings) WithQuotas(quotas client.QuotaSource) *Listings {
	l.quotas = quotas
	return l
}

// quotasNotRead is what a scrape that sent no quota request says of the quotas:
// nova_image_quota_up 0 where quotas are on.
func (l *Listings) quotasNotRead() *exposition.Quotas {
	if l.quotas == nil {
		return nil
	}
	return &exposition.Quotas{}
}

// AuthBackoff is how long the cloud's credentials are still held back after the cloud
// refused them; 0 when they are not.
func (l *Listings) AuthBackoff() time.Duration { return l.refusals.left() }

// ListingRequest is what a scrape asks of Listings.Inventory besides its context.
type ListingRequest struct {
	Selection client.Selection
	// Exports decide which images the listing keeps, those that get per-image series; it
	// counts every image whatever they say. Listings with other exports are other listings
	// (Key). nil keeps every image.
	Exports *exposition.ImageExports
	// Slots bounds the work running at once: starting a listing takes a slot for as long
	// as the listing runs; joining one in flight, or a cached one, takes none. nil: no bound.
	Slots Limiter
	// MaxDuration bounds a listing this scrape starts: the longest deadline any scrape can
	// have, so that the listing can serve every scrape that joins it. 0: no bound of its
	// own, the listing ends when its last scrape leaves.
	MaxDuration time.Duration
	// OnFailure reports the failure of a listing this scrape starts: once, for every scrape
	// that waited for it. It is not called when the listing stopped because every scrape
	// left (each reported its own deadline).
	OnFailure func(error)
	// OnQuotaFailure reports, likewise, a failed quota request, whether the listing beside
	// it succeeded or not.
	OnQuotaFailure func(error)
}

// key is the listing's in flight and in the cache: its selection's and its exports'.
func (req ListingRequest) key() string {
	return req.Selection.Key() + "\x00" + req.Exports.Key()
}

// WaitError says that a scrape's context ended before the listing it waited for.
type WaitError struct {
	Err error // the scrape's context error
	// Others is how many scrapes still wait for the listing, which goes on for them; 0
	// means it was stopped.
	Others int
}

// Error says why the scrape stopped waiting and what became of the listing.
func (e *WaitError) Error() string {
	if e.Others == 0 {
		return "the scrape ended before the listing did, and no other scrape waits for it: stopped it: " + e.Err.Error()
	}
	return fmt.Sprintf("the scrape ended before the listing did, which goes on for %d other scrape(s): %v", e.Others, e.Err)
}

// Unwrap returns the scrape's context error.
func (e *WaitError) Unwrap() error { return e.Err }

// Inventory returns the inventory of a cached listing younger than the TTL, or joins or
// starts the one listing in flight for the selection (its Key: as the user wrote it, so that
// "changes-since=720h" is one listing however the seconds pass, and whatever the page size)
// and the images kept (Exports' Key), and returns its inventory. It returns when the listing
// ends or ctx does, whichever comes first; ErrBusy when a listing must start but req.Slots has no free slot; a *BackoffError,
// at once, when a listing must start but the cloud refused the credentials and their
// back-off lasts. An inventory returned is held until its Release.
func (l *Listings) Inventory(ctx context.Context, req ListingRequest) (Inventory, error) {
	key := req.key()
	l.mu.Lock()
	if l.ttl > 0 {
		if inventory, ok := l.memory.cached(l, key); ok {
			l.mu.Unlock()
			return inventory, nil
		}
	}
	f, inFlight := l.flights[key]
	if !inFlight {
		ticket, err := l.refusals.admit()
		if err != nil {
			l.mu.Unlock()
			return Inventory{Quotas: l.quotasNotRead()}, err
		}
		if !req.Slots.tryAcquire() {
			l.mu.Unlock()
			return Inventory{}, ErrBusy
		}
		f = l.startLocked(ctx, key, req, ticket)
	}
	f.waiters++
	l.mu.Unlock()

	select {
	case <-f.done:
		return f.inventory, f.err
	case <-ctx.Done():
		return l.leave(ctx, key, f)
	}
}

// startLocked starts the listing of key, detached from ctx's cancellation and deadline;
// ticket is its admission by the back-off, which takes its outcome.
func (l *Listings) startLocked(ctx context.Context, key string, req ListingRequest, ticket int) *flight {
	listCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	if req.MaxDuration > 0 {
		listCtx, stop = context.WithTimeout(context.WithoutCancel(ctx), req.MaxDuration)
	}
	f := &flight{done: make(chan struct{}), stop: stop}
	l.flights[key] = f
	deadline, _ := ctx.Deadline()
	go func() {
		defer req.Slots.release()
		defer stop()
		inventory, err := l.list(listCtx, req, deadline, l.memory.newCharge())
		err = l.refusals.done(ticket, err, accepted(inventory, err))
		l.finish(key, f, inventory, err, req)
	}()
	return f
}

// finish caches a success, reports a failure (once, and not when every scrape had left,
// unless the cloud refused the credentials: that starts a back-off, which must not go
// unreported), lets go of the flight's hold, then hands the outcome to the waiters, each of which holds
// the inventory given it: once the last of them is answered, nothing of it is held.
func (l *Listings) finish(key string, f *flight, inventory Inventory, err error, req ListingRequest) {
	flightHold := inventory.charge
	l.mu.Lock()
	f.finished = true
	abandoned := l.flights[key] != f
	if !abandoned {
		delete(l.flights, key)
	}
	if err == nil {
		if f.waiters > 1 || l.ttl > 0 {
			inventory.renderings = newRenderings()
		}
		inventory.charge.retain(f.waiters)
		if l.ttl > 0 {
			l.memory.store(l, key, inventory, l.ttl)
		}
	} else {
		inventory.chunks, inventory.tally, inventory.charge = nil, nil, nil // a failed listing's images go with its charge
	}
	l.mu.Unlock()
	// Before the waiters answer, so that a scrape's answer never precedes its log line.
	if err != nil && req.OnFailure != nil && (!abandoned || errors.As(err, new(*client.AuthError))) {
		req.OnFailure(err)
	}
	if !abandoned && inventory.quotaErr != nil && req.OnQuotaFailure != nil && !sameCause(err, inventory.quotaErr) {
		req.OnQuotaFailure(inventory.quotaErr)
	}
	f.inventory, f.err = inventory, err
	flightHold.release() // before the waiters, each holding its own, can let go of theirs
	close(f.done)
}

// leave takes the scrape whose ctx ended off the flight's waiters, and stops the listing
// if it was the last.
func (l *Listings) leave(ctx context.Context, key string, f *flight) (Inventory, error) {
	l.mu.Lock()
	if f.finished { // the listing ended at the same moment: take its outcome, given this scrape
		l.mu.Unlock()
		<-f.done
		return f.inventory, f.err
	}
	defer l.mu.Unlock()
	f.waiters--
	if f.waiters == 0 {
		if l.flights[key] == f {
			delete(l.flights, key)
		}
		f.stop()
	}
	return Inventory{}, &WaitError{Err: ctx.Err(), Others: f.waiters}
}

// accepted reports whether the cloud accepted the credentials of a listing that ended with
// err: it succeeded, or handed over images before failing.
func accepted(inventory Inventory, err error) bool {
	return err == nil || inventory.listed > 0
}

// list lists the images of req's selection, counting each and keeping those that req's
// exports export, charged to charge, and, when quotas are on, asks for the quotas too, with
// the listing's credentials once the cloud has accepted them (accepted): never when it
// refused them.
func (l *Listings) list(ctx context.Context, req ListingRequest, deadline time.Time, charge *charge) (Inventory, error) {
	inventory := Inventory{charge: charge, tally: exposition.NewTally(l.projectMetrics)}
	start := time.Now()
	quotas := l.quotaRequest()
	err := l.lister.EachImage(ctx, req.Selection.ListOptions(time.Now()), func(img client.Image) error {
		err := inventory.add(img, req.Exports)
		if err == nil || errors.Is(err, client.ErrDropped) {
			quotas.send(ctx)
		}
		return err
	})
	if err == nil {
		quotas.send(ctx)
	}
	inventory.Quotas, inventory.quotaErr = quotas.wait(quotaWait(time.Since(start), deadline))
	inventory.At = time.Now()
	return inventory, err
}

// quotaRequest is the quota request of a listing, not sent yet; nil when quotas are off.
func (l *Listings) quotaRequest() *quotaRequest {
	if l.quotas == nil {
		return nil
	}
	return &quotaRequest{source: l.quotas, backoff: l.quotaRefusals}
}
