package glance

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/client/cloud"
	"github.com/nova-image-exporter/nova_image_exporter/client/internal/clienttest"
	"github.com/nova-image-exporter/nova_image_exporter/simulator"
)

// Open Telekom Cloud's examples of Glance on the IMS host: public images sized 0 with no
// __image_size (no size known), and a private image whose size 2 is not its size: its
// __image_size is.
func TestReadsTheVendorsGlanceOnTheIMSHost(t *testing.T) {
	listing, private := clienttest.VendorAnswer(t, "otc-glance-list.json"), clienttest.VendorAnswer(t, "otc-glance-image-private.json")
	c, _, _ := newTestClient(t, "", answers(map[string]string{
		"":                                     listing,
		"0328c25e-c840-4496-81ac-c4e01b214b1f": `{"images": [` + private + `], "schema": "/v2/schemas/images", "first": "/v2/images"}`,
	}, noHidden))
	c.onIMSHost = onIMSHost
	images, err := client.Collect(context.Background(), c, client.ListOptions{})
	if err != nil || len(images) != 3 {
		t.Fatalf("%d images, %v", len(images), err)
	}
	for _, img := range images[:2] {
		if img.Visibility != "public" || img.Missing&(client.FieldSize|client.FieldVirtualSize) != client.FieldSize|client.FieldVirtualSize {
			t.Errorf("public image %+v, want no size nor virtual size", img)
		}
	}
	if img := images[2]; img.Size != 449261568 || img.Missing&client.FieldVirtualSize == 0 {
		t.Errorf("private image %+v, want its __image_size, 449261568 bytes, and no virtual size", img)
	}
}

// Every key IMS documents as always present can be a label through Glance on the IMS host,
// on every image the simulator lists there; each image's size is its __image_size.
func TestTheOSKeysAreLabelsThroughTheSimulator(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	sim := simulator.New(simulator.Options{Images: simulator.FullImages(now)})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	keys := []string{"__os_type", "active_at", "__platform", "__os_version", "__os_bit"}
	c := New(&cloud.StaticToken{Token: sim.IssueToken(), ImageEndpoint: srv.URL}, client.Options{MetadataKeys: keys})
	c.onIMSHost = onIMSHost
	images, err := client.Collect(context.Background(), c, client.ListOptions{})
	if err != nil || len(images) != 11 {
		t.Fatalf("%d images, %v", len(images), err)
	}
	for _, img := range images {
		if len(img.Metadata) != len(keys) {
			t.Errorf("%s: metadata %+v, want every one of %v", img.ID, img.Metadata, keys)
		}
		if img.ID == simulator.DefaultIDSnapshot && img.Size != 3072 {
			t.Errorf("snapshot of %d bytes, want its __image_size, 3072", img.Size)
		}
	}
}
