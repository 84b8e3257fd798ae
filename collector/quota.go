package collector

import (
	"context"
	"errors"
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

// quotaRequest is a quota request beside a listing.
type quotaRequest struct {
	besideRequest[[]client.Quota]
}

// newQuotaRequest is the request of source's quotas, held back by backoff.
func newQuotaRequest(source client.QuotaSource, backoff *backoff) *quotaRequest {
	return &quotaRequest{besideRequest[[]client.Quota]{what: "the quota request", ended: "listing",
		backoff: backoff, call: source.Quotas}}
}

// send starts the quota request (besideRequest.send); nil when quotas are off.
func (q *quotaRequest) send(ctx context.Context) {
	if q != nil {
		q.besideRequest.send(ctx)
	}
}

// wait returns what the quota request found, abandoning it after waiting for it so long;
// nil when quotas are off, and nova_image_quota_up 0 without an error when it was not
// sent.
func (q *quotaRequest) wait(wait time.Duration) (*exposition.Quotas, error) {
	if q == nil {
		return nil, nil
	}
	quotas, err, sent := q.besideRequest.wait(wait)
	if !sent {
		return &exposition.Quotas{}, nil
	}
	return &exposition.Quotas{Up: q.err == nil, Quotas: quotas}, err
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
