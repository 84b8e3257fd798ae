package exposition

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/nova-image-exporter/nova_image_exporter/client"
)

// ownedImages are Glance-style images of two projects and the public images' owner, one
// listed twice, one without a size, one in a status outside the five.
var ownedImages = []client.Image{
	{ID: "a1", Name: "base", Status: "ACTIVE", Owner: "public", Visibility: "public", Size: 100},
	{ID: "a2", Name: "web", Status: "ACTIVE", Owner: "proj-a", Visibility: "private", Size: 10},
	{ID: "a3", Name: "web-snap", Status: "SAVING", Owner: "proj-a", Visibility: "private", Missing: client.FieldSize},
	{ID: "b1", Name: "db", Status: "ERROR", Owner: "proj-b", Visibility: "shared", Size: 7},
	{ID: "b2", Name: "odd", Status: "PENDING_UPLOAD", Owner: "proj-b", Visibility: "private", Size: 3},
	{ID: "a2", Name: "web", Status: "ACTIVE", Owner: "proj-a", Visibility: "private", Size: 10},
}

const wantTally = `
# HELP nova_images Images per Nova status (ACTIVE, SAVING, DELETED, ERROR, UNKNOWN, or another status upper-cased); Glance's and IMS's statuses mapped as Nova's images proxy maps them.
# TYPE nova_images gauge
nova_images{status="ACTIVE"} 2
nova_images{status="DELETED"} 0
nova_images{status="ERROR"} 1
nova_images{status="PENDING_UPLOAD"} 1
nova_images{status="SAVING"} 1
nova_images{status="UNKNOWN"} 0
# HELP nova_images_size_bytes Bytes of the images per Nova status, every listed image counted whatever gets per-image series; an image without a size counts 0.
# TYPE nova_images_size_bytes gauge
nova_images_size_bytes{status="ACTIVE"} 110
nova_images_size_bytes{status="DELETED"} 0
nova_images_size_bytes{status="ERROR"} 7
nova_images_size_bytes{status="PENDING_UPLOAD"} 3
nova_images_size_bytes{status="SAVING"} 0
nova_images_size_bytes{status="UNKNOWN"} 0
# HELP nova_project_images Images per owning project (project_id, the image's owner) and Nova status, every listed image counted; only the statuses a project has images in; none where the API sends no owner (nova) or the project metrics are off (--no-images.project-metrics, project_metrics: false).
# TYPE nova_project_images gauge
nova_project_images{project_id="proj-a",status="ACTIVE"} 1
nova_project_images{project_id="proj-a",status="SAVING"} 1
nova_project_images{project_id="proj-b",status="ERROR"} 1
nova_project_images{project_id="proj-b",status="PENDING_UPLOAD"} 1
nova_project_images{project_id="public",status="ACTIVE"} 1
# HELP nova_project_images_size_bytes Bytes of the images per owning project and Nova status, as nova_project_images counts them; an image without a size counts 0.
# TYPE nova_project_images_size_bytes gauge
nova_project_images_size_bytes{project_id="proj-a",status="ACTIVE"} 10
nova_project_images_size_bytes{project_id="proj-a",status="SAVING"} 0
nova_project_images_size_bytes{project_id="proj-b",status="ERROR"} 7
nova_project_images_size_bytes{project_id="proj-b",status="PENDING_UPLOAD"} 3
nova_project_images_size_bytes{project_id="public",status="ACTIVE"} 100
`

var tallyFamilies = []string{"nova_images", "nova_images_size_bytes", "nova_project_images", "nova_project_images_size_bytes"}

// The counts and bytes cover every listed image once, whatever gets per-image series: here
// only the images not ACTIVE do.
func TestTallyCountsEveryImageOnce(t *testing.T) {
	exports, err := NewImageExports(true, nil, nil, PerImagePolicy{Statuses: []string{"!active"}})
	if err != nil {
		t.Fatal(err)
	}
	s := listed(ownedImages, exports, true, 0)
	if err := testutil.GatherAndCompare(gatherText(t, s), strings.NewReader(wantTally), tallyFamilies...); err != nil {
		t.Error(err)
	}
	if got := ids(s.images); got != "a3,b1,b2" {
		t.Errorf("per-image series for %s, want a3,b1,b2", got)
	}
	if got := s.tally.Owners(); !slices.Equal(got, []string{"proj-a", "proj-b", "public"}) {
		t.Errorf("owners %q", got)
	}
	requireClientGolangEncoding(t, s, func(k sink) { emit(k, s) })
}

// Where the API sends no owner (Nova), and where the project families are off, there is no
// project sample, and no owner; the bytes per status remain.
func TestNoProjectFamilies(t *testing.T) {
	noOwner := slices.Clone(ownedImages)
	for i := range noOwner {
		noOwner[i].Owner, noOwner[i].Visibility = "", ""
	}
	for name, s := range map[string]*Scrape{
		"nova":     listed(noOwner, DefaultImageExports(), true, 0),
		"off":      listed(ownedImages, DefaultImageExports(), false, 0),
		"nova off": listed(noOwner, DefaultImageExports(), false, 0),
	} {
		served := gatherText(t, s)
		if n, _ := testutil.GatherAndCount(served, "nova_project_images", "nova_project_images_size_bytes"); n != 0 {
			t.Errorf("%s: %d project series, want none", name, n)
		}
		if n, _ := testutil.GatherAndCount(served, "nova_images_size_bytes"); n != 6 {
			t.Errorf("%s: %d nova_images_size_bytes series, want 6", name, n)
		}
		if owners := s.tally.Owners(); owners != nil {
			t.Errorf("%s: owners %q, want none", name, owners)
		}
	}
}

// Each field of the policy lets through one of its values (any when it has none) and none
// of its !values; the fields and the metadata filters must all let an image through.
func TestPerImagePolicy(t *testing.T) {
	for _, tt := range []struct {
		policy  PerImagePolicy
		filters []string
		want    string
	}{
		{PerImagePolicy{}, nil, "a1,a2,a3,b1,b2"},
		{PerImagePolicy{Statuses: []string{"!ACTIVE"}}, nil, "a3,b1,b2"},
		{PerImagePolicy{Statuses: []string{"saving", "ERROR"}}, nil, "a3,b1"},
		{PerImagePolicy{Statuses: []string{"!ACTIVE", "!pending_upload"}}, nil, "a3,b1"},
		{PerImagePolicy{Owners: []string{"proj-b"}}, nil, "b1,b2"},
		{PerImagePolicy{Owners: []string{"!public"}, Visibilities: []string{"private"}}, nil, "a2,a3,b2"},
		{PerImagePolicy{Visibilities: []string{"!public", "!shared"}, Statuses: []string{"!ACTIVE"}}, nil, "a3,b2"},
		{PerImagePolicy{Owners: []string{"proj-a"}}, []string{"image_type=snapshot"}, ""},
	} {
		exports, err := NewImageExports(true, nil, tt.filters, tt.policy)
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(listed(ownedImages, exports, true, 0).images); got != tt.want {
			t.Errorf("%+v %q: per-image series for %q, want %q", tt.policy, tt.filters, got, tt.want)
		}
	}
}

func TestPerImagePolicyRejects(t *testing.T) {
	for _, tt := range []struct {
		policy PerImagePolicy
		want   string
	}{
		{PerImagePolicy{Statuses: []string{""}}, `--images.per-image-status "": want a Nova status such as ACTIVE`},
		{PerImagePolicy{Statuses: []string{"!"}}, `--images.per-image-status "!": want a Nova status`},
		{PerImagePolicy{Statuses: []string{"ACTIVE|SAVING"}}, "a status is letters, digits, _ and -"},
		{PerImagePolicy{Statuses: []string{strings.Repeat("A", 65)}}, "at most 64 bytes"},
		{PerImagePolicy{Owners: []string{" "}}, `--images.per-image-owner " ": want a project id`},
		{PerImagePolicy{Owners: []string{strings.Repeat("p", 300)}}, "at most 255 bytes"},
		{PerImagePolicy{Visibilities: []string{"!Public"}}, `--images.per-image-visibility "!Public": want one of public, private, shared, community`},
	} {
		_, err := NewImageExports(true, nil, nil, tt.policy)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: %v, want %q", tt.policy, err, tt.want)
		}
		if err != nil && len(err.Error()) > 300 {
			t.Errorf("%+v: an error of %d bytes", tt.policy, len(err.Error()))
		}
	}
}

// Two exports keep the same images exactly when their keys are equal, whatever labels they
// export; nil keeps every image, as the default exports.
func TestExportsKey(t *testing.T) {
	mustExports := func(perImage bool, labels, filters []string, policy PerImagePolicy) string {
		t.Helper()
		e, err := NewImageExports(perImage, labels, filters, policy)
		if err != nil {
			t.Fatal(err)
		}
		return e.Key()
	}
	base := mustExports(true, []string{"image_type"}, nil, PerImagePolicy{})
	if none := (*ImageExports)(nil).Key(); none != base {
		t.Errorf("nil's key %q, the default's %q", none, base)
	}
	if other := mustExports(true, []string{"other"}, nil, PerImagePolicy{}); other != base {
		t.Errorf("labels change the key: %q, %q", base, other)
	}
	for _, other := range []string{
		mustExports(false, []string{"image_type"}, nil, PerImagePolicy{}),
		mustExports(true, nil, []string{"a=b"}, PerImagePolicy{}),
		mustExports(true, nil, nil, PerImagePolicy{Statuses: []string{"!ACTIVE"}}),
		mustExports(true, nil, nil, PerImagePolicy{Statuses: []string{"ACTIVE"}}),
		mustExports(true, nil, nil, PerImagePolicy{Owners: []string{"ACTIVE"}}),
		mustExports(true, nil, nil, PerImagePolicy{Visibilities: []string{"public"}}),
	} {
		if other == base {
			t.Errorf("key %q for exports that keep other images", other)
		}
	}
}

// A listing's ids are known by their hashes: every new one is added, every one again is not.
func TestIDSet(t *testing.T) {
	var s idSet
	for round := range 2 {
		for h := range uint64(5000) {
			if added := s.add(h * 0x9E3779B97F4A7C15); added != (round == 0) {
				t.Fatalf("round %d: add(%d) = %t", round, h, added)
			}
		}
	}
	if s.n != 5000 || s.bytes() != 8*8192 { // 5000 > 3/4 of 4096
		t.Errorf("%d hashes in %d bytes, want 5000 in %d", s.n, s.bytes(), 8*8192)
	}
}

func ids(images []*client.Image) string {
	var ids []string
	for _, img := range images {
		ids = append(ids, img.ID)
	}
	return strings.Join(ids, ",")
}

// A hostile cloud's sizes never make a sum of bytes wrap negative: 8 193 images of the
// largest size a client takes (1 PiB) pass int64, and the sums stay at its largest value.
func TestTallyBytesNeverWrap(t *testing.T) {
	tally := NewTally(true)
	for i := range 8193 {
		tally.Add(&client.Image{ID: "i" + strconv.Itoa(i), Status: "ACTIVE", Owner: "p", Size: 1 << 50})
	}
	for _, c := range []*count{tally.statuses["ACTIVE"], tally.projects[projectStatus{"p", "ACTIVE"}]} {
		if c.images != 8193 || c.bytes != math.MaxInt64 {
			t.Errorf("%d images of 1 PiB count %d bytes, want %d", c.images, c.bytes, int64(math.MaxInt64))
		}
	}
}
