package collector

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/collector/exposition"
)

// Listings are a cloud's listings, shared by concurrent scrapes: scrapes that ask for the
// same listing while one is in flight wait for it instead of calling the API again.
//
// Without a TTL a listing in flight belongs to no scrape: it runs detached, under
// ListingRequest's MaxDuration, for as long as one scrape waits for it. Each scrape waits
// until its own deadline; when the last one leaves, the listing is stopped.
//
// With a TTL the cache keeps the outcome of each listing, and a listing goes on in the
// background when its scrapes leave, bounded by the timeout (WithTimeout), for the scrapes
// after it, if it finds room among the slots that listings in the background may hold
// (Limiter); if not, it stops as without a TTL. A scrape is answered at once from the
// cache: a listing younger than the TTL; past it, and for as long as the timeout again, the same listing while one refresh runs;
// or the failure of the last listing (reported once, when it failed) while the next runs,
// so that a failure is never hidden behind an older success. A scrape that finds nothing
// cached waits for the listing in flight until its own deadline (PendingError).
//
// What the listings hold is charged to a Memory, which keeps the cache too.
type Listings struct {
	lister client.ImageSource
	ttl    time.Duration
	// timeout bounds a listing that goes on in the background, with a TTL.
	timeout time.Duration
	quotas  client.QuotaSource // nil: quotas are off
	memory  *Memory
	// projectMetrics counts the images per owning project (the nova_project_* families).
	projectMetrics bool
	// projects are the cloud's project names, read beside its listings; nil: off.
	projects *projectNames
	// servers lists the cloud's servers beside its listings, for the orphaned snapshots;
	// nil: off.
	servers client.ServerSource

	// refusals holds back the cloud's credentials once the cloud refused them, for every
	// listing; quotaRefusals the quota request once its endpoint did, serverRefusals the
	// server listing (backoff.go).
	refusals, quotaRefusals, serverRefusals *backoff

	mu      sync.Mutex
	flights map[string]*flight // the listing in flight, by key
	// closed is set by Close: the listings are neither cached nor go on in the background.
	closed bool
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
	started  time.Time
	// outlasted is set once the listing outlasted a scrape's deadline, with a TTL; guarded
	// by Listings.mu.
	outlasted bool
	// slots are those the listing runs in. background is set, with a TTL, while it holds
	// room in the background (Limiter): from when it first went on with no scrape waiting
	// (a refresh, from its start) until it ends. Guarded by Listings.mu.
	slots      *Limiter
	background bool
}

// DefaultListingTimeout bounds a listing that goes on in the background (--listings.timeout):
// a million images at half a second a page of 1000 take some eight minutes.
const DefaultListingTimeout = 10 * time.Minute

// NewListings wraps lister; ttl 0 turns the cache off, and with it the listings that go on in
// the background, bounded by DefaultListingTimeout unless WithTimeout sets another. Its
// listings are charged to a Memory of their own, with no bound, unless WithMemory gives one.
func NewListings(lister client.ImageSource, ttl time.Duration) *Listings {
	return &Listings{lister: lister, ttl: ttl, timeout: DefaultListingTimeout, memory: NewMemory(0, 0),
		flights: map[string]*flight{}, refusals: newBackoff(time.Now), quotaRefusals: newBackoff(time.Now),
		serverRefusals: newBackoff(time.Now), projectMetrics: true}
}

// WithTimeout bounds a listing that goes on in the background, with a TTL, to timeout, and
// keeps a listing older than the TTL, served while one refresh runs, for as long again; it
// returns l.
func (l *Listings) WithTimeout(timeout time.Duration) *Listings {
	l.timeout = timeout
	return l
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

// WithProjects makes the listings name their owners (nova_project_info) with the project
// names that source reads, at most once per projectPeriod, beside a listing under the same
// deadline, once the cloud has accepted the listing's credentials; it returns l.
func (l *Listings) WithProjects(source client.ProjectSource) *Listings {
	l.projects = newProjectNames(source)
	return l
}

// WithServers makes every listing list the cloud's servers through source too, under the
// same deadline, once the cloud has accepted the listing's credentials, and tell which
// snapshots' servers are gone (the orphan families); it returns l.
func (l *Listings) WithServers(source client.ServerSource) *Listings {
	l.servers = source
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
	Slots *Limiter
	// MaxDuration bounds a listing this scrape starts without a TTL: the longest deadline
	// any scrape can have, so that the listing can serve every scrape that joins it. 0: no
	// bound of its own, the listing ends when its last scrape leaves. With a TTL, the
	// Listings' timeout bounds it instead.
	MaxDuration time.Duration
	// OnFailure reports the failure of a listing this scrape starts: once, for every scrape
	// that waited for it or, with a TTL, is answered the failure from the cache. It is not
	// called when the listing stopped because every scrape left (each reported its own
	// deadline).
	OnFailure func(error)
	// OnQuotaFailure reports, likewise, a failed quota request, whether the listing beside
	// it succeeded or not.
	OnQuotaFailure func(error)
	// OnServerFailure reports, likewise, a failed server listing (the orphaned snapshots),
	// whether the listing beside it succeeded or not.
	OnServerFailure func(error)
	// OnProjectFailure reports, likewise, a read of the project names that failed or was
	// refused the listing of every project: at most once per read, one read per period.
	OnProjectFailure func(error)
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
	// Crowded is set, with a TTL, when the listing was stopped because the listings in the
	// background held every slot they may (Limiter).
	Crowded bool
}

// Error says why the scrape stopped waiting and what became of the listing.
func (e *WaitError) Error() string {
	switch {
	case e.Crowded:
		return "the scrape ended before the listing did, no other scrape waits for it, and the listings in the background hold every slot they may (half of --web.max-requests): stopped it: " + e.Err.Error()
	case e.Others == 0:
		return "the scrape ended before the listing did, and no other scrape waits for it: stopped it: " + e.Err.Error()
	}
	return fmt.Sprintf("the scrape ended before the listing did, which goes on for %d other scrape(s): %v", e.Others, e.Err)
}

// Unwrap returns the scrape's context error.
func (e *WaitError) Unwrap() error { return e.Err }

// Inventory returns the inventory of the selection's listing (its Key: as the user wrote it,
// so that "changes-since=720h" is one listing however the seconds pass, and one page size's
// listing is not another's) and of the images kept (Exports' Key): from the cache, with a TTL (see Listings), or by joining or starting the one listing
// in flight for the selection and waiting for it until it ends or ctx does, whichever comes
// first. It returns ErrBusy when a listing must start but req.Slots has no free slot (with a
// TTL, not when it answers from the cache); a *BackoffError, at once, when a listing must
// start but the cloud refused the credentials and their back-off lasts; with a TTL, a
// *LastFailureError when the last listing failed. An inventory returned is held until its
// Release.
func (l *Listings) Inventory(ctx context.Context, req ListingRequest) (Inventory, error) {
	key := req.key()
	l.mu.Lock()
	if l.cachingLocked() {
		if inventory, found, err := l.fromCacheLocked(ctx, key, req); found {
			l.mu.Unlock()
			return inventory, err
		}
	}
	f, inFlight := l.flights[key]
	if !inFlight {
		var err error
		if f, err = l.startLocked(ctx, key, req, false); err != nil {
			l.mu.Unlock()
			return l.notListed(err), err
		}
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

// fromCacheLocked answers from the cache, with a TTL: a listing younger than the TTL; an
// older one or the last listing's failure while one refresh runs, which it starts if none
// does. found is false when the cache holds nothing of key; err is the back-off when the
// refresh may not start (the stale listing is not served then: the credentials are refused).
// A refresh that finds no free slot, or no room in the background, is left to a later scrape.
func (l *Listings) fromCacheLocked(ctx context.Context, key string, req ListingRequest) (inventory Inventory, found bool, err error) {
	inventory, found, failure := l.memory.cached(l, key)
	if !found {
		return Inventory{}, false, nil
	}
	age := time.Since(inventory.At)
	if failure == nil && age < l.ttl {
		return inventory, true, nil
	}
	if _, inFlight := l.flights[key]; !inFlight {
		if _, err := l.startLocked(ctx, key, req, true); err != nil && !errors.Is(err, ErrBusy) {
			inventory.Release()
			return l.notListed(err), true, err
		}
	}
	if failure != nil {
		return inventory, true, &LastFailureError{Err: failure, Age: age}
	}
	return inventory, true, nil
}

// notListed is the inventory of a scrape for which no listing could start because of err:
// nova_image_quota_up 0 in the back-off, no quota samples when every slot is taken.
func (l *Listings) notListed(err error) Inventory {
	if errors.Is(err, ErrBusy) {
		return Inventory{}
	}
	return Inventory{Quotas: l.quotasNotRead(), Orphans: l.orphansNotRead()}
}

// startLocked starts the listing of key, admitted by the back-off (which takes its outcome)
// and in a slot of req.Slots (in the background, for no scrape, if background is set),
// detached from ctx's cancellation and deadline, under its own bound: req.MaxDuration, or
// with a TTL the Listings' timeout, which bounds its quota request too (without a TTL, the
// deadline of the scrape that starts it does).
func (l *Listings) startLocked(ctx context.Context, key string, req ListingRequest, background bool) (*flight, error) {
	ticket, err := l.refusals.admit()
	if err != nil {
		return nil, err
	}
	if !req.Slots.tryAcquire() {
		return nil, ErrBusy
	}
	if background && !req.Slots.tryBackground() {
		req.Slots.release()
		return nil, ErrBusy
	}
	bound := req.MaxDuration
	if l.cachingLocked() {
		bound = l.timeout
	}
	listCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	if bound > 0 {
		listCtx, stop = context.WithTimeout(context.WithoutCancel(ctx), bound)
	}
	deadline, _ := ctx.Deadline()
	if l.cachingLocked() {
		deadline, _ = listCtx.Deadline()
	}
	f := &flight{done: make(chan struct{}), stop: stop, started: time.Now(), slots: req.Slots, background: background}
	l.flights[key] = f
	go func() {
		defer req.Slots.release()
		defer stop()
		inventory, err := l.list(listCtx, req, deadline, l.memory.newCharge())
		err = l.refusals.done(ticket, err, accepted(inventory, err))
		l.finish(key, f, inventory, err, req)
	}()
	return f, nil
}

// finish caches the outcome with a TTL (a success, or the failure in place of the listing it
// was to refresh; not the stop of a listing that found no room in the background), or
// without one drops a failed listing's images; reports a failure (once, and not when every
// scrape had left, unless the cloud refused the credentials: that starts a back-off, which
// must not go unreported), lets go of the flight's hold, then hands the outcome to the
// waiters, each of which holds the inventory given it: once the last of them is answered,
// and the cache let go of it, nothing of it is held.
func (l *Listings) finish(key string, f *flight, inventory Inventory, err error, req ListingRequest) {
	flightHold := inventory.charge
	l.mu.Lock()
	f.finished = true
	if f.background {
		f.slots.releaseBackground()
	}
	abandoned := l.flights[key] != f
	if !abandoned {
		delete(l.flights, key)
	}
	if err == nil {
		if f.waiters > 1 || l.cachingLocked() {
			inventory.renderings = newRenderings()
		}
		inventory.charge.retain(f.waiters)
	} else { // a failed listing's images go with its charge
		inventory.chunks, inventory.tally, inventory.charge, inventory.bytes = nil, nil, nil, 0
	}
	if l.cachingLocked() && !abandoned { // stopped for want of room in the background: not a failure to serve
		l.memory.store(l, key, inventory, err, l.ttl+l.timeout)
	}
	l.mu.Unlock()
	// Before the waiters answer, so that a scrape's answer never precedes its log line.
	if err != nil && req.OnFailure != nil && (!abandoned || errors.As(err, new(*client.AuthError))) {
		req.OnFailure(err)
	}
	if !abandoned && inventory.quotaErr != nil && req.OnQuotaFailure != nil && !sameCause(err, inventory.quotaErr) {
		req.OnQuotaFailure(inventory.quotaErr)
	}
	if !abandoned && inventory.serverErr != nil && req.OnServerFailure != nil && !sameCause(err, inventory.serverErr) {
		req.OnServerFailure(inventory.serverErr)
	}
	if inventory.projectErr != nil && req.OnProjectFailure != nil && !sameCause(err, inventory.projectErr) {
		req.OnProjectFailure(inventory.projectErr)
	}
	f.inventory, f.err = inventory, err
	flightHold.release() // before the waiters, each holding its own, can let go of theirs
	close(f.done)
}

// cachingLocked reports whether the listings are cached and go on in the background: with a
// TTL, until Close.
func (l *Listings) cachingLocked() bool { return l.ttl > 0 && !l.closed }

// Close stops the listings that go on in the background with no scrape waiting for them,
// and drops the cached ones and the project names kept; from then on the listings are
// those of Listings without a TTL. A reload closes the Listings of a cloud it changed or
// removed: no scrape asks for their listings again, which would send the old credentials
// to the old endpoints for as long as the timeout, in a slot, and hold their memory until
// they expire (the names for projectKeep).
func (l *Listings) Close() {
	l.mu.Lock()
	l.closed = true
	for key, f := range l.flights {
		if f.waiters == 0 {
			delete(l.flights, key)
			f.stop()
		}
	}
	l.mu.Unlock()
	l.memory.forget(l)
	if l.projects != nil {
		l.projects.close()
	}
}

// leave takes the scrape whose ctx ended off the flight's waiters. Without a TTL it stops
// the listing if the scrape was the last; with one the listing goes on (PendingError), in
// the background once the last scrape left, if it finds room there, else it is stopped
// as without a TTL.
func (l *Listings) leave(ctx context.Context, key string, f *flight) (Inventory, error) {
	l.mu.Lock()
	if f.finished { // the listing ended at the same moment: take its outcome, given this scrape
		l.mu.Unlock()
		<-f.done
		return f.inventory, f.err
	}
	defer l.mu.Unlock()
	f.waiters--
	if l.cachingLocked() && f.goesOnLocked() {
		first := !f.outlasted && errors.Is(ctx.Err(), context.DeadlineExceeded)
		f.outlasted = f.outlasted || first
		return Inventory{}, &PendingError{Err: ctx.Err(), Running: time.Since(f.started), First: first}
	}
	if f.waiters == 0 {
		if l.flights[key] == f {
			delete(l.flights, key)
		}
		f.stop()
	}
	return Inventory{}, &WaitError{Err: ctx.Err(), Others: f.waiters, Crowded: l.cachingLocked()}
}

// goesOnLocked reports whether the listing may go on with the scrapes left waiting for it:
// some are, or it has room in the background, which it keeps until it ends.
func (f *flight) goesOnLocked() bool {
	if f.waiters == 0 && !f.background {
		f.background = f.slots.tryBackground()
	}
	return f.waiters > 0 || f.background
}

// PendingError says, with a TTL, that a scrape stopped waiting for the listing in flight,
// which goes on in the background for the scrapes after it.
type PendingError struct {
	Err     error         // the scrape's context error
	Running time.Duration // how long the listing has run
	// First is set for the first scrape whose deadline the listing outlasted: the one that
	// logs it.
	First bool
}

// Error says that the listing goes on, and how long it has run.
func (e *PendingError) Error() string {
	return fmt.Sprintf("the listing had run for %s; it goes on for at most --listings.timeout: %v", e.Running.Round(time.Millisecond), e.Err)
}

// Unwrap returns the scrape's context error.
func (e *PendingError) Unwrap() error { return e.Err }

// LastFailureError is what a scrape is answered from the cache, with a TTL, when the last
// listing of its selection failed: that failure, reported when it happened, while the next
// listing runs.
type LastFailureError struct {
	Err error         // why the last listing failed
	Age time.Duration // how long ago it failed
}

// Error says that the last listing failed, and how long ago.
func (e *LastFailureError) Error() string {
	return fmt.Sprintf("the last listing failed %s ago, and the next one runs: %v", e.Age.Round(time.Second), e.Err)
}

// Unwrap returns why the last listing failed.
func (e *LastFailureError) Unwrap() error { return e.Err }

// accepted reports whether the cloud accepted the credentials of a listing that ended with
// err: it succeeded, or handed over images before failing.
func accepted(inventory Inventory, err error) bool {
	return err == nil || inventory.listed > 0
}

// list lists the images of req's selection, counting each and keeping those that req's
// exports export, charged to charge, and, when they are on, asks for the quotas, the
// project names and the servers too, with the listing's credentials once the cloud has
// accepted them (accepted): never when it refused them.
func (l *Listings) list(ctx context.Context, req ListingRequest, deadline time.Time, charge *charge) (Inventory, error) {
	inventory := Inventory{charge: charge, tally: exposition.NewTally(l.projectMetrics)}
	if l.servers != nil {
		inventory.tally.WithSnapshots()
	}
	start := time.Now()
	quotas, projects, servers := l.quotaRequest(), l.projectRead(), l.serverRequest()
	send := func() {
		quotas.send(ctx)
		projects.send(ctx)
		servers.send(ctx)
	}
	err := l.lister.EachImage(ctx, req.Selection.ListOptions(time.Now()), func(img client.Image) error {
		err := inventory.add(img, req.Exports)
		if err == nil || errors.Is(err, client.ErrDropped) {
			send()
		}
		return err
	})
	if err == nil {
		send()
	}
	wait := quotaWait(time.Since(start), deadline)
	inventory.Quotas, inventory.quotaErr = quotas.wait(wait)
	inventory.projectErr = projects.wait(wait)
	checkOrphans(&inventory, servers, wait)
	if err == nil && l.projects != nil {
		inventory.projectErr = alsoFailed(inventory.projectErr, l.nameOwners(&inventory))
	}
	inventory.At = time.Now()
	return inventory, err
}

// projectRead is the read of the project names beside a listing, not sent yet; nil when
// project names are off.
func (l *Listings) projectRead() *projectRead {
	if l.projects == nil {
		return nil
	}
	return newProjectRead(l.projects, l.memory)
}

// quotaRequest is the quota request of a listing, not sent yet; nil when quotas are off.
func (l *Listings) quotaRequest() *quotaRequest {
	if l.quotas == nil {
		return nil
	}
	return newQuotaRequest(l.quotas, l.quotaRefusals)
}

// nameOwners sets the inventory's Projects, the names kept of its owners, charged to it;
// names that do not fit are left out, which costs only nova_project_info.
func (l *Listings) nameOwners(inventory *Inventory) error {
	projects := l.projects.named(inventory.Owners())
	var n int64
	for _, project := range projects {
		n += projectBytes + int64(len(project.ID)+len(project.Name)+len(project.DomainID))
	}
	if err := inventory.charge.add(n); err != nil {
		return fmt.Errorf("the names of the listing's %d owners (nova_project_info) were left out: %w", len(projects), err)
	}
	inventory.Projects = projects
	return nil
}

// alsoFailed is err, and then next, in one error; either may be nil.
func alsoFailed(err, next error) error {
	if err == nil || next == nil {
		return cmp.Or(err, next)
	}
	return fmt.Errorf("%w; %w", err, next)
}

// orphansNotRead is what a scrape that sent no server listing says of the orphans:
// nova_image_servers_up 0 where orphaned snapshots are on.
func (l *Listings) orphansNotRead() *exposition.Orphans {
	if l.servers == nil {
		return nil
	}
	return &exposition.Orphans{}
}

// serverRequest is the server listing of a listing, not sent yet; nil when orphaned
// snapshots are off.
func (l *Listings) serverRequest() *serverRequest {
	if l.servers == nil {
		return nil
	}
	return newServerRequest(l.servers, l.serverRefusals)
}
