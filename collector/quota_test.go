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
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/nova-image-exporter/nova_image_exporter/client"
)

// fakeQuotas answers quotas, or err, and counts the requests.
type fakeQuotas struct {
	quotas []client.Quota
	err    error
	calls  int
}

func (f *fakeQuotas) Quotas(context.Context) ([]client.Quota, error) {
	f.calls++
	return f.quotas, f.err
}

// glanceQuotas are the four quotas of a Glance with unified limits, one unlimited.
var glanceQuotas = []client.Quota{
	{Resource: "image_count_total", Limit: 100, Usage: 4},
	{Resource: "image_count_uploading", Unlimited: true, Usage: 1},
	{Resource: "image_size_total", Bytes: true, Limit: 1000 << 20, Usage: 210 << 20},
	{Resource: "image_stage_total", Bytes: true, Limit: 500 << 20, Usage: 0},
}

var quotaMetricNames = []string{"nova_up", "nova_image_quota_up", "nova_image_quota_limit", "nova_image_quota_usage",
	"nova_image_quota_limit_bytes", "nova_image_quota_usage_bytes"}

func quotaHandler(lister client.ImageSource, quotas client.QuotaSource, logs *bytes.Buffer) *Handler {
	shared := NewListings(lister, 0)
	if quotas != nil {
		shared.WithQuotas(quotas)
	}
	return &Handler{Resolve: StaticTarget(Target{Cloud: "c1", Listings: shared}),
		Timeouts: ScrapeTimeouts{Default: time.Second}, Logger: log.NewLogfmtLogger(logs)}
}

func TestQuotasBesideTheListing(t *testing.T) {
	var logs bytes.Buffer
	quotas := &fakeQuotas{quotas: glanceQuotas}
	h := quotaHandler(&fakeLister{images: testImages}, quotas, &logs)
	const want = `
# HELP nova_image_quota_limit Limit of an image quota that counts (Glance's image_count_total, image_count_uploading; IMS's image, image_shared, image_member); absent when unlimited.
# TYPE nova_image_quota_limit gauge
nova_image_quota_limit{resource="image_count_total"} 100
# HELP nova_image_quota_limit_bytes Limit of an image quota on sizes, in bytes (Glance's image_size_total, image_stage_total, which Glance reports in MiB); absent when unlimited.
# TYPE nova_image_quota_limit_bytes gauge
nova_image_quota_limit_bytes{resource="image_size_total"} 1.048576e+09
nova_image_quota_limit_bytes{resource="image_stage_total"} 5.24288e+08
# HELP nova_image_quota_up 1 if this listing's image quota request (Glance's /v2/info/usage, IMS's /v1/cloudimages/quota) succeeded, else 0; absent where quotas are off for the cloud (image_api nova, image_quota: false, --no-images.quota).
# TYPE nova_image_quota_up gauge
nova_image_quota_up 1
# HELP nova_image_quota_usage What is used of an image quota that counts, by the API's name of the resource.
# TYPE nova_image_quota_usage gauge
nova_image_quota_usage{resource="image_count_total"} 4
nova_image_quota_usage{resource="image_count_uploading"} 1
# HELP nova_image_quota_usage_bytes What is used of an image quota on sizes, in bytes.
# TYPE nova_image_quota_usage_bytes gauge
nova_image_quota_usage_bytes{resource="image_size_total"} 2.2020096e+08
nova_image_quota_usage_bytes{resource="image_stage_total"} 0
# HELP nova_up 1 if this scrape's listing of images (Nova's images/detail, Glance's /v2/images or IMS's /v2/cloudimages) succeeded, else 0.
# TYPE nova_up gauge
nova_up 1
`
	if err := testutil.GatherAndCompare(scrapeText(t, h), strings.NewReader(want), quotaMetricNames...); err != nil {
		t.Error(err)
	}
	// Gzipped scrapes of one listing share its rendering, quotas included.
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || quotas.calls != 2 {
		t.Errorf("gzip scrape: %d, %d quota requests for 2 listings", rec.Code, quotas.calls)
	}
	if logs.Len() != 0 {
		t.Errorf("log lines for a good scrape: %s", logs.String())
	}
}

// A failed quota request costs only the quota samples: nova_up stays the listing's, and
// the failure is one log line and nova_image_quota_up 0.
func TestFailedQuotaRequestLeavesTheListing(t *testing.T) {
	var logs bytes.Buffer
	h := quotaHandler(&fakeLister{images: testImages}, &fakeQuotas{err: errors.New("GET https://ims/v1/cloudimages/quota: HTTP 403 IMG.0004: no permission")}, &logs)
	const want = `
# HELP nova_image_quota_up 1 if this listing's image quota request (Glance's /v2/info/usage, IMS's /v1/cloudimages/quota) succeeded, else 0; absent where quotas are off for the cloud (image_api nova, image_quota: false, --no-images.quota).
# TYPE nova_image_quota_up gauge
nova_image_quota_up 0
# HELP nova_up 1 if this scrape's listing of images (Nova's images/detail, Glance's /v2/images or IMS's /v2/cloudimages) succeeded, else 0.
# TYPE nova_up gauge
nova_up 1
`
	served := scrapeText(t, h)
	if err := testutil.GatherAndCompare(served, strings.NewReader(want), quotaMetricNames...); err != nil {
		t.Error(err)
	}
	if n, _ := testutil.GatherAndCount(served, "nova_image_status"); n != 4 {
		t.Errorf("%d images exported beside a failed quota request, want 4", n)
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], "level=error") || !strings.Contains(lines[0], "IMG.0004") {
		t.Errorf("log lines %q, want one error line naming the quota failure", lines)
	}

	// The other way round: a listing that fails once the cloud accepted its credentials still
	// tells what the quota request found.
	logs.Reset()
	h = quotaHandler(&halfLister{images: testImages[:1], err: errors.New("HTTP 503")}, &fakeQuotas{quotas: glanceQuotas[:1]}, &logs)
	const wantDown = `
# HELP nova_image_quota_limit Limit of an image quota that counts (Glance's image_count_total, image_count_uploading; IMS's image, image_shared, image_member); absent when unlimited.
# TYPE nova_image_quota_limit gauge
nova_image_quota_limit{resource="image_count_total"} 100
# HELP nova_image_quota_up 1 if this listing's image quota request (Glance's /v2/info/usage, IMS's /v1/cloudimages/quota) succeeded, else 0; absent where quotas are off for the cloud (image_api nova, image_quota: false, --no-images.quota).
# TYPE nova_image_quota_up gauge
nova_image_quota_up 1
# HELP nova_image_quota_usage What is used of an image quota that counts, by the API's name of the resource.
# TYPE nova_image_quota_usage gauge
nova_image_quota_usage{resource="image_count_total"} 4
# HELP nova_up 1 if this scrape's listing of images (Nova's images/detail, Glance's /v2/images or IMS's /v2/cloudimages) succeeded, else 0.
# TYPE nova_up gauge
nova_up 0
`
	if err := testutil.GatherAndCompare(scrapeText(t, h), strings.NewReader(wantDown), quotaMetricNames...); err != nil {
		t.Error(err)
	}
}

// Quotas off: no quota family at all, and no request.
func TestQuotasOff(t *testing.T) {
	var logs bytes.Buffer
	served := scrapeText(t, quotaHandler(&fakeLister{images: testImages}, nil, &logs))
	if n, _ := testutil.GatherAndCount(served, quotaMetricNames[1:]...); n != 0 {
		t.Errorf("%d quota samples with quotas off, want none", n)
	}
}

// hangingQuotas never answers until its request is abandoned.
type hangingQuotas struct{}

func (hangingQuotas) Quotas(ctx context.Context) ([]client.Quota, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// A quota endpoint that hangs costs the quota samples, a second after the listing ended,
// never the listing: a scrape with a short deadline still gets nova_up 1.
func TestHangingQuotaRequestIsAbandoned(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs bytes.Buffer
		h := quotaHandler(&fakeLister{images: testImages}, hangingQuotas{}, &logs)
		h.Timeouts.Default = time.Minute
		start := time.Now()
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "10")
		h.ServeHTTP(rec, req)
		body := rec.Body.String()
		if !strings.Contains(body, "\nnova_up 1\n") || !strings.Contains(body, "\nnova_image_quota_up 0\n") {
			t.Errorf("answer without nova_up 1 and nova_image_quota_up 0:\n%s", body)
		}
		if took := time.Since(start); took != quotaGrace {
			t.Errorf("the scrape took %v, want the quota grace of %v", took, quotaGrace)
		}
		if !strings.Contains(logs.String(), "the quota request was abandoned "+quotaGrace.String()+" after the listing ended") {
			t.Errorf("log %q, want the abandoned quota request", logs.String())
		}
	})
}

// lateLister lists images after taking took.
type lateLister struct {
	fakeLister
	took time.Duration
}

func (s *lateLister) EachImage(ctx context.Context, opts client.ListOptions, fn func(client.Image) error) error {
	select {
	case <-time.After(s.took):
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.fakeLister.EachImage(ctx, opts, fn)
}

// The quota request's grace after a long listing ends before the scrape's deadline: a
// hanging quota endpoint never costs a listing that finished in time.
func TestQuotaGraceEndsBeforeTheScrapeDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs bytes.Buffer
		h := quotaHandler(&lateLister{fakeLister: fakeLister{images: testImages}, took: 6 * time.Second}, hangingQuotas{}, &logs)
		h.Timeouts.Default = time.Minute
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "10")
		h.ServeHTTP(rec, req)
		body := rec.Body.String()
		if !strings.Contains(body, "\nnova_up 1\n") || !strings.Contains(body, "\nnova_image_quota_up 0\n") {
			t.Errorf("a listing of 6s in a 10s scrape, its quota request hanging: answer without nova_up 1 and nova_image_quota_up 0:\n%s\nlog: %s", body, logs.String())
		}
	})
}

// lastMomentQuotas answers its quotas just as its request is abandoned.
type lastMomentQuotas struct{}

func (lastMomentQuotas) Quotas(ctx context.Context) ([]client.Quota, error) {
	<-ctx.Done()
	return glanceQuotas, nil
}

// A quota request that succeeds as it is abandoned is a success: nova_image_quota_up 1 and
// no failure logged.
func TestQuotaRequestSucceedingAsItIsAbandoned(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs bytes.Buffer
		h := quotaHandler(&fakeLister{images: testImages}, lastMomentQuotas{}, &logs)
		h.Timeouts.Default = time.Minute
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		body := rec.Body.String()
		if !strings.Contains(body, "\nnova_image_quota_up 1\n") || logs.Len() != 0 {
			t.Errorf("log %q beside the answer:\n%s\nwant nova_image_quota_up 1 and no log line", logs.String(), body)
		}
	})
}
