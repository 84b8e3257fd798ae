package ims

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"testing"
	"time"

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/client/cloud"
	"github.com/nova-image-exporter/nova_image_exporter/client/internal/clienttest"
	"github.com/nova-image-exporter/nova_image_exporter/simulator"
)

// osKeys are the keys IMS documents on every image, which --images.metadata-label may name.
var osKeys = []string{"__os_type", "active_at", "__platform", "__os_version", "__os_bit"}

// Open Telekom Cloud's example answer of GET /v2/cloudimages: two public images, with no
// __image_size (no size known), virtual_size null (none) and the OS keys as labels.
func TestReadsTheVendorsListing(t *testing.T) {
	body := clienttest.VendorAnswer(t, "otc-ims-list.json")
	c, _ := newClient(t, client.Options{MetadataKeys: osKeys}, "", func(q url.Values) (int, string) {
		if q.Get("marker") != "" {
			return http.StatusOK, `{"images": []}`
		}
		return http.StatusOK, body
	})
	images, err := list(c, client.ListOptions{})
	if err != nil || len(images) != 2 {
		t.Fatalf("%d images, %v", len(images), err)
	}
	img := images[0]
	if img.ID != "bc6bed6e-ba3a-4447-afcc-449174a3eb52" || img.Visibility != "public" || img.Size != 0 ||
		img.Missing&(client.FieldSize|client.FieldVirtualSize) != client.FieldSize|client.FieldVirtualSize || img.MinDisk != 100 {
		t.Errorf("image %+v", img)
	}
	want := client.Metadata{{Key: "__os_type", Value: "Linux"}, {Key: "__platform", Value: "CentOS"},
		{Key: "__os_bit", Value: "64"}, {Key: "__os_version", Value: "CentOS 7.3 64bit"}} // in the answer's order
	if !reflect.DeepEqual(img.Metadata, want) {
		t.Errorf("metadata %+v, want %+v", img.Metadata, want)
	}
}

// Open Telekom Cloud's example answer of GET /v1/cloudimages/quota.
func TestReadsTheVendorsQuota(t *testing.T) {
	body := clienttest.VendorAnswer(t, "otc-ims-quota.json")
	c, _ := newClient(t, client.Options{}, "", func(url.Values) (int, string) { return http.StatusOK, body })
	quotas, err := c.Quotas(context.Background())
	if want := []client.Quota{{Resource: "image", Limit: 20, Usage: 0}}; err != nil || !reflect.DeepEqual(quotas, want) {
		t.Errorf("quotas %+v, %v; want %+v", quotas, err, want)
	}
}

// Every key IMS documents as always present can be a label, on every image the simulator
// lists as IMS does.
func TestTheOSKeysAreLabelsThroughTheSimulator(t *testing.T) {
	sim := simulator.New(simulator.Options{Images: simulator.FullImages(time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC))})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	c := New(&cloud.StaticToken{Token: sim.IssueToken(), ImageEndpoint: srv.URL}, client.Options{MetadataKeys: osKeys}, "")
	images, err := list(c, client.ListOptions{})
	if err != nil || len(images) != 11 {
		t.Fatalf("%d images, %v", len(images), err)
	}
	for _, img := range images {
		if len(img.Metadata) != len(osKeys) {
			t.Errorf("%s: metadata %+v, want every one of %v", img.ID, img.Metadata, osKeys)
		}
	}
}

// Huawei documents no maximum limit for IMS: whether a larger one is capped (see
// TestPagesUntilAnEmptyPageWhenTheLimitIsCapped) or refused with 403, the listing completes:
// a refused default page size is dropped and the listing asks again without a limit.
func TestSurvivesARefusedDefaultLimit(t *testing.T) {
	c, s := newClient(t, client.Options{MaxRetries: -1}, "", func(q url.Values) (int, string) {
		switch {
		case q.Get("limit") != "":
			return http.StatusForbidden, `{"error": {"code": "IMG.0001", "message": "Invalid limit value"}}`
		case q.Get("marker") == "":
			return http.StatusOK, `{"images": [{"id": "i1", "status": "active", "__image_size": "1"}]}`
		}
		return http.StatusOK, `{"images": []}`
	})
	images, err := list(c, client.ListOptions{})
	if err != nil || len(images) != 1 {
		t.Fatalf("%d images, %v; want the one image listed without a limit", len(images), err)
	}
	if qs := queries(s); len(qs) != 3 || qs[0].Get("limit") != "500" || qs[1].Has("limit") || qs[2].Get("marker") != "i1" {
		t.Errorf("queries %v, want limit=500 refused, then pages without a limit", qs)
	}
}

// How IMS's last page ends is not documented: with the images only, or with Glance's links
// as on the IMS host's Glance. Either way the listing ends on the page without images, and the
// links are not followed.
func TestEndsOnAnEmptyPageWhateverItCarries(t *testing.T) {
	c, s := newClient(t, client.Options{}, "", func(q url.Values) (int, string) {
		if q.Get("marker") == "" {
			return http.StatusOK, `{"images": [{"id": "i1", "status": "active", "__image_size": "1"}],
			  "next": "/v2/cloudimages?marker=elsewhere", "first": "/v2/cloudimages", "schema": "/v2/schemas/images"}`
		}
		return http.StatusOK, `{"images": [], "first": "/v2/cloudimages", "schema": "/v2/schemas/images"}`
	})
	images, err := list(c, client.ListOptions{})
	if err != nil || len(images) != 1 {
		t.Fatalf("%d images, %v", len(images), err)
	}
	if qs := queries(s); len(qs) != 2 || qs[1].Get("marker") != "i1" {
		t.Errorf("queries %v, want the first page, then marker=i1", qs)
	}
}
