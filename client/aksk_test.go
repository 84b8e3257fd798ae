package client

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// The two public test vectors of Huawei's SDK-HMAC-SHA256 (shared/api/NOTES.md).
func TestSignPublicVectors(t *testing.T) {
	tests := []struct {
		name, ak, sk, rawURL string
		header               http.Header
		signed               []string
		want                 string
	}{
		{
			name: "Huawei SDK unit test", sk: "SecretKey",
			rawURL: "https://example.huaweicloud.com/path?limit=1",
			header: http.Header{"X-Sdk-Date": {"20060102T150405Z"}, "TEST_UNDERSCORE": {"TEST_VALUE"}},
			signed: []string{"x-sdk-date"},
			want:   "5a2ce64c865e0e6046321c6f3d5a77ba8413eeaf355c3166c03d58d02ac79624",
		},
		{
			name: "Huawei signing guide", sk: "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc",
			rawURL: "https://service.region.example.com/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs?limit=2&marker=13551d6b-755d-4757-b956-536f674975c0",
			header: http.Header{"Content-Type": {"application/json"}, "X-Sdk-Date": {"20191115T033655Z"}},
			signed: []string{"content-type", "host", "x-sdk-date"},
			want:   "7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d6870f4f6ebe",
		},
	}
	for _, tt := range tests {
		u, err := url.Parse(tt.rawURL)
		if err != nil {
			t.Fatal(err)
		}
		if got := Sign(tt.sk, http.MethodGet, u, u.Host, tt.header, tt.signed, emptyBodySHA256); got != tt.want {
			t.Errorf("%s: signature %s, want %s", tt.name, got, tt.want)
		}
	}
}

func TestAKSKSignsWhatGoesOnTheWire(t *testing.T) {
	auth := &AKSK{
		AccessKey: "AK", SecretKey: "SK", SecurityToken: "temporary", ProjectID: "p1",
		ComputeEndpoint: "https://ecs.cn-north-4.myhuaweicloud.com/v2.1/p1",
		Now:             func() time.Time { return time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC) },
	}
	c := New(auth, Options{})
	base, _ := imagesURL(auth.ComputeEndpoint)
	p := &pager{client: c, base: base, opts: ListOptions{
		Filters:  url.Values{"name": {"Ubuntu 22.04 LTS – Ünïcödé 名前 test"}, "status": {"active"}},
		PageSize: 100,
	}, marker: "m1"}
	req, err := p.request(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := auth.Authorize(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	const wantQuery = "limit=100&marker=m1&name=Ubuntu%2022.04%20LTS%20%E2%80%93%20%C3%9Cn%C3%AFc%C3%B6d%C3%A9%20%E5%90%8D%E5%89%8D%20test&status=active"
	if req.URL.RawQuery != wantQuery || canonicalQuery(req.URL.RawQuery) != wantQuery {
		t.Errorf("wire query %q, canonical %q; want both %q", req.URL.RawQuery, canonicalQuery(req.URL.RawQuery), wantQuery)
	}
	for header, want := range map[string]string{
		"X-Sdk-Date": "20261128T120000Z", "X-Project-Id": "p1", "X-Security-Token": "temporary", "X-Auth-Token": "",
	} {
		if got := req.Header.Get(header); got != want {
			t.Errorf("%s = %q, want %q", header, got, want)
		}
	}
	signature := Sign("SK", http.MethodGet, req.URL, req.URL.Host, req.Header,
		[]string{"host", "x-project-id", "x-sdk-date", "x-security-token"}, emptyBodySHA256)
	want := "SDK-HMAC-SHA256 Access=AK, SignedHeaders=host;x-project-id;x-sdk-date;x-security-token, Signature=" + signature
	if got := req.Header.Get("Authorization"); got != want {
		t.Errorf("Authorization %q, want %q", got, want)
	}
}

func TestCanonicalURI(t *testing.T) {
	for path, want := range map[string]string{
		"/v2.1/p1/images/detail": "/v2.1/p1/images/detail/",
		"/v1/a b/ü/":             "/v1/a%20b/%C3%BC/",
		"":                       "/",
	} {
		if got := canonicalURI(&url.URL{Path: path}); got != want {
			t.Errorf("canonicalURI(%q) = %q, want %q", path, got, want)
		}
	}
}
