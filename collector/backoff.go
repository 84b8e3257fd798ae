package collector

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nova-image-exporter/nova_image_exporter/client"
)

// Bounds of the back-off on refused credentials (README, "Refused credentials"): Keystone
// locks a user, and Huawei's gateway an access key, after a few refusals in a row.
const (
	// firstBackoff is how long credentials the cloud refused are not sent again: as long as
	// each authenticator holds them back from the listings already under way.
	firstBackoff = client.RefusalHold
	// maxBackoff bounds the back-off, which doubles with every refusal in a row.
	maxBackoff = 30 * time.Minute
)

// backoff holds back credentials the cloud refused: after a refusal (a client.AuthError)
// they are not sent until the back-off has passed, firstBackoff, doubling with each
// refusal in a row up to maxBackoff; a request the cloud accepts ends it. One guards a
// cloud's listings, another its quota request; both live as long as the cloud's built
// target, so that a reload that changes the cloud, or a restart, starts afresh.
type backoff struct {
	now func() time.Time

	mu      sync.Mutex
	wait    time.Duration // the back-off in force or last in force; 0: none since the last acceptance
	until   time.Time     // nothing is sent before then
	refusal error         // what started the back-off
	ticket  int           // refusals so far: an outcome counts only if none came since it started
}

func newBackoff(now func() time.Time) *backoff {
	return &backoff{now: now}
}

// BackoffError says that a request was not sent because the cloud refused the credentials
// and the back-off has not passed yet.
type BackoffError struct {
	Left    time.Duration
	Refusal error // the refusal that started the back-off
}

// Error says how long the back-off lasts and why.
func (e *BackoffError) Error() string {
	return fmt.Sprintf("not sent: the cloud refused the credentials, which are held back for another %s: %v", e.Left.Round(time.Second), e.Refusal)
}

// admit returns the ticket of a request about to be sent with the credentials, or a
// *BackoffError while the back-off lasts.
func (b *backoff) admit() (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if left := b.until.Sub(b.now()); left > 0 {
		return 0, &BackoffError{Left: left, Refusal: b.refusal}
	}
	return b.ticket, nil
}

// done takes the outcome of the request admitted with ticket: err a client.AuthError
// starts a back-off, doubling the last one, and comes back saying so; accepted (the cloud
// took the credentials) ends any back-off. An outcome that began before a later refusal
// was taken changes nothing.
func (b *backoff) done(ticket int, err error, accepted bool) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if ticket != b.ticket {
		return err
	}
	var authErr *client.AuthError
	switch {
	case errors.As(err, &authErr):
		b.wait = min(max(firstBackoff, 2*b.wait), maxBackoff)
		b.until, b.refusal, b.ticket = b.now().Add(b.wait), err, b.ticket+1
		return fmt.Errorf("%w; not sending these credentials again for %s (back-off)", err, b.wait)
	case accepted:
		b.wait, b.until, b.refusal = 0, time.Time{}, nil
	}
	return err
}

// left is how long the back-off still lasts; 0 when none is in force.
func (b *backoff) left() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return max(0, b.until.Sub(b.now()))
}

// besideRequest is one request beside a listing (the quotas, the project names, the
// servers): sent once, from the listing's goroutine, when the cloud has accepted the
// listing's credentials and the back-off lets it go; waited for, and abandoned, when the
// listing ends.
type besideRequest[T any] struct {
	// what names the request and ended what it runs beside, in the error of an abandoned one.
	what, ended string
	backoff     *backoff
	call        func(context.Context) (T, error)
	// due reports, once the back-off let the request go, whether it is to be sent; nil: it is.
	due    func() bool
	ticket int
	sent   bool          // send was called, whether or not the request went
	done   chan struct{} // nil: not sent; closed when result and err are set
	cancel context.CancelFunc
	result T
	err    error
}

// send starts the request under ctx, unless it was sent, the credentials' back-off lasts or
// it is not due. The listing calls it, from its own goroutine, once the cloud has accepted
// its credentials.
func (r *besideRequest[T]) send(ctx context.Context) {
	if r == nil || r.sent {
		return
	}
	r.sent = true
	ticket, err := r.backoff.admit()
	if err != nil || (r.due != nil && !r.due()) {
		return
	}
	ctx, r.cancel = context.WithCancel(ctx)
	r.ticket, r.done = ticket, make(chan struct{})
	go func() {
		defer close(r.done)
		r.result, r.err = r.call(ctx)
	}()
}

// wait returns what the request found, abandoning it after waiting for it so long, and the
// error to report as the back-off saw it; sent is false when no request went (then nothing
// else is set).
func (r *besideRequest[T]) wait(wait time.Duration) (result T, err error, sent bool) {
	if r.done == nil {
		return result, nil, false
	}
	defer r.cancel()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-r.done:
	case <-timer.C:
		r.cancel()
		<-r.done
		if r.err != nil { // not when it succeeded as it was abandoned
			r.err = fmt.Errorf("%s was abandoned %s after the %s ended: %w", r.what, wait.Round(time.Millisecond), r.ended, r.err)
		}
	}
	if r.err != nil {
		var none T
		r.result = none
	}
	return r.result, r.backoff.done(r.ticket, r.err, r.err == nil), true
}
