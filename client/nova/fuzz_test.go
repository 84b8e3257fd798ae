package nova

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/client/paging"
	"github.com/nova-image-exporter/nova_image_exporter/simulator"
)

// simulatorPages returns real-shaped bodies from the simulator: the default images in one
// page and in pages of 3, and generated images with rich metadata.
func simulatorPages(tb testing.TB) [][]byte {
	tb.Helper()
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	var bodies [][]byte
	for _, images := range [][]simulator.Image{simulator.DefaultImages(now), simulator.GenerateImages(20, 1, now)} {
		sim := simulator.New(simulator.Options{Images: images})
		srv := httptest.NewServer(sim)
		for _, query := range []string{"", "?limit=3"} {
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v2.1/images/detail"+query, nil)
			req.Header.Set("X-Auth-Token", sim.IssueToken())
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				tb.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			bodies = append(bodies, body)
		}
		srv.Close()
	}
	return bodies
}

// FuzzDecodePage feeds arbitrary bodies to the page decoder: it must never panic or hang,
// and whatever it accepts must be an image the collector can export.
func FuzzDecodePage(f *testing.F) {
	for _, body := range simulatorPages(f) {
		f.Add(body)
	}
	f.Add([]byte(`{"images": [{"id": "a", "status": "ACTIVE", "created": "2026-11-28T10:00:00+0200", "name": "\xff"}], "images_links": [{"rel": "next"}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		resp := &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(bytes.NewReader(body))}
		_, _ = decodePage(resp, paging.Decoding{MaxBytes: 1 << 20, MetadataKeys: []string{"image_type", "__imagetype"}}, func(img client.Image) error {
			if img.ID == "" || img.Status == "" {
				t.Fatalf("accepted an image without id or status: %+v", img)
			}
			for _, v := range []int64{img.Size, img.MinDisk, img.MinRAM, img.Progress} {
				if v < 0 {
					t.Fatalf("accepted a negative value: %+v", img)
				}
			}
			return nil
		})
	})
}
