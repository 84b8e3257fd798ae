package exposition

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/nova-image-exporter/nova_image_exporter/client"
)

func TestMetadataLabelName(t *testing.T) {
	for key, want := range map[string]string{
		"image_type": "metadata_image_type", "__imagetype": "metadata___imagetype", "__os_type": "metadata___os_type",
		"hw:cpu-policy": "metadata_hw_cpu_policy", "名前": "metadata___",
	} {
		if got := MetadataLabelName(key); got != want {
			t.Errorf("MetadataLabelName(%q) = %q, want %q", key, got, want)
		}
	}
}

func TestNewImageExportsRejects(t *testing.T) {
	for _, tt := range []struct {
		labels, filters []string
		want            string
	}{
		{[]string{"a-b", "a_b"}, nil, `"a-b" and "a_b" both become label metadata_a_b`},
		{nil, []string{"novalue"}, "want KEY=VALUE or KEY!=VALUE"},
		{nil, []string{"=gold"}, "empty metadata key"},
	} {
		if _, err := NewImageExports(true, tt.labels, tt.filters, PerImagePolicy{}); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("NewImageExports(%q, %q): %v, want %q", tt.labels, tt.filters, err, tt.want)
		}
	}
}

// exportImages are Huawei-style images with __imagetype and __os_type metadata.
var exportImages = []client.Image{
	{ID: "g1", Name: "public-gold", Status: "ACTIVE", Size: 1, Metadata: client.Metadata{{Key: "__imagetype", Value: "gold"}, {Key: "__os_type", Value: "Linux"}}},
	{ID: "p1", Name: "my-private", Status: "ACTIVE", Size: 2, Metadata: client.Metadata{{Key: "image_type", Value: "snapshot"}, {Key: "__imagetype", Value: "private"}, {Key: "__os_type", Value: "Windows"}}},
	{ID: "x1", Name: "no-metadata", Status: "SAVING", Size: 3},
}

func TestMetadataLabelsAndFilters(t *testing.T) {
	exports, err := NewImageExports(true, []string{"image_type", "__imagetype", "__os_type"}, []string{"__imagetype!=gold"}, PerImagePolicy{})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(exports.MetadataKeys(), ","); got != "image_type,__imagetype,__os_type" {
		t.Errorf("metadata keys %s", got)
	}
	served := gatherText(t, listed(exportImages, exports, true, 0))
	const want = `
# HELP nova_image_info Always 1; server_id is the instance a snapshot was taken from, empty for other images; api_status is the status as the image API sent it (Glance's importing, which Nova calls UNKNOWN); visibility is public, private, shared or community, empty where the API has none (nova); owner is the id of the project that owns the image, empty where the API sends none (nova); metadata_* labels hold the image's metadata values (--images.metadata-label), empty when absent.
# TYPE nova_image_info gauge
nova_image_info{api_status="",id="p1",metadata___imagetype="private",metadata___os_type="Windows",metadata_image_type="snapshot",name="my-private",owner="",server_id="",visibility=""} 1
nova_image_info{api_status="",id="x1",metadata___imagetype="",metadata___os_type="",metadata_image_type="",name="no-metadata",owner="",server_id="",visibility=""} 1
# HELP nova_images Images per Nova status (ACTIVE, SAVING, DELETED, ERROR, UNKNOWN, or another status upper-cased); Glance's and IMS's statuses mapped as Nova's images proxy maps them.
# TYPE nova_images gauge
nova_images{status="ACTIVE"} 2
nova_images{status="DELETED"} 0
nova_images{status="ERROR"} 0
nova_images{status="SAVING"} 1
nova_images{status="UNKNOWN"} 0
`
	if err := testutil.GatherAndCompare(served, strings.NewReader(want), "nova_image_info", "nova_images"); err != nil {
		t.Error(err)
	}
}

func TestPerImageMetricsOff(t *testing.T) {
	exports, err := NewImageExports(false, []string{"image_type"}, nil, PerImagePolicy{})
	if err != nil {
		t.Fatal(err)
	}
	served := gatherText(t, listed(exportImages, exports, true, 0))
	// nova_images and nova_images_size_bytes (5 statuses each), nova_up, duration, listing
	// age and unreadable fields: no per-image series.
	if n, _ := testutil.GatherAndCount(served); n != 14 {
		t.Errorf("%d series with per-image metrics off, want 14", n)
	}
	if n, _ := testutil.GatherAndCount(served, "nova_images"); n != 5 {
		t.Errorf("%d nova_images series, want 5", n)
	}
}
