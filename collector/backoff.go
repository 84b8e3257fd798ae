package collector

import (
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
