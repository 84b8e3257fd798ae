package collector

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/collector/exposition"
)

// Bounds of the back-off on refused credentials (README, "Refused credentials"): Keystone
// locks a user, and Huawei's gateway an access key, after a few refusals in a row.
const (
	// firstBackoff is how long credentials the cloud refused are not sent again.
	firstBackoff = time.Minute
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

// authBackoffDesc describes nova_image_exporter_auth_backoff_seconds.
var authBackoffDesc = prometheus.NewDesc(
	prometheus.BuildFQName(exposition.Namespace, ExporterSubsystem, "auth_backoff_seconds"),
	"Seconds until the exporter sends the cloud's credentials again, after the cloud refused them (nova_image_exporter_auth_failures_total); meanwhile its scrapes answer nova_up 0 without a request. 0 when not backing off.",
	[]string{"cloud"}, nil)

// authBackoffCollector exports the back-off of each configured cloud, read at every
// scrape: a cloud a reload removes loses its series.
type authBackoffCollector struct {
	targets func() []Target
}

// NewAuthBackoffCollector returns the collector of nova_image_exporter_auth_backoff_seconds
// for the clouds targets lists at each scrape.
func NewAuthBackoffCollector(targets func() []Target) prometheus.Collector {
	return authBackoffCollector{targets: targets}
}

// Describe sends the one family's description.
func (c authBackoffCollector) Describe(ch chan<- *prometheus.Desc) { ch <- authBackoffDesc }

// Collect sends each cloud's back-off.
func (c authBackoffCollector) Collect(ch chan<- prometheus.Metric) {
	for _, target := range c.targets() {
		ch <- prometheus.MustNewConstMetric(authBackoffDesc, prometheus.GaugeValue, target.Listings.AuthBackoff().Seconds(), target.Cloud)
	}
}

// accepted reports whether the cloud accepted the credentials of a listing that ended with
// err: it succeeded, or handed over images before failing.
func accepted(inventory Inventory, err error) bool {
	return err == nil || inventory.Len() > 0
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
