package collector

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/nova-image-exporter/nova_image_exporter/client"
)

// fakeLister returns a fixed listing and records the options it was called with.
type fakeLister struct {
	images []client.Image
	err    error
	opts   client.ListOptions
	calls  int
}

func (f *fakeLister) EachImage(ctx context.Context, opts client.ListOptions, fn func(client.Image) error) error {
	f.calls++
	f.opts = opts
	if f.err != nil {
		return f.err
	}
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) <= 0 {
		return ctx.Err()
	}
	for _, img := range f.images {
		if err := hand(fn, img); err != nil {
			return err
		}
	}
	return nil
}

// hand hands img to fn as an image source does: an image fn drops (client.ErrDropped) is no
// error.
func hand(fn func(client.Image) error, img client.Image) error {
	if err := fn(img); !errors.Is(err, client.ErrDropped) {
		return err
	}
	return nil
}

var (
	created = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC).UnixMilli() // 1795773600
	updated = time.Date(2026, 11, 28, 10, 0, 0, 500e6, time.UTC).UnixMilli()
)

// testImages covers every kind of value: a full image, a snapshot, nulls, a non-ASCII name,
// a status outside the five, and the same id twice.
var testImages = []client.Image{
	{ID: "a1", Name: "cirros", Status: "ACTIVE", APIStatus: "active", Visibility: "public", Owner: "proj-a", Size: 4096, VirtualSize: 117440512,
		MinDisk: 1, MinRAM: 512, Progress: 100, Created: created, Updated: updated},
	{ID: "s1", Name: "Ubuntu 22.04 LTS – Ünïcödé 名前", Status: "SAVING", APIStatus: "queued", Size: 0, MinDisk: 0, MinRAM: 0, Progress: 25, Created: created, Missing: client.FieldVirtualSize | client.FieldUpdated},
	{ID: "n1", Status: "ACTIVE", Size: 2048, Created: created, Updated: updated,
		ServerID: "srv-1", Metadata: client.Metadata{{Key: "image_type", Value: "snapshot"}}, Missing: client.FieldVirtualSize | client.FieldMinDisk | client.FieldMinRAM | client.FieldProgress},
	{ID: "o1", Name: "odd", Status: "PENDING_UPLOAD", Missing: client.FieldSize | client.FieldVirtualSize | client.FieldMinDisk | client.FieldMinRAM | client.FieldProgress | client.FieldCreated | client.FieldUpdated},
	{ID: "a1", Name: "cirros", Status: "ACTIVE", Owner: "proj-a", Size: 4096, Missing: client.FieldVirtualSize | client.FieldMinDisk | client.FieldMinRAM | client.FieldProgress | client.FieldCreated | client.FieldUpdated},
}

const wantTestImages = `
# HELP nova_image_created_timestamp_seconds When the image was created (created), in Unix seconds.
# TYPE nova_image_created_timestamp_seconds gauge
nova_image_created_timestamp_seconds{id="a1",name="cirros"} 1.7957736e+09
nova_image_created_timestamp_seconds{id="n1",name=""} 1.7957736e+09
nova_image_created_timestamp_seconds{id="s1",name="Ubuntu 22.04 LTS – Ünïcödé 名前"} 1.7957736e+09
# HELP nova_image_info Always 1; server_id is the instance a snapshot was taken from, empty for other images; api_status is the status as the image API sent it (Glance's importing, which Nova calls UNKNOWN); visibility is public, private, shared or community, empty where the API has none (nova); owner is the id of the project that owns the image, empty where the API sends none (nova); metadata_* labels hold the image's metadata values (--images.metadata-label), empty when absent.
# TYPE nova_image_info gauge
nova_image_info{api_status="active",id="a1",metadata_image_type="",name="cirros",owner="proj-a",server_id="",visibility="public"} 1
nova_image_info{api_status="",id="n1",metadata_image_type="snapshot",name="",owner="",server_id="srv-1",visibility=""} 1
nova_image_info{api_status="",id="o1",metadata_image_type="",name="odd",owner="",server_id="",visibility=""} 1
nova_image_info{api_status="queued",id="s1",metadata_image_type="",name="Ubuntu 22.04 LTS – Ünïcödé 名前",owner="",server_id="",visibility=""} 1
# HELP nova_image_min_disk_bytes Minimum disk the image needs, in bytes (minDisk GiB × 2^30).
# TYPE nova_image_min_disk_bytes gauge
nova_image_min_disk_bytes{id="a1",name="cirros"} 1.073741824e+09
nova_image_min_disk_bytes{id="s1",name="Ubuntu 22.04 LTS – Ünïcödé 名前"} 0
# HELP nova_image_min_ram_bytes Minimum RAM the image needs, in bytes (minRam MiB × 2^20).
# TYPE nova_image_min_ram_bytes gauge
nova_image_min_ram_bytes{id="a1",name="cirros"} 5.36870912e+08
nova_image_min_ram_bytes{id="s1",name="Ubuntu 22.04 LTS – Ünïcödé 名前"} 0
# HELP nova_image_progress_ratio Upload progress of the image, 0 to 1 (progress percent / 100); for Glance and IMS derived from the status as Nova's proxy derives it (queued 0.25, saving 0.5, active 1, else 0).
# TYPE nova_image_progress_ratio gauge
nova_image_progress_ratio{id="a1",name="cirros"} 1
nova_image_progress_ratio{id="s1",name="Ubuntu 22.04 LTS – Ünïcödé 名前"} 0.25
# HELP nova_image_size_bytes Image size in bytes (Nova's OS-EXT-IMG-SIZE:size, Glance's size, IMS's __image_size; 0 or absent while the image holds no data).
# TYPE nova_image_size_bytes gauge
nova_image_size_bytes{id="a1",name="cirros"} 4096
nova_image_size_bytes{id="n1",name=""} 2048
nova_image_size_bytes{id="s1",name="Ubuntu 22.04 LTS – Ünïcödé 名前"} 0
# HELP nova_image_status Always 1, labelled with the image's current Nova status.
# TYPE nova_image_status gauge
nova_image_status{id="a1",name="cirros",status="ACTIVE"} 1
nova_image_status{id="n1",name="",status="ACTIVE"} 1
nova_image_status{id="o1",name="odd",status="PENDING_UPLOAD"} 1
nova_image_status{id="s1",name="Ubuntu 22.04 LTS – Ünïcödé 名前",status="SAVING"} 1
# HELP nova_image_updated_timestamp_seconds When the image was last updated (updated), in Unix seconds; absent when the API sends null.
# TYPE nova_image_updated_timestamp_seconds gauge
nova_image_updated_timestamp_seconds{id="a1",name="cirros"} 1.7958600005e+09
nova_image_updated_timestamp_seconds{id="n1",name=""} 1.7958600005e+09
# HELP nova_images Images per Nova status (ACTIVE, SAVING, DELETED, ERROR, UNKNOWN, or another status upper-cased); Glance's and IMS's statuses mapped as Nova's images proxy maps them.
# TYPE nova_images gauge
nova_images{status="ACTIVE"} 2
nova_images{status="DELETED"} 0
nova_images{status="ERROR"} 0
nova_images{status="PENDING_UPLOAD"} 1
nova_images{status="SAVING"} 1
nova_images{status="UNKNOWN"} 0
# HELP nova_images_size_bytes Bytes of the images per Nova status, every listed image counted whatever gets per-image series; an image without a size counts 0.
# TYPE nova_images_size_bytes gauge
nova_images_size_bytes{status="ACTIVE"} 6144
nova_images_size_bytes{status="DELETED"} 0
nova_images_size_bytes{status="ERROR"} 0
nova_images_size_bytes{status="PENDING_UPLOAD"} 0
nova_images_size_bytes{status="SAVING"} 0
nova_images_size_bytes{status="UNKNOWN"} 0
# HELP nova_project_images Images per owning project (project_id, the image's owner) and Nova status, every listed image counted; only the statuses a project has images in; none where the API sends no owner (nova) or the project metrics are off (--no-images.project-metrics, project_metrics: false).
# TYPE nova_project_images gauge
nova_project_images{project_id="proj-a",status="ACTIVE"} 1
# HELP nova_project_images_size_bytes Bytes of the images per owning project and Nova status, as nova_project_images counts them; an image without a size counts 0.
# TYPE nova_project_images_size_bytes gauge
nova_project_images_size_bytes{project_id="proj-a",status="ACTIVE"} 4096
# HELP nova_up 1 if this scrape's listing of images (Nova's images/detail, Glance's /v2/images or IMS's /v2/cloudimages) succeeded, else 0.
# TYPE nova_up gauge
nova_up 1
# HELP nova_image_virtual_size_bytes Size of the image's virtual disk in bytes (Glance's and IMS's virtual_size); absent where the API does not give it (nova) or sends null.
# TYPE nova_image_virtual_size_bytes gauge
nova_image_virtual_size_bytes{id="a1",name="cirros"} 1.17440512e+08
`

// imageMetricNames are every metric of the contract except the scrape duration, whose
// value changes on every run.
var imageMetricNames = []string{
	"nova_up", "nova_images", "nova_images_size_bytes", "nova_project_images", "nova_project_images_size_bytes", "nova_image_status", "nova_image_size_bytes", "nova_image_min_disk_bytes",
	"nova_image_min_ram_bytes", "nova_image_progress_ratio", "nova_image_created_timestamp_seconds",
	"nova_image_updated_timestamp_seconds", "nova_image_info", "nova_image_virtual_size_bytes",
}

// scrapeText serves one scrape through h and parses its answer with client_golang's text
// parser: the families as a Gatherer, which checks them as a registry would (no duplicate
// series, valid label values) on Gather.
func scrapeText(t testing.TB, h *Handler) prometheus.Gatherer {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape answered %d: %s", rec.Code, rec.Body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	parsed, err := parser.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("the exposition does not parse: %v", err)
	}
	return prometheus.Gatherers{prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		families := make([]*dto.MetricFamily, 0, len(parsed))
		for _, mf := range parsed {
			families = append(families, mf)
		}
		return families, nil
	})}
}

// listerHandler serves the listings of lister, without bounds, logging to logger.
func listerHandler(lister client.ImageSource, metrics *ExporterMetrics, logger log.Logger) *Handler {
	return &Handler{Resolve: StaticTarget(Target{Cloud: "c1", Listings: NewListings(lister, 0)}), Metrics: metrics,
		Timeouts: ScrapeTimeouts{Default: time.Second}, Logger: logger}
}

func TestCollectGolden(t *testing.T) {
	served := scrapeText(t, listerHandler(&fakeLister{images: testImages}, nil, log.NewNopLogger()))
	if err := testutil.GatherAndCompare(served, strings.NewReader(wantTestImages), imageMetricNames...); err != nil {
		t.Error(err)
	}
}

func TestCollectLint(t *testing.T) {
	served := scrapeText(t, listerHandler(&fakeLister{images: testImages}, nil, log.NewNopLogger()))
	problems, err := testutil.GatherAndLint(served)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

func TestCollectFailureLogsOnceAndReportsDown(t *testing.T) {
	var logs bytes.Buffer
	lister := &fakeLister{err: errors.New("GET http://nova/v2.1/p/images/detail: HTTP 500 computeFault: GlanceConnectionFailed")}
	h := listerHandler(lister, nil, log.NewLogfmtLogger(&logs))
	const want = `
# HELP nova_up 1 if this scrape's listing of images (Nova's images/detail, Glance's /v2/images or IMS's /v2/cloudimages) succeeded, else 0.
# TYPE nova_up gauge
nova_up 0
`
	if err := testutil.GatherAndCompare(scrapeText(t, h), strings.NewReader(want), imageMetricNames...); err != nil {
		t.Error(err)
	}
	if n, err := testutil.GatherAndCount(scrapeText(t, h)); err != nil || n != 2 {
		t.Errorf("%d metrics from a failed listing (%v), want nova_up and nova_scrape_duration_seconds only", n, err)
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	// Two scrapes above, so two lines: one per failed scrape.
	if len(lines) != 2 || !strings.Contains(lines[0], "level=error") || !strings.Contains(lines[0], "GlanceConnectionFailed") {
		t.Errorf("log lines %q, want one error line per failed scrape naming the fault", lines)
	}
}

func TestCollectForgetsDeletedImages(t *testing.T) {
	lister := &fakeLister{images: testImages[:2]}
	h := listerHandler(lister, nil, log.NewNopLogger())
	if n, _ := testutil.GatherAndCount(scrapeText(t, h), "nova_image_status"); n != 2 {
		t.Fatalf("%d status series, want 2", n)
	}
	lister.images = testImages[:1]
	if n, _ := testutil.GatherAndCount(scrapeText(t, h), "nova_image_status"); n != 1 {
		t.Errorf("%d status series after an image was deleted, want 1", n)
	}
}

func TestHandlerServesDownWith200(t *testing.T) {
	lister := &fakeLister{err: errors.New("keystone unreachable")}
	own := prometheus.NewRegistry()
	own.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "own_metric", Help: "The exporter's own."}))
	h := &Handler{Resolve: StaticTarget(Target{Listings: NewListings(lister, 0)}), Own: own, Timeouts: ScrapeTimeouts{Default: time.Second}, Logger: log.NewNopLogger()}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := rec.Body.String()
	if rec.Code != http.StatusOK || !strings.Contains(body, "\nnova_up 0\n") || !strings.Contains(body, "nova_scrape_duration_seconds") ||
		!strings.Contains(body, "own_metric 0") || strings.Contains(body, "nova_image_") {
		t.Errorf("status %d body:\n%s\nwant 200 with nova_up 0, the duration, own metrics and no image series", rec.Code, body)
	}
}

var pageSize7, _ = client.ParseSelection(client.Selection{}, url.Values{"page-size": {"7"}})

func TestHandlerPassesListOptions(t *testing.T) {
	lister := &fakeLister{images: testImages}
	h := &Handler{Resolve: StaticTarget(Target{Listings: NewListings(lister, 0), Selection: pageSize7}), Timeouts: ScrapeTimeouts{Default: time.Second}, Logger: log.NewNopLogger()}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if lister.calls != 1 || lister.opts.PageSize != 7 || !strings.Contains(rec.Body.String(), "\nnova_up 1\n") {
		t.Errorf("calls %d, opts %+v, body %q", lister.calls, lister.opts, rec.Body.String())
	}
}

func TestScrapeTimeouts(t *testing.T) {
	timeouts := ScrapeTimeouts{Default: 30 * time.Second, Offset: 500 * time.Millisecond}
	tests := []struct {
		header  string
		want    time.Duration
		wantErr bool
	}{
		{"", 30 * time.Second, false},
		{"10", 9500 * time.Millisecond, false},
		{"0.25", 250 * time.Millisecond, false},
		{"120", 30 * time.Second, false},
		{"abc", 30 * time.Second, true},
		{"-5", 30 * time.Second, true},
		{"NaN", 30 * time.Second, true},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		if tt.header != "" {
			r.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", tt.header)
		}
		got, err := timeouts.Timeout(r)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("header %q: got %v, %v; want %v, error %v", tt.header, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestAuthFailuresAndIdentityErrorsAreCountedApart(t *testing.T) {
	own := prometheus.NewRegistry()
	metrics := NewExporterMetrics(own)
	metrics.InitCloud("c1")
	metrics.InitCloud("c2")
	authFailing := &fakeLister{err: &client.AuthError{Err: errors.New("HTTP 401 Unauthorized")}}
	identityFailing := &fakeLister{err: &client.IdentityError{Err: errors.New("HTTP 503 Service Unavailable")}}
	otherFailing := &fakeLister{err: errors.New("HTTP 500 computeFault")}
	for _, lister := range []*fakeLister{authFailing, authFailing, identityFailing, otherFailing} {
		scrapeText(t, listerHandler(lister, metrics, log.NewNopLogger()))
	}
	const want = `
# HELP nova_image_exporter_auth_failures_total Refusals of the cloud's credentials, each starting a back-off in which they are not sent: a listing failed because Keystone/IAM answered the token request with 401 or 403, or the API refused a pre-issued token, an AK/SK signature, or a token again right after its renewal; or the quota endpoint answered 401 to the credential the listing beside it had had accepted. Not counted here: an identity service that cannot be reached or fails (nova_image_exporter_identity_errors_total).
# TYPE nova_image_exporter_auth_failures_total counter
nova_image_exporter_auth_failures_total{cloud="c1"} 2
nova_image_exporter_auth_failures_total{cloud="c2"} 0
# HELP nova_image_exporter_identity_errors_total Listings that failed because the identity service (Keystone/IAM) could not be reached or answered with an error other than refusing the credentials: no answer, timeout, TLS, 5xx, 429, malformed or oversized answer.
# TYPE nova_image_exporter_identity_errors_total counter
nova_image_exporter_identity_errors_total{cloud="c1"} 1
nova_image_exporter_identity_errors_total{cloud="c2"} 0
`
	names := []string{"nova_image_exporter_auth_failures_total", "nova_image_exporter_identity_errors_total"}
	if err := testutil.GatherAndCompare(own, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
	metrics.ForgetCloud("c2")
	if n, err := testutil.GatherAndCount(own, names...); err != nil || n != 2 {
		t.Errorf("%d series of %v after forgetting c2 (err %v), want c1's 2", n, names, err)
	}
}
