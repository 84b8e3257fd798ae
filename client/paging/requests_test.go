package paging

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/client/cloud"
	"github.com/nova-image-exporter/nova_image_exporter/client/internal/clienttest"
)

func TestErrorShapes(t *testing.T) {
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

func TestRenewsOnceOn401(t *testing.T) {
	c, p, auth := newTestClient(t, func(_ int, r *http.Request) (int, http.Header, string) {
		if r.Header.Get("X-Auth-Token") != "tok-renewed" {
			return 401, nil, `{"error": {"code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication."}}`
		}
		return clienttest.OK(`{"images": [{"id": "a", "status": "ACTIVE"}]}`)
	})
	images, err := client.Collect(context.Background(), c, client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(images) != 1 || auth.Renewals() != 1 || len(p.Requests()) != 2 {
		t.Errorf("got %d images, %d renewals, %d requests; want 1, 1, 2", len(images), auth.Renewals(), len(p.Requests()))
	}
}

func TestGivesUpAfterOneRenewal(t *testing.T) {
	c, p, auth := newTestClient(t, func(int, *http.Request) (int, http.Header, string) {
		return 401, nil, `{"error": {"code": 401, "title": "Unauthorized", "message": "nope"}}`
	})
	_, err := client.Collect(context.Background(), c, client.ListOptions{})
	if !isStatus(err, http.StatusUnauthorized) {
		t.Fatalf("error %v, want a 401 client.APIError", err)
	}
	if auth.Renewals() != 1 || len(p.Requests()) != 2 {
		t.Errorf("%d renewals, %d requests; want 1 and 2", auth.Renewals(), len(p.Requests()))
	}
}

func TestReportsFailedRenewal(t *testing.T) {
	c, p, auth := newTestClient(t, func(int, *http.Request) (int, http.Header, string) {
		return 401, nil, `{"error": {"code": 401, "title": "Unauthorized", "message": "expired"}}`
	})
	auth.RenewErr = errors.New("keystone unreachable")
	_, err := client.Collect(context.Background(), c, client.ListOptions{})
	if err == nil || !strings.Contains(err.Error(), "keystone unreachable") || !isStatus(err, 401) {
		t.Fatalf("error %v, want the 401 and the renewal failure", err)
	}
	if len(p.Requests()) != 1 {
		t.Errorf("%d requests, want 1", len(p.Requests()))
	}
}

func TestStaticTokenCannotRenew(t *testing.T) {
	p := clienttest.NewServer(t, func(int, *http.Request) (int, http.Header, string) {
		return 401, nil, `{"error": {"code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication."}}`
	})
	c := newLister(&cloud.StaticToken{Token: "pre-issued-secret", ComputeEndpoint: p.URL + "/v2.1/proj"}, client.Options{})
	_, err := client.Collect(context.Background(), c, client.ListOptions{})
	if err == nil || !strings.Contains(err.Error(), "cannot be renewed") {
		t.Fatalf("error %v, want a final 401", err)
	}
	if strings.Contains(err.Error(), "pre-issued-secret") {
		t.Errorf("error %q contains the token", err)
	}
	if len(p.Requests()) != 1 || p.Requests()[0].Header.Get("X-Auth-Token") != "pre-issued-secret" {
		t.Errorf("requests %d, want exactly one with the token", len(p.Requests()))
	}
}

func TestRetriesThrottlingAndTransientFaults(t *testing.T) {
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
				return clienttest.OK(`{"images": [{"id": "a", "status": "ACTIVE"}]}`)
			})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			images, err := client.Collect(ctx, c, client.ListOptions{PageSize: tt.pageSize})
			if len(p.Requests()) != tt.wantRequests {
				t.Errorf("%d requests, want %d", len(p.Requests()), tt.wantRequests)
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

func TestHonoursRetryAfter(t *testing.T) {
	var first time.Time
	var waited time.Duration
	c, _, _ := newTestClient(t, func(n int, _ *http.Request) (int, http.Header, string) {
		if n == 0 {
			first = time.Now()
			return 429, http.Header{"Retry-After": {"1"}}, `{"overLimit": {"code": 429, "message": "slow down"}}`
		}
		waited = time.Since(first)
		return clienttest.OK(`{"images": []}`)
	})
	c.Requester.Opts.RetryBackoff = time.Millisecond
	if _, err := client.Collect(context.Background(), c, client.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	if waited < time.Second {
		t.Errorf("retried after %v, before the server's Retry-After of 1s", waited)
	}
}

func TestHonoursContext(t *testing.T) {
	release := make(chan struct{})
	c, _, _ := newTestClient(t, func(int, *http.Request) (int, http.Header, string) {
		<-release
		return clienttest.OK(`{"images": []}`)
	})
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := client.Collect(ctx, c, client.ListOptions{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want the context deadline", err)
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
	c := newLister(&cloud.StaticToken{Token: "test-token-0123456789", ComputeEndpoint: srv.URL + "/v2.1/p"}, client.Options{})
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
