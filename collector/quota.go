package collector

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/collector/exposition"
)

// quotaGrace is the least time a quota request may run past the end of its listing. A real
// Glance's /v2/info/usage asks Keystone for each limit and registered limit, and took over a
// second on the realstack (Zed) while the listing of a few images took less.
const quotaGrace = 5 * time.Second

// quotaWait is how long a quota request may run past the end of a listing that took took:
// quotaGrace, or as long again as the listing took if longer, but no more than half the
// time left before deadline (the starting scrape's; zero for none). A hanging quota
// endpoint then costs the quota samples, never the listing.
func quotaWait(took time.Duration, deadline time.Time) time.Duration {
	wait := max(quotaGrace, took)
	if !deadline.IsZero() {
		wait = max(0, min(wait, time.Until(deadline)/2))
	}
	return wait
}

// quotaRequest is a quota request beside a listing, sent once the listing's credentials
// were accepted.
type quotaRequest struct {
	source  client.QuotaSource
	backoff *backoff
	ticket  int
	sent    bool          // send was called, whether or not the back-off let the request go
	done    chan struct{} // nil: not sent; closed when quotas and err are set
	cancel  context.CancelFunc
	quotas  []client.Quota
	err     error
}

// send starts the quota request under ctx, unless it was sent or its endpoint refused the
// credentials and their back-off lasts. The listing calls it, from its own goroutine, once
// the cloud has accepted its credentials.
func (q *quotaRequest) send(ctx context.Context) {
	if q == nil || q.sent {
		return
	}
	q.sent = true
	ticket, err := q.backoff.admit()
	if err != nil {
		return
	}
	ctx, q.cancel = context.WithCancel(ctx)
	q.ticket, q.done = ticket, make(chan struct{})
	go func() {
		defer close(q.done)
		q.quotas, q.err = q.source.Quotas(ctx)
	}()
}

// wait returns what the quota request found, abandoning it after waiting for it so long;
// nil when quotas are off, and nova_image_quota_up 0 without an error when it was not
// sent.
func (q *quotaRequest) wait(wait time.Duration) (*exposition.Quotas, error) {
	if q == nil {
		return nil, nil
	}
	if q.done == nil {
		return &exposition.Quotas{}, nil
	}
	defer q.cancel()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-q.done:
	case <-timer.C:
		q.cancel()
		<-q.done
		if q.err != nil { // not when it succeeded as it was abandoned
			q.err = fmt.Errorf("the quota request was abandoned %s after the listing ended: %w", wait.Round(time.Millisecond), q.err)
		}
	}
	return &exposition.Quotas{Up: q.err == nil, Quotas: q.quotas}, q.backoff.done(q.ticket, q.err, q.err == nil)
}

// sameCause reports whether a quota request failed for the reason its listing did (listErr;
// nil when the listing succeeded): neither got an answer, the listing's context having
// ended or the cloud being out of reach. Such a failure is the listing's to report.
func sameCause(listErr, quotaErr error) bool {
	if listErr == nil {
		return false
	}
	if errors.Is(quotaErr, context.Canceled) || errors.Is(quotaErr, context.DeadlineExceeded) {
		return true
	}
	var listNet, quotaNet net.Error
	return errors.As(listErr, &listNet) && errors.As(quotaErr, &quotaNet)
}
