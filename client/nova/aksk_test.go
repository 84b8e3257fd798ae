package nova

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/client/cloud"
	"github.com/nova-image-exporter/nova_image_exporter/client/paging"
)

func TestAKSKSignsWhatGoesOnTheWire(t *testing.T) {
	auth := &cloud.AKSK{
		AccessKey: "AK", SecretKey: "SK", SecurityToken: "temporary", ProjectID: "p1",
		ComputeEndpoint: "https://ecs.cn-north-4.myhuaweicloud.com/v2.1/p1",
		Now:             func() time.Time { return time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC) },
	}
	base, _ := imagesURL(auth.ComputeEndpoint)
	query := filters(client.ListOptions{Name: "Ubuntu 22.04 LTS – Ünïcödé 名前 test", Status: "active", PageSize: 100})
	query.Set("marker", "m1")
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, paging.WithQuery(base, query).String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := auth.Authorize(context.Background(), req, nil); err != nil {
		t.Fatal(err)
	}
	const wantQuery = "limit=100&marker=m1&name=Ubuntu%2022.04%20LTS%20%E2%80%93%20%C3%9Cn%C3%AFc%C3%B6d%C3%A9%20%E5%90%8D%E5%89%8D%20test&status=active"
	if req.URL.RawQuery != wantQuery || wireCanonicalQuery(req.URL.RawQuery) != wantQuery {
		t.Errorf("wire query %q, canonical %q; want both %q", req.URL.RawQuery, wireCanonicalQuery(req.URL.RawQuery), wantQuery)
	}
	for header, want := range map[string]string{
		"X-Sdk-Date": "20261128T120000Z", "X-Project-Id": "p1", "X-Security-Token": "temporary", "X-Auth-Token": "",
	} {
		if got := req.Header.Get(header); got != want {
			t.Errorf("%s = %q, want %q", header, got, want)
		}
	}
	signature := cloud.Sign("SK", http.MethodGet, req.URL, req.URL.Host, req.Header,
		[]string{"host", "x-project-id", "x-sdk-date", "x-security-token"}, cloud.EmptyBodySHA256)
	want := "SDK-HMAC-SHA256 Access=AK, SignedHeaders=host;x-project-id;x-sdk-date;x-security-token, Signature=" + signature
	if got := req.Header.Get("Authorization"); got != want {
		t.Errorf("Authorization %q, want %q", got, want)
	}
}

// wireCanonicalQuery is the signature's canonical form of a query.
func wireCanonicalQuery(rawQuery string) string {
	values, _ := url.ParseQuery(rawQuery)
	return client.EncodeQuery(values)
}
