package collector

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/collector/exposition"
)

// manyOwned are n images of three owners, one in ten not ACTIVE, and the first image listed
// again at the end (a page boundary that moved).
func manyOwned(n int) []client.Image {
	images := make([]client.Image, 0, n+1)
	for i := range n {
		status := "ACTIVE"
		if i%10 == 0 {
			status = "SAVING"
		}
		images = append(images, client.Image{ID: fmt.Sprintf("img-%06d", i), Name: fmt.Sprintf("image number %d", i),
			Status: status, Owner: fmt.Sprintf("project-%d", i%3), Visibility: "private", Size: 1000})
	}
	return append(images, images[0])
}

func mustExports(t *testing.T, policy exposition.PerImagePolicy) *exposition.ImageExports {
	t.Helper()
	exports, err := exposition.NewImageExports(true, []string{"image_type"}, nil, policy)
	if err != nil {
		t.Fatal(err)
	}
	return exports
}

// A listing with per-image series for the images not ACTIVE keeps those alone: its length
// and its charge are theirs and the tally's, while the counts cover every image, once.
func TestRestrictivePolicyKeepsOnlyExportedImages(t *testing.T) {
	const n = 20000
	images := manyOwned(n)
	memory := NewMemory(0, 0)
	listings := NewListings(&fakeLister{images: images}, 0).WithMemory(memory)
	exports := mustExports(t, exposition.PerImagePolicy{Statuses: []string{"!ACTIVE"}})
	inventory, err := listings.Inventory(context.Background(), ListingRequest{Exports: exports})
	if err != nil {
		t.Fatal(err)
	}
	defer inventory.Release()
	if got := inventory.Len(); got != n/10 {
		t.Errorf("%d images kept, want the %d not ACTIVE", got, n/10)
	}
	var kept int64
	for _, img := range inventory.Images() {
		kept += client.ImageBytes(*img)
	}
	all := int64(0)
	for _, img := range images[:n] {
		all += client.ImageBytes(img)
	}
	if held, want := memory.heldBytes(), kept+inventory.tally.Bytes(); held != want || inventory.bytes != want {
		t.Errorf("%d bytes charged (%d counted), want %d: the images kept and the tally", held, inventory.bytes, want)
	}
	if held := memory.heldBytes(); held > all/4 {
		t.Errorf("%d bytes charged, more than a quarter of the %d bytes of every image", held, all)
	}
	t.Logf("%d images listed: %d bytes charged for %d kept, %d the tally (%d for every image)",
		n, memory.heldBytes(), inventory.Len(), inventory.tally.Bytes(), all)
	if owners := inventory.Owners(); !slices.Equal(owners, []string{"project-0", "project-1", "project-2"}) {
		t.Errorf("owners %q", owners)
	}
	h := &Handler{Resolve: StaticTarget(Target{Listings: listings}), Exports: exports, Timeouts: ScrapeTimeouts{Default: time.Minute}}
	const want = `
# HELP nova_images Images per Nova status (ACTIVE, SAVING, DELETED, ERROR, UNKNOWN, or another status upper-cased); Glance's and IMS's statuses mapped as Nova's images proxy maps them.
# TYPE nova_images gauge
nova_images{status="ACTIVE"} 18000
nova_images{status="DELETED"} 0
nova_images{status="ERROR"} 0
nova_images{status="SAVING"} 2000
nova_images{status="UNKNOWN"} 0
# HELP nova_images_size_bytes Bytes of the images per Nova status, every listed image counted whatever gets per-image series; an image without a size counts 0.
# TYPE nova_images_size_bytes gauge
nova_images_size_bytes{status="ACTIVE"} 1.8e+07
nova_images_size_bytes{status="DELETED"} 0
nova_images_size_bytes{status="ERROR"} 0
nova_images_size_bytes{status="SAVING"} 2e+06
nova_images_size_bytes{status="UNKNOWN"} 0
# HELP nova_project_images Images per owning project (project_id, the image's owner) and Nova status, every listed image counted; only the statuses a project has images in; none where the API sends no owner (nova) or the project metrics are off (--no-images.project-metrics, project_metrics: false).
# TYPE nova_project_images gauge
nova_project_images{project_id="project-0",status="ACTIVE"} 6000
nova_project_images{project_id="project-0",status="SAVING"} 667
nova_project_images{project_id="project-1",status="ACTIVE"} 6000
nova_project_images{project_id="project-1",status="SAVING"} 667
nova_project_images{project_id="project-2",status="ACTIVE"} 6000
nova_project_images{project_id="project-2",status="SAVING"} 666
`
	served := scrapeText(t, h)
	if err := testutil.GatherAndCompare(served, strings.NewReader(want), "nova_images", "nova_images_size_bytes", "nova_project_images"); err != nil {
		t.Error(err)
	}
	if n, _ := testutil.GatherAndCount(served, "nova_image_status"); n != 2000 {
		t.Errorf("%d nova_image_status series, want 2000: the first image, listed twice, once", n)
	}
}

// Listings with exports that keep other images are other listings, in flight and in the
// cache: a scrape is never given an inventory kept for another policy.
func TestPoliciesDoNotShareAListing(t *testing.T) {
	lister := &fakeLister{images: manyOwned(100)}
	listings := NewListings(lister, time.Hour)
	notActive := mustExports(t, exposition.PerImagePolicy{Statuses: []string{"!ACTIVE"}})
	otherLabels, err := exposition.NewImageExports(true, []string{"os_distro"}, nil, exposition.PerImagePolicy{Statuses: []string{"!active"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		exports *exposition.ImageExports
		kept    int
		calls   int
	}{
		{nil, 100, 1},
		{notActive, 10, 2},
		{mustExports(t, exposition.PerImagePolicy{Owners: []string{"project-1"}}), 33, 3},
		{exposition.DefaultImageExports(), 100, 3}, // keeps what nil keeps: the cached listing
		{otherLabels, 10, 3}, // other labels, the same images
	} {
		inventory, err := listings.Inventory(context.Background(), ListingRequest{Exports: tt.exports})
		if err != nil {
			t.Fatal(err)
		}
		if inventory.Len() != tt.kept || lister.calls != tt.calls {
			t.Errorf("exports %q: %d images kept after %d listings, want %d after %d", tt.exports.Key(), inventory.Len(), lister.calls, tt.kept, tt.calls)
		}
		inventory.Release()
	}
}

// Without the project families, nothing is counted per owner and there are no owners.
func TestProjectMetricsOff(t *testing.T) {
	listings := NewListings(&fakeLister{images: manyOwned(30)}, 0).WithProjectMetrics(false)
	h := &Handler{Resolve: StaticTarget(Target{Listings: listings}), Timeouts: ScrapeTimeouts{Default: time.Minute}}
	served := scrapeText(t, h)
	if n, _ := testutil.GatherAndCount(served, "nova_project_images", "nova_project_images_size_bytes"); n != 0 {
		t.Errorf("%d project series with the project metrics off", n)
	}
	if n, _ := testutil.GatherAndCount(served, "nova_image_info"); n != 30 {
		t.Errorf("%d nova_image_info series, want 30", n)
	}
	inventory, err := listings.Inventory(context.Background(), ListingRequest{})
	if err != nil {
		t.Fatal(err)
	}
	defer inventory.Release()
	if owners := inventory.Owners(); owners != nil || listings.ProjectMetrics() {
		t.Errorf("owners %q, project metrics %t", owners, listings.ProjectMetrics())
	}
}

// An image listed but not kept leaves nothing allocated behind: the tally's table of ids
// grows now and then, nothing else.
func TestDroppedImageAllocatesNothing(t *testing.T) {
	const runs = 10000
	images := manyOwned(runs + 1)
	exports := mustExports(t, exposition.PerImagePolicy{Statuses: []string{"ERROR"}})
	inventory := Inventory{tally: exposition.NewTally(true)}
	next := 0
	allocs := testing.AllocsPerRun(runs, func() {
		if err := inventory.add(images[next], exports); !errors.Is(err, client.ErrDropped) {
			t.Fatalf("image %d: %v, want it dropped", next, err)
		}
		next++
	})
	if allocs != 0 || inventory.Len() != 0 {
		t.Errorf("%v allocations per image dropped, %d kept; want none", allocs, inventory.Len())
	}
}
