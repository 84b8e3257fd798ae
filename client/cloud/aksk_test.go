package cloud

import (
	"net/http"
	"net/url"
	"testing"
)

// The two public test vectors of Huawei's SDK-HMAC-SHA256, from Huawei's public
// documentation: its SDK's unit test and its signing guide.
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
		if got := Sign(tt.sk, http.MethodGet, u, u.Host, tt.header, tt.signed, EmptyBodySHA256); got != tt.want {
			t.Errorf("%s: signature %s, want %s", tt.name, got, tt.want)
		}
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
