package nova

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/client/cloud"
	"github.com/nova-image-exporter/nova_image_exporter/simulator"
)

// A Nova whose osapi_max_limit was raised answers a request without a limit with every
// image in one page, past the page bound: with no page size set, the exporter sends its
// default, 1 000, the usual maximum, and lists in pages within the bound.
func TestSendsTheDefaultPageSize(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	sim := simulator.New(simulator.Options{MaxLimit: 20_000, Images: simulator.GenerateImages(2_500, 1, now)})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	// About 1.2 KB an image: 3 MB in one page, 1.2 MB in a page of 1 000.
	c := New(&cloud.StaticToken{Token: sim.IssueToken(), ComputeEndpoint: srv.URL + "/v2.1"}, client.Options{MaxResponseBytes: 2 << 20})
	images, err := client.Collect(context.Background(), c, client.ListOptions{})
	if err != nil || len(images) != 2_500 {
		t.Fatalf("%d images, %v; want 2 500 listed in pages of 1 000", len(images), err)
	}
}

// Huawei's Nova-compatible API answers 403 to a limit above its largest page, which it
// does not document: the default page size refused so costs one request, once. The
// listing asks again without a limit, and so do the cloud's later listings.
func TestARefusedDefaultPageSizeIsDroppedOnce(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	sim := simulator.New(simulator.Options{NovaForbiddenLimitAbove: 200, MaxLimit: 200, Images: simulator.GenerateImages(450, 1, now)})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	c := New(&cloud.StaticToken{Token: sim.IssueToken(), ComputeEndpoint: srv.URL + "/v2.1"}, client.Options{})
	for listing := range 2 {
		images, err := client.Collect(context.Background(), c, client.ListOptions{})
		if err != nil || len(images) != 450 {
			t.Fatalf("listing %d: %d images, %v; want 450", listing, len(images), err)
		}
	}
	var limited []string
	for _, r := range sim.Requests() {
		if strings.Contains(r.RawQuery, "limit=") {
			limited = append(limited, r.RawQuery)
		}
	}
	if len(limited) != 1 || limited[0] != "limit=1000" {
		t.Errorf("requests with a limit: %q; want the first alone, limit=1000", limited)
	}
	if got := len(sim.Requests()); got != 1+3+3 {
		t.Errorf("%d requests; want 7: the refused one, then 3 pages of 200 per listing", got)
	}

	// A page size the user chose is never dropped: its 403 fails the listing, with the hint.
	_, err := client.Collect(context.Background(), c, client.ListOptions{PageSize: 500})
	if err == nil || !strings.Contains(err.Error(), "try a smaller page-size") {
		t.Errorf("page-size 500: %v; want the 403 with the page-size hint", err)
	}
}
