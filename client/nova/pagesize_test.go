package nova

import (
	"context"
	"net/http/httptest"
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
	images, err := c.ListImages(context.Background(), client.ListOptions{})
	if err != nil || len(images) != 2_500 {
		t.Fatalf("%d images, %v; want 2 500 listed in pages of 1 000", len(images), err)
	}
}
