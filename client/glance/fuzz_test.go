package glance

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/client/paging"
)

// FuzzDecodePage feeds arbitrary bodies to the page decoder: it must never panic or hang,
// and whatever it accepts must be an image the collector can export.
func FuzzDecodePage(f *testing.F) {
	f.Add([]byte(`{"images": [`+imgSnapshot+`], "first": "/v2/images?limit=1", "schema": "/v2/schemas/images", "next": "/v2/images?limit=1&marker=97b81eca-9106-4ea1-9cf8-a2590026cd1d"}`), false)
	f.Add([]byte(`{"images": [`+imgHidden+`], "first": "/v2/images?os_hidden=true", "schema": "/v2/schemas/images"}`), false)
	f.Add([]byte(`{"images": [{"id": "a", "status": "importing", "created_at": "2026-11-28T10:00:00+0200", "name": "\xff", "instance_uuid": 1, "image_type": {"x": "\u0000"}}], "next": null}`), false)
	f.Add([]byte(`{"images": [{"id": "a", "status": "active", "size": 0, "__image_size": "-1"}]}`), true)
	f.Fuzz(func(t *testing.T, body []byte, imsHost bool) {
		resp := &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(bytes.NewReader(body))}
		_, _ = decodePage(resp, paging.Decoding{MaxBytes: 1 << 20, MetadataKeys: []string{"image_type", "instance_uuid", "os_hidden"}}, imsHost, func(img client.Image) error {
			if img.ID == "" || img.APIStatus == "" || img.Status == "" {
				t.Fatalf("accepted an image without id or status: %+v", img)
			}
			for _, v := range []int64{img.Size, img.VirtualSize, img.MinDisk, img.MinRAM, img.Progress} {
				if v < 0 {
					t.Fatalf("accepted a negative value: %+v", img)
				}
			}
			return nil
		})
	})
}
