package nova

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/client/cloud"
	"github.com/nova-image-exporter/nova_image_exporter/client/paging"
)

// fakeAuth is an Authenticator with a fixed endpoint that counts renewals.
type fakeAuth struct {
	endpoint string
	mu       sync.Mutex
	token    string
	renewals int
	renewErr error
}

func (f *fakeAuth) Endpoint(context.Context, string) (string, error) { return f.endpoint, nil }

func (f *fakeAuth) Authorize(_ context.Context, req *http.Request) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	req.Header.Set("X-Auth-Token", f.token)
	return f.token, nil
}

func (f *fakeAuth) Renew(_ context.Context, refused string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.renewals++
	if f.renewErr != nil {
		return f.renewErr
	}
	f.token = refused + "-renewed"
	return nil
}

func (f *fakeAuth) Secrets() []string { return []string{"configured-secret"} }

// pages answers images/detail requests from a list of responses, recording each request.
type pages struct {
	mu       sync.Mutex
	requests []*http.Request
	answer   func(n int, r *http.Request) (status int, header http.Header, body string)
}

func (p *pages) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	n := len(p.requests)
	p.requests = append(p.requests, r.Clone(context.Background()))
	p.mu.Unlock()
	status, header, body := p.answer(n, r)
	for k, v := range header {
		w.Header()[k] = v
	}
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

func newTestClient(t *testing.T, answer func(n int, r *http.Request) (int, http.Header, string)) (*Client, *pages, *fakeAuth) {
	t.Helper()
	p := &pages{answer: answer}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	auth := &fakeAuth{endpoint: srv.URL + "/v2.1/proj", token: "tok"}
	return New(auth, client.Options{UserAgent: "test-agent", MaxPages: 20, RetryBackoff: time.Millisecond}), p, auth
}

func ok(body string) (int, http.Header, string) { return http.StatusOK, nil, body }

const imageA = `{"id": "a", "name": "alpha", "status": "ACTIVE", "progress": 100, "OS-EXT-IMG-SIZE:size": 4096,
  "minDisk": 1, "minRam": 512, "created": "2026-11-28T20:05:16Z", "updated": "2026-11-28T20:05:17Z",
  "metadata": {"os_distro": "cirros", "nested": {"x": [1, 2]}, "n": null}, "links": [{"rel": "self", "href": "http://x"}]}`

func TestListImagesRequest(t *testing.T) {
	c, p, _ := newTestClient(t, func(int, *http.Request) (int, http.Header, string) {
		return ok(`{"images": [` + imageA + `]}`)
	})
	images, err := client.Collect(context.Background(), c, client.ListOptions{Status: "queued", Name: "Ubuntu 22.04 – Ü", PageSize: 50})
	if err != nil {
		t.Fatal(err)
	}
	if len(images) != 1 || len(p.requests) != 1 {
		t.Fatalf("got %d images in %d requests, want 1 in 1", len(images), len(p.requests))
	}
	r := p.requests[0]
	if r.Method != http.MethodGet || r.URL.Path != "/v2.1/proj/images/detail" {
		t.Errorf("request %s %s, want GET /v2.1/proj/images/detail", r.Method, r.URL.Path)
	}
	wantQuery := url.Values{"status": {"queued"}, "name": {"Ubuntu 22.04 – Ü"}, "limit": {"50"}}
	if got := r.URL.Query(); got.Encode() != wantQuery.Encode() {
		t.Errorf("query %v, want %v", got, wantQuery)
	}
	for header, want := range map[string]string{
		"X-Auth-Token": "tok", "Accept": "application/json", "User-Agent": "test-agent",
		"X-Openstack-Nova-Api-Version": "", "Openstack-Api-Version": "",
	} {
		if got := r.Header.Get(header); got != want {
			t.Errorf("header %s = %q, want %q", header, got, want)
		}
	}
}

func TestListImagesDecodesFields(t *testing.T) {
	c, _, _ := newTestClient(t, func(int, *http.Request) (int, http.Header, string) {
		return ok(`{"images": [` + imageA + `,
		  {"id": "b", "name": null, "status": "saving", "progress": 25, "OS-EXT-IMG-SIZE:size": 0, "minDisk": 0, "minRam": 0,
		   "created": "2026-11-28T20:05:16.5+01:00", "updated": null, "metadata": {},
		   "server": {"id": "srv-1", "links": []}},
		  {"id": "c", "status": "UNKNOWN", "created": "2026-11-28T20:05:16"}]}`)
	})
	images, err := client.Collect(context.Background(), c, client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ms := func(year, month, day, hour, minute, second, nsec int) int64 {
		return time.Date(year, time.Month(month), day, hour, minute, second, nsec, time.UTC).UnixMilli()
	}
	want := []client.Image{
		{ID: "a", Name: "alpha", Status: "ACTIVE", APIStatus: "ACTIVE", Size: 4096, MinDisk: 1, MinRAM: 512, Progress: 100,
			Created: ms(2026, 11, 28, 20, 5, 16, 0), Updated: ms(2026, 11, 28, 20, 5, 17, 0), Missing: client.FieldVirtualSize},
		{ID: "b", Status: "SAVING", APIStatus: "saving", Size: 0, MinDisk: 0, MinRAM: 0, Progress: 25,
			Created: ms(2026, 11, 28, 19, 5, 16, 5e8), ServerID: "srv-1", Missing: client.FieldVirtualSize | client.FieldUpdated},
		{ID: "c", Status: "UNKNOWN", APIStatus: "UNKNOWN", Created: ms(2026, 11, 28, 20, 5, 16, 0), Missing: client.FieldVirtualSize | client.FieldSize | client.FieldMinDisk | client.FieldMinRAM | client.FieldProgress | client.FieldUpdated},
	}
	if len(images) != len(want) {
		t.Fatalf("got %d images, want %d", len(images), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(images[i], want[i]) {
			t.Errorf("image %d:\n got %+v\nwant %+v", i, images[i], want[i])
		}
	}
}

func TestListImagesPaginatesByMarker(t *testing.T) {
	// Four images, two per page: 2, 2, then an empty page, as Nova answers. The next links
	// name an internal host the client must not follow.
	pageBodies := []string{
		`{"images": [{"id": "i1", "status": "ACTIVE"}, {"id": "i2", "status": "ACTIVE"}],
		  "images_links": [{"rel": "next", "href": "http://nova.internal:8774/v2.1/proj/images/detail?limit=2&marker=i2"}]}`,
		`{"images": [{"id": "i3", "status": "ACTIVE"}, {"id": "i4", "status": "SAVING"}],
		  "images_links": [{"rel": "next", "href": "http://nova.internal:8774/v2.1/proj/images/detail?limit=2&marker=i4"}]}`,
		`{"images": []}`,
	}
	c, p, _ := newTestClient(t, func(n int, _ *http.Request) (int, http.Header, string) {
		if n >= len(pageBodies) {
			return http.StatusInternalServerError, nil, `{"computeFault": {"code": 500, "message": "too many requests"}}`
		}
		return ok(pageBodies[n])
	})
	images, err := client.Collect(context.Background(), c, client.ListOptions{PageSize: 2, Type: "snapshot"})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, img := range images {
		ids = append(ids, img.ID)
	}
	if got := strings.Join(ids, ","); got != "i1,i2,i3,i4" {
		t.Errorf("ids %s, want i1,i2,i3,i4", got)
	}
	wantMarkers := []string{"", "i2", "i4"}
	if len(p.requests) != len(wantMarkers) {
		t.Fatalf("%d requests, want %d", len(p.requests), len(wantMarkers))
	}
	for i, r := range p.requests {
		q := r.URL.Query()
		if q.Get("marker") != wantMarkers[i] || q.Get("limit") != "2" || q.Get("type") != "snapshot" {
			t.Errorf("request %d query %q, want marker=%q limit=2 type=snapshot", i, r.URL.RawQuery, wantMarkers[i])
		}
		if r.Host == "nova.internal:8774" {
			t.Errorf("request %d went to the internal host of the next link", i)
		}
	}
}

func TestListImagesStopsWithoutNextLink(t *testing.T) {
	c, p, _ := newTestClient(t, func(int, *http.Request) (int, http.Header, string) {
		return ok(`{"images": [{"id": "i1", "status": "ACTIVE"}, {"id": "i2", "status": "ACTIVE"}]}`)
	})
	if _, err := client.Collect(context.Background(), c, client.ListOptions{PageSize: 2}); err != nil {
		t.Fatal(err)
	}
	if len(p.requests) != 1 {
		t.Errorf("%d requests for a page without a next link, want 1", len(p.requests))
	}
}

func TestListImagesErrorShapes(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		header     http.Header
		body       string
		wantFault  string
		wantMsg    string
		wantID     string
		wantRetry  time.Duration
		wantInText []string
	}{
		{name: "nova badRequest", status: 400, body: `{"badRequest": {"code": 400, "message": "HTTP 400 Bad Request: No image found with ID 00000000"}}`,
			header: http.Header{"X-Openstack-Request-Id": {"req-1"}}, wantFault: "badRequest", wantMsg: "HTTP 400 Bad Request: No image found with ID 00000000", wantID: "req-1",
			wantInText: []string{"HTTP 400", "badRequest", "req-1"}},
		{name: "nova itemNotFound (microversion 2.36)", status: 404, body: `{"itemNotFound": {"code": 404, "message": "The resource could not be found."}}`,
			wantFault: "itemNotFound", wantMsg: "The resource could not be found."},
		{name: "nova overLimit with retryAfter", status: 429, body: `{"overLimit": {"code": 429, "message": "Rate limited", "retryAfter": "7"}}`,
			wantFault: "overLimit", wantMsg: "Rate limited", wantRetry: 7 * time.Second},
		{name: "Retry-After header", status: 503, header: http.Header{"Retry-After": {"3"}}, body: `{"serviceUnavailable": {"code": 503, "message": "down"}}`,
			wantFault: "serviceUnavailable", wantMsg: "down", wantRetry: 3 * time.Second},
		{name: "computeFault glance down", status: 500, body: `{"computeFault": {"code": 500, "message": "GlanceConnectionFailed: Connection to glance host failed"}}`,
			wantFault: "computeFault", wantMsg: "GlanceConnectionFailed: Connection to glance host failed"},
		{name: "keystone 403", status: 403, body: `{"error": {"code": 403, "title": "Forbidden", "message": "You are not authorized."}}`,
			wantFault: "Forbidden", wantMsg: "You are not authorized."},
		{name: "huawei gateway throttling", status: 429, body: `{"error_code": "APIGW.0308", "error_msg": "The request is throttled.", "request_id": "abc123"}`,
			wantFault: "APIGW.0308", wantMsg: "The request is throttled.", wantID: "abc123"},
		{name: "huawei service error", status: 400, body: `{"error": {"code": "Ecs.0005", "message": "Invalid parameter"}}`,
			wantFault: "Ecs.0005", wantMsg: "Invalid parameter"},
		{name: "html from a proxy", status: 502, header: http.Header{"Content-Type": {"text/html"}}, body: "<html><body><h1>502 Bad Gateway</h1></body></html>",
			wantMsg: "unrecognised body (text/html, 50 bytes)"},
		{name: "empty body", status: 503, wantMsg: "empty body"},
		{name: "control characters and length", status: 400, body: `{"badRequest": {"code": 400, "message": "line1\nline2` + strings.Repeat("x", 400) + `"}}`,
			wantFault: "badRequest", wantMsg: "line1 line2" + strings.Repeat("x", 245) + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, _ := newTestClient(t, func(int, *http.Request) (int, http.Header, string) {
				return tt.status, tt.header, tt.body
			})
			c.Requester.Opts.MaxRetries = -1
			_, err := client.Collect(context.Background(), c, client.ListOptions{})
			var apiErr *client.APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("error %v (%T), want *client.APIError", err, err)
			}
			if apiErr.StatusCode != tt.status || apiErr.Fault != tt.wantFault || apiErr.Message != tt.wantMsg ||
				apiErr.RetryAfter != tt.wantRetry || tt.wantID != "" && apiErr.RequestID != tt.wantID {
				t.Errorf("got %+v\nwant status %d fault %q message %q retry %v id %q", *apiErr, tt.status, tt.wantFault, tt.wantMsg, tt.wantRetry, tt.wantID)
			}
			for _, s := range tt.wantInText {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error text %q lacks %q", err, s)
				}
			}
		})
	}
}

func TestListImagesRenewsOnceOn401(t *testing.T) {
	c, p, auth := newTestClient(t, func(_ int, r *http.Request) (int, http.Header, string) {
		if r.Header.Get("X-Auth-Token") != "tok-renewed" {
			return 401, nil, `{"error": {"code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication."}}`
		}
		return ok(`{"images": [{"id": "a", "status": "ACTIVE"}]}`)
	})
	images, err := client.Collect(context.Background(), c, client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(images) != 1 || auth.renewals != 1 || len(p.requests) != 2 {
		t.Errorf("got %d images, %d renewals, %d requests; want 1, 1, 2", len(images), auth.renewals, len(p.requests))
	}
}

func TestListImagesGivesUpAfterOneRenewal(t *testing.T) {
	c, p, auth := newTestClient(t, func(int, *http.Request) (int, http.Header, string) {
		return 401, nil, `{"error": {"code": 401, "title": "Unauthorized", "message": "nope"}}`
	})
	_, err := client.Collect(context.Background(), c, client.ListOptions{})
	if !isStatus(err, http.StatusUnauthorized) {
		t.Fatalf("error %v, want a 401 client.APIError", err)
	}
	if auth.renewals != 1 || len(p.requests) != 2 {
		t.Errorf("%d renewals, %d requests; want 1 and 2", auth.renewals, len(p.requests))
	}
}

func TestListImagesReportsFailedRenewal(t *testing.T) {
	c, p, auth := newTestClient(t, func(int, *http.Request) (int, http.Header, string) {
		return 401, nil, `{"error": {"code": 401, "title": "Unauthorized", "message": "expired"}}`
	})
	auth.renewErr = errors.New("keystone unreachable")
	_, err := client.Collect(context.Background(), c, client.ListOptions{})
	if err == nil || !strings.Contains(err.Error(), "keystone unreachable") || !isStatus(err, 401) {
		t.Fatalf("error %v, want the 401 and the renewal failure", err)
	}
	if len(p.requests) != 1 {
		t.Errorf("%d requests, want 1", len(p.requests))
	}
}

func TestListImagesRejectsBadBodies(t *testing.T) {
	tests := []struct {
		name    string
		header  http.Header
		body    string
		wantErr string
	}{
		{"malformed", nil, `{"images": [{"id": "a",,}]}`, "malformed JSON"},
		{"truncated", nil, `{"images": [{"id": "a", "status": "ACTIVE"}, {"id": "b"`, "body ends early"},
		{"not an object", nil, `[]`, `want "{"`},
		{"images not a list", nil, `{"images": {"id": "a"}}`, `images: malformed JSON: want "["`},
		{"wrong type", nil, `{"images": [{"id": "a", "status": "ACTIVE", "minDisk": "ten"}]}`, "wrong JSON type: field minDisk holds a string"},
		{"float size", nil, `{"images": [{"id": "a", "status": "ACTIVE", "OS-EXT-IMG-SIZE:size": 1.5}]}`, "wrong JSON type"},
		{"negative size", nil, `{"images": [{"id": "a", "status": "ACTIVE", "OS-EXT-IMG-SIZE:size": -1}]}`, "image a: OS-EXT-IMG-SIZE:size is negative (-1)"},
		{"absurd progress", nil, `{"images": [{"id": "a", "status": "ACTIVE", "progress": 250}]}`, "image a: progress is out of range"},
		{"no id", nil, `{"images": [{"status": "ACTIVE"}]}`, "images[0]: image without an id"},
		{"no status", nil, `{"images": [{"id": "a"}]}`, "image a: no status"},
		{"html 200", http.Header{"Content-Type": {"text/html; charset=utf-8"}}, `<html>login</html>`, "response is text/html; charset=utf-8, not JSON"},
		{"trailing garbage", nil, `{"images": []} {"images": []}`, "data after the top-level object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, _ := newTestClient(t, func(int, *http.Request) (int, http.Header, string) {
				return http.StatusOK, tt.header, tt.body
			})
			_, err := client.Collect(context.Background(), c, client.ListOptions{})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestListImagesCapsResponseSize(t *testing.T) {
	c, _, _ := newTestClient(t, func(int, *http.Request) (int, http.Header, string) {
		return ok(`{"images": [{"id": "a", "status": "ACTIVE", "name": "` + strings.Repeat("x", 10000) + `"}]}`)
	})
	c.Requester.Opts.MaxResponseBytes = 1000
	_, err := client.Collect(context.Background(), c, client.ListOptions{})
	if err == nil || !strings.Contains(err.Error(), "response body larger than 1000 bytes") {
		t.Fatalf("error %v, want the size cap", err)
	}
}

func TestListImagesStopsPaginationLoop(t *testing.T) {
	c, p, _ := newTestClient(t, func(int, *http.Request) (int, http.Header, string) {
		// A server that ignores the marker: the same full page with a next link, forever.
		return ok(`{"images": [{"id": "a", "status": "ACTIVE"}], "images_links": [{"rel": "next", "href": "http://x"}]}`)
	})
	_, err := client.Collect(context.Background(), c, client.ListOptions{PageSize: 1})
	if err == nil || !strings.Contains(err.Error(), "pagination loop: marker a was already requested") {
		t.Fatalf("error %v, want a pagination loop", err)
	}
	if len(p.requests) != 2 {
		t.Errorf("%d requests, want 2", len(p.requests))
	}
}

func TestListImagesCapsPages(t *testing.T) {
	c, p, _ := newTestClient(t, func(n int, _ *http.Request) (int, http.Header, string) {
		return ok(fmt.Sprintf(`{"images": [{"id": "i%d", "status": "ACTIVE"}], "images_links": [{"rel": "next", "href": "http://x"}]}`, n))
	})
	_, err := client.Collect(context.Background(), c, client.ListOptions{PageSize: 1})
	if err == nil || !strings.Contains(err.Error(), "more than 20 pages") {
		t.Fatalf("error %v, want the page cap", err)
	}
	if len(p.requests) != 20 {
		t.Errorf("%d requests, want 20", len(p.requests))
	}
}

func TestListImagesHonoursContext(t *testing.T) {
	release := make(chan struct{})
	c, _, _ := newTestClient(t, func(int, *http.Request) (int, http.Header, string) {
		<-release
		return ok(`{"images": []}`)
	})
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := client.Collect(ctx, c, client.ListOptions{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want the context deadline", err)
	}
}

func TestStaticTokenCannotRenew(t *testing.T) {
	p := &pages{answer: func(int, *http.Request) (int, http.Header, string) {
		return 401, nil, `{"error": {"code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication."}}`
	}}
	srv := httptest.NewServer(p)
	defer srv.Close()
	c := New(&cloud.StaticToken{Token: "pre-issued-secret", ComputeEndpoint: srv.URL + "/v2.1/proj"}, client.Options{})
	_, err := client.Collect(context.Background(), c, client.ListOptions{})
	if err == nil || !strings.Contains(err.Error(), "cannot be renewed") {
		t.Fatalf("error %v, want a final 401", err)
	}
	if strings.Contains(err.Error(), "pre-issued-secret") {
		t.Errorf("error %q contains the token", err)
	}
	if len(p.requests) != 1 || p.requests[0].Header.Get("X-Auth-Token") != "pre-issued-secret" {
		t.Errorf("requests %d, want exactly one with the token", len(p.requests))
	}
}

func TestImagesURL(t *testing.T) {
	for endpoint, want := range map[string]string{
		"https://ecs.cn-north-4.myhuaweicloud.com/v2.1/p1":  "https://ecs.cn-north-4.myhuaweicloud.com/v2.1/p1/images/detail",
		"https://ecs.cn-north-4.myhuaweicloud.com/v2.1/p1/": "https://ecs.cn-north-4.myhuaweicloud.com/v2.1/p1/images/detail",
		"http://user:pw@127.0.0.1:8774/v2.1/p1?x=1":         "http://127.0.0.1:8774/v2.1/p1/images/detail",
	} {
		u, err := imagesURL(endpoint)
		if err != nil || u.String() != want {
			t.Errorf("imagesURL(%q) = %v, %v; want %s", endpoint, u, err, want)
		}
	}
	for _, bad := range []string{"", "ecs.example.com/v2.1", "ftp://x/v2.1", "http://%zz"} {
		if _, err := imagesURL(bad); err == nil {
			t.Errorf("imagesURL(%q) accepted a bad endpoint", bad)
		}
	}
}

func TestListImagesRetriesThrottlingAndTransientFaults(t *testing.T) {
	tests := []struct {
		name         string
		failures     []int // statuses before a 200
		header       http.Header
		wantRequests int
		wantErr      string
		pageSize     int // 0: the default, which a 403 drops once (TestARefusedDefaultPageSizeIsDroppedOnce)
	}{
		{name: "429 twice", failures: []int{429, 429}, wantRequests: 3},
		{name: "502, 503, 504", failures: []int{502, 503, 504}, wantRequests: 4},
		{name: "413 overLimit", failures: []int{413}, wantRequests: 2},
		{name: "always throttled", failures: []int{429, 429, 429, 429, 429}, wantRequests: 4, wantErr: "HTTP 429"},
		{name: "400 is not retried", failures: []int{400}, wantRequests: 1, wantErr: "HTTP 400"},
		{name: "403 is not retried", failures: []int{403}, wantRequests: 1, wantErr: "HTTP 403", pageSize: 100},
		{name: "500 is not retried", failures: []int{500}, wantRequests: 1, wantErr: "HTTP 500"},
		{name: "Retry-After past the deadline", failures: []int{429}, header: http.Header{"Retry-After": {"30"}}, wantRequests: 1,
			wantErr: "not retried: waiting 30s would pass the scrape deadline"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, p, _ := newTestClient(t, func(n int, _ *http.Request) (int, http.Header, string) {
				if n < len(tt.failures) {
					if tt.failures[n] == 429 && n%2 == 1 {
						return 429, tt.header, `{"error_code": "APIGW.0308", "error_msg": "The throttling threshold has been reached", "request_id": "r1"}`
					}
					return tt.failures[n], tt.header, `{"fault": {"code": 0, "message": "injected"}}`
				}
				return ok(`{"images": [{"id": "a", "status": "ACTIVE"}]}`)
			})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			images, err := client.Collect(ctx, c, client.ListOptions{PageSize: tt.pageSize})
			if len(p.requests) != tt.wantRequests {
				t.Errorf("%d requests, want %d", len(p.requests), tt.wantRequests)
			}
			if tt.wantErr == "" {
				if err != nil || len(images) != 1 {
					t.Errorf("got %d images, %v; want the image after the retries", len(images), err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestListImagesHonoursRetryAfter(t *testing.T) {
	var first time.Time
	var waited time.Duration
	c, _, _ := newTestClient(t, func(n int, _ *http.Request) (int, http.Header, string) {
		if n == 0 {
			first = time.Now()
			return 429, http.Header{"Retry-After": {"1"}}, `{"overLimit": {"code": 429, "message": "slow down"}}`
		}
		waited = time.Since(first)
		return ok(`{"images": []}`)
	})
	c.Requester.Opts.RetryBackoff = time.Millisecond
	if _, err := client.Collect(context.Background(), c, client.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	if waited < time.Second {
		t.Errorf("retried after %v, before the server's Retry-After of 1s", waited)
	}
}

func TestListImagesReadsOddTimesAndDropsBadOnes(t *testing.T) {
	c, _, _ := newTestClient(t, func(int, *http.Request) (int, http.Header, string) {
		return ok(`{"images": [
		  {"id": "z", "status": "ACTIVE", "created": "2026-11-28T10:00:00Z", "updated": "2026-11-28T10:00:00.123456Z"},
		  {"id": "o", "status": "ACTIVE", "created": "2026-11-28T12:00:00+02:00", "updated": "2026-11-28T12:00:00+0200"},
		  {"id": "n", "status": "ACTIVE", "created": "2026-11-28T10:00:00", "updated": "2026-11-28 10:00:00"},
		  {"id": "b", "status": "ACTIVE", "name": "bad-` + "\xff\xfe" + `-name", "created": "yesterday", "updated": "2026-11-28T10:00:00Z"}]}`)
	})
	images, err := client.Collect(context.Background(), c, client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ten := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC).UnixMilli()
	for _, img := range images[:3] {
		if img.Created != ten || img.Updated < ten || img.Updated > ten+1000 || img.Problems != nil {
			t.Errorf("image %s: created %v updated %v problems %q, want 10:00 UTC", img.ID, img.Created, img.Updated, img.Problems)
		}
	}
	bad := images[3]
	if !bad.Missing.Has(client.FieldCreated) || bad.Updated != ten || len(bad.Problems) != 1 || bad.Problems[0] != `created is not an ISO 8601 time: "yesterday"` {
		t.Errorf("image b: created %v updated %v problems %q; want created left out, updated kept", bad.Created, bad.Updated, bad.Problems)
	}
	if bad.Name != "bad-\uFFFD\uFFFD-name" {
		t.Errorf("name %q, want invalid UTF-8 repaired to U+FFFD", bad.Name)
	}
}

func TestListingReusesOneConnection(t *testing.T) {
	pageBodies := []string{
		`{"images": [{"id": "i1", "status": "ACTIVE"}, {"id": "i2", "status": "ACTIVE"}], "images_links": [{"rel": "next", "href": "http://x"}]}`,
		`{"images": [{"id": "i3", "status": "ACTIVE"}, {"id": "i4", "status": "ACTIVE"}], "images_links": [{"rel": "next", "href": "http://x"}]}` + "\n  ",
		`{"images": []}`,
	}
	var mu sync.Mutex
	connections := 0
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := map[string]int{"": 0, "i2": 1, "i4": 2}[r.URL.Query().Get("marker")]
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, pageBodies[n])
	}))
	srv.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			mu.Lock()
			connections++
			mu.Unlock()
		}
	}
	srv.Start()
	defer srv.Close()
	c := New(&cloud.StaticToken{Token: "test-token-0123456789", ComputeEndpoint: srv.URL + "/v2.1/p"}, client.Options{})
	for range 2 {
		images, err := client.Collect(context.Background(), c, client.ListOptions{PageSize: 2})
		if err != nil || len(images) != 4 {
			t.Fatalf("%d images, %v", len(images), err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if connections != 1 {
		t.Errorf("two listings of three pages opened %d connections, want 1 kept alive", connections)
	}
}

func TestListImagesRefusesAnswersWithoutImages(t *testing.T) {
	for _, body := range []string{`{}`, `{"error_code": "X", "error_msg": "y"}`, `{"images_links": []}`} {
		c, _, _ := newTestClient(t, func(int, *http.Request) (int, http.Header, string) { return ok(body) })
		if _, err := client.Collect(context.Background(), c, client.ListOptions{}); err == nil || !strings.Contains(err.Error(), `no "images" list`) {
			t.Errorf("%s: error %v, want the missing list reported", body, err)
		}
	}
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	var leaked string
	elsewhere := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		leaked = r.Header.Get("X-Auth-Token")
	}))
	defer elsewhere.Close()
	c, _, _ := newTestClient(t, func(int, *http.Request) (int, http.Header, string) {
		return http.StatusFound, http.Header{"Location": {elsewhere.URL + "/steal"}}, ""
	})
	c.Requester.Opts.HTTPClient = client.NewHTTPClient(5*time.Second, nil)
	_, err := client.Collect(context.Background(), c, client.ListOptions{})
	if !isStatus(err, http.StatusFound) || leaked != "" {
		t.Errorf("error %v, token sent elsewhere %q: want the 302 as an error and no token leaving", err, leaked)
	}
}

func TestURLCredentialsAreNotReported(t *testing.T) {
	for _, endpoint := range []string{"https://user:hunter2@host%zz/v2.1", "ftp://user:hunter2@host/v2.1"} {
		if _, err := imagesURL(endpoint); err == nil || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("imagesURL(%q): %v", endpoint, err)
		}
	}
}

// isStatus reports whether err is an APIError with the given HTTP status.
func isStatus(err error, status int) bool {
	var apiErr *client.APIError
	return errors.As(err, &apiErr) && apiErr.StatusCode == status
}

func TestFiltersInNovasTerms(t *testing.T) {
	zero, three := 0, 3
	got := filters(client.ListOptions{
		Name: "a b", Status: "active", Type: "snapshot", Server: "s1", MinRAM: &zero, MinDisk: &three,
		ChangesSince: time.Date(2026, 11, 2, 13, 0, 0, 0, time.FixedZone("CET", 3600)), PageSize: 7,
	}).Encode()
	const want = "changes-since=2026-11-02T12%3A00%3A00Z&limit=7&minDisk=3&minRam=0&name=a+b&server=s1&status=active&type=snapshot"
	if got != want {
		t.Errorf("query %s, want %s", got, want)
	}
	if got := filters(client.ListOptions{}).Encode(); got != "limit=1000" {
		t.Errorf("the zero options give %q, want only the default page size", got)
	}
}

// imagesURL is the images-detail URL of a compute endpoint, as EachImage builds it.
func imagesURL(endpoint string) (*url.URL, error) {
	return paging.BaseURL(client.Redactor{}, "compute endpoint", endpoint, detailPath)
}

// filters are opts in images-detail's query parameters, as EachImage sends them.
func filters(opts client.ListOptions) url.Values { return paging.Query(opts, queryNames) }
