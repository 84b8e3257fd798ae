package collector

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/internal/testlog"
	"github.com/nova-image-exporter/nova_image_exporter/simulator/simtest"
)

// refusedCloud is a cloud whose listings fail with refusal (nil: succeed), and whose back-off
// runs on clock.
type refusedCloud struct {
	lister *fakeLister
	quotas *fakeQuotas
	shared *Listings
	clock  *simtest.Clock
	logs   bytes.Buffer
	h      *Handler
}

func newRefusedCloud(metrics *ExporterMetrics) *refusedCloud {
	c := &refusedCloud{
		lister: &fakeLister{images: testImages, err: &client.AuthError{Err: errors.New("HTTP 401 Unauthorized")}},
		quotas: &fakeQuotas{quotas: glanceQuotas},
		clock:  simtest.NewClock(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)),
	}
	c.shared = NewListings(c.lister, 0).WithQuotas(c.quotas)
	c.shared.refusals.now, c.shared.quotaRefusals.now = c.clock.Now, c.clock.Now
	c.h = &Handler{Resolve: StaticTarget(Target{Cloud: "c1", Listings: c.shared}), Metrics: metrics,
		Timeouts: ScrapeTimeouts{Default: time.Second}, Logger: level.NewFilter(log.NewLogfmtLogger(&c.logs), level.AllowInfo())}
	return c
}

// scrape scrapes the cloud and returns nova_up, nova_image_quota_up and the lines logged.
func (c *refusedCloud) scrape(t *testing.T) (up, quotaUp float64, lines []string) {
	t.Helper()
	c.logs.Reset()
	served := scrapeText(t, c.h)
	families, err := served.Gather()
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]float64{}
	for _, mf := range families {
		if len(mf.GetMetric()) == 1 {
			values[mf.GetName()] = mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	if text := strings.TrimSpace(c.logs.String()); text != "" {
		lines = strings.Split(text, "\n")
	}
	return values["nova_up"], values["nova_image_quota_up"], lines
}

// TestRefusedCredentialsAreHeldBack: once the cloud refuses the credentials, scrapes answer
// nova_up 0 without a listing until the back-off has passed: 1 minute, doubling to 30, one
// log line per back-off; a listing the cloud accepts ends it.
func TestRefusedCredentialsAreHeldBack(t *testing.T) {
	c := newRefusedCloud(nil)
	refuse := func(wantWait time.Duration) {
		t.Helper()
		calls := c.lister.calls
		up, _, lines := c.scrape(t)
		if c.lister.calls != calls+1 || up != 0 || len(lines) != 1 ||
			!strings.Contains(lines[0], "not sending these credentials again for "+wantWait.String()+" (back-off)") {
			t.Fatalf("a refused listing: %d listings, nova_up %v, log %q; want one listing, nova_up 0 and one line with a back-off of %v",
				c.lister.calls-calls, up, lines, wantWait)
		}
		if left := c.shared.AuthBackoff(); left != wantWait {
			t.Errorf("AuthBackoff %v right after the refusal, want %v", left, wantWait)
		}
	}
	heldBack := func() {
		t.Helper()
		calls, quotaCalls := c.lister.calls, c.quotas.calls
		up, quotaUp, lines := c.scrape(t)
		if c.lister.calls != calls || c.quotas.calls != quotaCalls || up != 0 || quotaUp != 0 || len(lines) != 0 {
			t.Fatalf("a scrape in the back-off: %d listings, %d quota requests, nova_up %v, quota_up %v, log %q; want none, 0, 0, no line",
				c.lister.calls-calls, c.quotas.calls-quotaCalls, up, quotaUp, lines)
		}
	}

	refuse(time.Minute)
	for range 5 {
		c.clock.Advance(10 * time.Second)
		heldBack()
	}
	if left := c.shared.AuthBackoff(); left != 10*time.Second {
		t.Errorf("AuthBackoff %v 50s into a back-off of 1m, want 10s", left)
	}
	c.clock.Advance(10 * time.Second)
	refuse(2 * time.Minute)
	for _, wait := range []time.Duration{4, 8, 16, 30, 30} {
		c.clock.Advance(c.shared.AuthBackoff() - time.Second)
		heldBack()
		c.clock.Advance(time.Second)
		refuse(wait * time.Minute)
	}
	if c.quotas.calls != 0 {
		t.Errorf("%d quota requests beside refused listings, want none", c.quotas.calls)
	}

	// Accepted: the back-off ends, and the next refusal starts again at 1 minute.
	c.clock.Advance(30 * time.Minute)
	c.lister.err = nil
	if up, quotaUp, lines := c.scrape(t); up != 1 || quotaUp != 1 || len(lines) != 0 || c.shared.AuthBackoff() != 0 {
		t.Fatalf("an accepted listing: nova_up %v, quota_up %v, log %q, back-off %v; want 1, 1, none, 0", up, quotaUp, lines, c.shared.AuthBackoff())
	}
	c.lister.err = &client.AuthError{Err: errors.New("HTTP 401 Unauthorized")}
	refuse(time.Minute)
}

// Two listings admitted before a refusal (two selections at once) double the back-off
// once, not twice; what an older listing found changes nothing once a later refusal came.
func TestRefusalsOfListingsInFlightCountOnce(t *testing.T) {
	clock := simtest.NewClock(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	b := newBackoff(clock.Now)
	first, _ := b.admit()
	second, _ := b.admit()
	refusal := &client.AuthError{Err: errors.New("HTTP 401")}
	b.done(first, refusal, false)
	b.done(second, refusal, false)
	if b.left() != time.Minute {
		t.Errorf("back-off %v after two refusals of listings in flight together, want 1m", b.left())
	}
	b.done(first, nil, true)
	if b.left() != time.Minute {
		t.Errorf("back-off %v after an older listing succeeded, want it unchanged", b.left())
	}
	if _, err := b.admit(); !errors.As(err, new(*BackoffError)) || !strings.Contains(err.Error(), "held back for another 1m0s") {
		t.Errorf("admit during the back-off: %v, want a BackoffError saying how long", err)
	}
}

// A refusal is counted once, in nova_image_exporter_auth_failures_total; the scrapes of its
// back-off count nothing.
func TestBackoffScrapesCountNoFailure(t *testing.T) {
	own := prometheus.NewRegistry()
	metrics := NewExporterMetrics(own)
	metrics.InitCloud("c1")
	c := newRefusedCloud(metrics)
	for range 3 {
		c.scrape(t)
	}
	if v := testutil.ToFloat64(metrics.authFailures.WithLabelValues("c1")); v != 1 {
		t.Errorf("auth failures %v after a refusal and two scrapes in its back-off, want 1", v)
	}
}

// The quota endpoint refusing the listing's credential (401) holds back the quota request
// alone: counted as an auth failure, one line per back-off, and the listing goes on.
func TestRefusedQuotaRequestIsHeldBack(t *testing.T) {
	own := prometheus.NewRegistry()
	metrics := NewExporterMetrics(own)
	metrics.InitCloud("c1")
	c := newRefusedCloud(metrics)
	c.lister.err = nil
	c.quotas.err = &client.AuthError{Err: errors.New("GET /v2/info/usage: HTTP 401")}
	up, quotaUp, lines := c.scrape(t)
	if up != 1 || quotaUp != 0 || len(lines) != 1 || !strings.Contains(lines[0], "image quota request failed") ||
		!strings.Contains(lines[0], "for 1m0s (back-off)") {
		t.Fatalf("quota refused: nova_up %v, quota_up %v, log %q", up, quotaUp, lines)
	}
	for range 3 {
		c.clock.Advance(10 * time.Second)
		up, quotaUp, lines = c.scrape(t)
		if up != 1 || quotaUp != 0 || len(lines) != 0 || c.quotas.calls != 1 {
			t.Fatalf("in the quota's back-off: nova_up %v, quota_up %v, log %q, %d quota requests; want 1, 0, none, 1", up, quotaUp, lines, c.quotas.calls)
		}
	}
	if v := testutil.ToFloat64(metrics.authFailures.WithLabelValues("c1")); v != 1 {
		t.Errorf("auth failures %v, want the quota endpoint's one refusal", v)
	}
	if c.shared.AuthBackoff() != 0 {
		t.Errorf("the cloud's back-off is %v: a refused quota request holds back only itself", c.shared.AuthBackoff())
	}
	c.clock.Advance(30 * time.Second)
	c.quotas.err = nil
	if _, quotaUp, _ := c.scrape(t); quotaUp != 1 || c.quotas.calls != 2 {
		t.Errorf("after the quota's back-off: quota_up %v after %d requests, want 1 after 2", quotaUp, c.quotas.calls)
	}
}

func TestAuthBackoffGauge(t *testing.T) {
	refused, fine := newRefusedCloud(nil), newRefusedCloud(nil)
	fine.lister.err = nil
	refused.scrape(t)
	fine.scrape(t)
	refused.clock.Advance(15 * time.Second)
	targets := []Target{{Cloud: "refused", Listings: refused.shared}, {Cloud: "fine", Listings: fine.shared}}
	c := NewAuthBackoffCollector(func() []Target { return targets })
	const want = `
# HELP nova_image_exporter_auth_backoff_seconds Seconds until the exporter sends the cloud's credentials again, after the cloud refused them (nova_image_exporter_auth_failures_total); meanwhile its scrapes answer nova_up 0 without a request. 0 when not backing off.
# TYPE nova_image_exporter_auth_backoff_seconds gauge
nova_image_exporter_auth_backoff_seconds{cloud="fine"} 0
nova_image_exporter_auth_backoff_seconds{cloud="refused"} 45
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	targets = targets[1:] // a reload removed "refused"
	if n := testutil.CollectAndCount(c); n != 1 {
		t.Errorf("%d series once a cloud is removed, want 1", n)
	}
}

// halfLister hands over its images, then fails with err: a listing the cloud accepted.
type halfLister struct {
	images []client.Image
	err    error
}

func (h *halfLister) EachImage(_ context.Context, _ client.ListOptions, fn func(client.Image) error) error {
	for _, img := range h.images {
		if err := hand(fn, img); err != nil {
			return err
		}
	}
	return h.err
}

// The quota request goes with the listing's credentials once the cloud accepted them: a
// listing that fails before its first image sends none (and its failure is the one line),
// one that fails later still tells what the quota request found.
func TestQuotaRequestWaitsForTheListingsCredentials(t *testing.T) {
	var logs bytes.Buffer
	quotas := &fakeQuotas{quotas: glanceQuotas}
	h := quotaHandler(&fakeLister{err: &client.IdentityError{Err: errors.New("dial tcp 127.0.0.1:5000: connect: connection refused")}}, quotas, &logs)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if body := rec.Body.String(); quotas.calls != 0 || !strings.Contains(body, "\nnova_image_quota_up 0\n") ||
		strings.Count(logs.String(), "\n") != 1 || !strings.Contains(logs.String(), "listing images failed") {
		t.Errorf("Keystone out of reach: %d quota requests, log %q, answer:\n%s\nwant none, the listing's one line, nova_image_quota_up 0", quotas.calls, logs.String(), body)
	}

	logs.Reset()
	h = quotaHandler(&halfLister{images: testImages[:1], err: errors.New("page 2: HTTP 503")}, quotas, &logs)
	served := scrapeText(t, h)
	if n, _ := testutil.GatherAndCount(served, "nova_image_quota_usage"); quotas.calls != 1 || n != 2 {
		t.Errorf("a listing failing after its first page: %d quota requests, %d usage samples; want 1 and 2", quotas.calls, n)
	}
}

// hangingLister hands over one image, then waits for its context to end.
type hangingLister struct{}

func (hangingLister) EachImage(ctx context.Context, _ client.ListOptions, fn func(client.Image) error) error {
	if err := hand(fn, testImages[0]); err != nil {
		return err
	}
	<-ctx.Done()
	return ctx.Err()
}

// A listing and its quota request cut short by the listing's own deadline are one failure,
// one line; a quota failure of its own (an answer) keeps its line beside a failed listing.
func TestOneFailureOneLine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var listingFailures, quotaFailures []error
		shared := NewListings(hangingLister{}, 0).WithQuotas(hangingQuotas{})
		_, err := shared.Inventory(context.Background(), ListingRequest{MaxDuration: time.Second,
			OnFailure:      func(err error) { listingFailures = append(listingFailures, err) },
			OnQuotaFailure: func(err error) { quotaFailures = append(quotaFailures, err) },
		})
		if !errors.Is(err, context.DeadlineExceeded) || len(listingFailures) != 1 || len(quotaFailures) != 0 {
			t.Errorf("a listing and its quota request cut by the listing's deadline: %v; reported %v and %v, want the listing's failure alone",
				err, listingFailures, quotaFailures)
		}
	})

	var logs bytes.Buffer
	forbidden := &fakeQuotas{err: errors.New("GET /v1/cloudimages/quota: HTTP 403 IMG.0004: no permission")}
	scrapeText(t, quotaHandler(&halfLister{images: testImages[:1], err: errors.New("page 2: HTTP 503")}, forbidden, &logs))
	if text := logs.String(); strings.Count(text, "\n") != 2 || !strings.Contains(text, "IMG.0004") || !strings.Contains(text, "HTTP 503") {
		t.Errorf("a failed listing beside a quota request refused on its own: log %q, want both lines", text)
	}
}

// refusingLate refuses the credentials only once its listing is stopped, as Keystone's
// answer to a renewal (sent detached from the listing) can arrive after the last scrape
// waiting for the listing has left.
type refusingLate struct{}

func (refusingLate) EachImage(ctx context.Context, _ client.ListOptions, _ func(client.Image) error) error {
	<-ctx.Done()
	return &client.AuthError{Err: errors.New("HTTP 401 Unauthorized")}
}

// A refusal that arrives after every scrape left its listing starts a back-off, and so is
// reported all the same: counted in auth_failures_total and logged once. Before, the
// back-off started unreported (nova_up 0 at every scrape, with a debug line only).
func TestARefusalAfterTheScrapeLeftIsReported(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		own := prometheus.NewRegistry()
		metrics := NewExporterMetrics(own)
		metrics.InitCloud("c1")
		var logs testlog.Buffer
		shared := NewListings(refusingLate{}, 0)
		h := &Handler{Resolve: StaticTarget(Target{Cloud: "c1", Listings: shared}), Metrics: metrics,
			Timeouts: ScrapeTimeouts{Default: time.Second}, Logger: log.NewLogfmtLogger(&logs)}
		scrapeText(t, h)
		synctest.Wait()
		if v := testutil.ToFloat64(metrics.authFailures.WithLabelValues("c1")); v != 1 || shared.AuthBackoff() <= 0 {
			t.Errorf("auth failures %v, back-off %v; want the refusal counted once, and the back-off", v, shared.AuthBackoff())
		}
		if n := strings.Count(logs.String(), "authentication failed"); n != 1 {
			t.Errorf("%d lines say authentication failed, want 1:\n%s", n, logs.String())
		}
	})
}
