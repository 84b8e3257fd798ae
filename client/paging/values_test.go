package paging_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/client/glance"
	"github.com/nova-image-exporter/nova_image_exporter/client/ims"
	"github.com/nova-image-exporter/nova_image_exporter/client/internal/clienttest"
	"github.com/nova-image-exporter/nova_image_exporter/client/nova"
)

// minInt64 is the most negative number an int64 holds: before, the exporter's own marker
// of a number not sent, so that an image sending it dropped out of every sum unseen.
const minInt64 = "-9223372036854775808"

// Every number of an image the API may send is checked as sent: the most negative int64 is
// a negative number, which fails the listing as every other does, not a number not sent.
func TestTheMostNegativeNumberFailsTheListing(t *testing.T) {
	for _, tt := range []struct {
		api, field, image string
	}{
		{"nova", "OS-EXT-IMG-SIZE:size", `{"id": "i1", "status": "ACTIVE", "OS-EXT-IMG-SIZE:size": ` + minInt64 + `}`},
		{"nova", "minDisk", `{"id": "i1", "status": "ACTIVE", "minDisk": ` + minInt64 + `}`},
		{"nova", "minRam", `{"id": "i1", "status": "ACTIVE", "minRam": ` + minInt64 + `}`},
		{"nova", "progress", `{"id": "i1", "status": "ACTIVE", "progress": ` + minInt64 + `}`},
		{"glance", "size", `{"id": "i1", "status": "active", "size": ` + minInt64 + `}`},
		{"glance", "virtual_size", `{"id": "i1", "status": "active", "virtual_size": ` + minInt64 + `}`},
		{"glance", "min_disk", `{"id": "i1", "status": "active", "min_disk": ` + minInt64 + `}`},
		{"ims", "__image_size", `{"id": "i1", "status": "active", "__image_size": "` + minInt64 + `"}`},
		{"ims", "__image_size", `{"id": "i1", "status": "active", "__image_size": ` + minInt64 + `}`},
		{"ims", "virtual_size", `{"id": "i1", "status": "active", "virtual_size": ` + minInt64 + `}`},
		{"ims", "min_disk", `{"id": "i1", "status": "active", "min_disk": ` + minInt64 + `}`},
	} {
		t.Run(tt.api+"/"+tt.field, func(t *testing.T) {
			srv := clienttest.NewServer(t, func(_ int, r *http.Request) (int, http.Header, string) {
				if r.URL.Query().Get("marker") != "" || r.URL.Query().Get("os_hidden") != "" {
					return clienttest.OK(`{"images": []}`)
				}
				return clienttest.OK(fmt.Sprintf(`{"images": [%s]}`, tt.image))
			})
			auth := secretAuth(srv.URL, "tok", "pw")
			opts := client.Options{RetryBackoff: time.Millisecond}
			var c client.ImageSource
			switch tt.api {
			case "nova":
				c = nova.New(auth, opts)
			case "glance":
				c = glance.New(auth, opts)
			case "ims":
				c = ims.New(auth, opts, "")
			}
			images, err := client.Collect(context.Background(), c, client.ListOptions{})
			if err == nil || !strings.Contains(err.Error(), tt.field+" is negative ("+minInt64+")") {
				t.Errorf("%d images %+v, error %v; want the listing failed on %s", len(images), images, err, tt.field)
			}
		})
	}
}

// A quota's limit or usage not sent is an error (nova_image_quota_up 0), never an unlimited
// quota nor a usage of nothing.
func TestAQuotaFieldNotSentIsAnError(t *testing.T) {
	for _, tt := range []struct {
		api, body, want string
	}{
		{"ims", `{"quotas": {"resources": [{"type": "image", "used": 3}]}}`, "quota image: no quota"},
		{"ims", `{"quotas": {"resources": [{"type": "image", "used": 3, "quota": null}]}}`, "quota image: no quota"},
		{"ims", `{"quotas": {"resources": [{"type": "image", "quota": 10}]}}`, "quota image: no used"},
		{"glance", `{"usage": {"image_count_total": {"usage": 3}}}`, "quota image_count_total: no limit"},
		{"glance", `{"usage": {"image_count_total": {"limit": 10}}}`, "quota image_count_total: no usage"},
	} {
		t.Run(tt.api+"/"+tt.want, func(t *testing.T) {
			srv := clienttest.NewServer(t, func(int, *http.Request) (int, http.Header, string) { return clienttest.OK(tt.body) })
			auth := secretAuth(srv.URL, "tok", "pw")
			var c client.QuotaSource = glance.New(auth, client.Options{})
			if tt.api == "ims" {
				c = ims.New(auth, client.Options{}, "")
			}
			quotas, err := c.Quotas(context.Background())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("quotas %+v, error %v; want %q", quotas, err, tt.want)
			}
		})
	}
}
