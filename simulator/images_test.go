package simulator

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestDefaultImages(t *testing.T) {
	imgs := DefaultImages(testNow)
	ids := map[string]bool{}
	var nilName, nilUpdated, nilSize, snapshots int
	for i, im := range imgs {
		ids[im.ID] = true
		if i > 0 && !im.Created.After(imgs[i-1].Created) {
			t.Errorf("not oldest first at %d", i)
		}
		if im.Name == nil {
			nilName++
		}
		if im.Updated == nil {
			nilUpdated++
		}
		if im.Size == nil {
			nilSize++
		}
		if im.ServerID != "" {
			snapshots++
		}
	}
	if len(ids) != len(imgs) || nilName != 1 || nilUpdated != 1 || nilSize != 1 || snapshots != 1 {
		t.Errorf("ids %d/%d nilName %d nilUpdated %d nilSize %d snapshots %d", len(ids), len(imgs), nilName, nilUpdated, nilSize, snapshots)
	}
	if imgs[0].ID != DefaultIDCirros || imgs[0].MinDisk != 1 || imgs[0].MinRAM != 512 || imgs[0].Metadata["os_distro"] != "cirros" {
		t.Errorf("cirros %+v", imgs[0])
	}
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestGenerateImages(t *testing.T) {
	a := GenerateImages(400, 42, testNow)
	b := GenerateImages(400, 42, testNow)
	c := GenerateImages(400, 43, testNow)
	if len(a) != 400 {
		t.Fatalf("len %d", len(a))
	}
	encode := func(imgs []Image) string {
		var buf []byte
		for i := range imgs {
			buf = appendNovaImage(buf, &imgs[i], "h", "p", nil)
		}
		return string(buf)
	}
	if encode(a) != encode(b) {
		t.Errorf("not deterministic for the same seed")
	}
	if encode(a) == encode(c) {
		t.Errorf("different seeds give the same images")
	}
	var snapshots, active, nonASCII, nested, nulls int
	statuses := map[string]int{}
	ids := map[string]bool{}
	var minSize, maxSize int64 = 1 << 62, 0
	for _, im := range a {
		ids[im.ID] = true
		if !uuidRE.MatchString(im.ID) {
			t.Errorf("id %q", im.ID)
		}
		if n := len(im.Metadata); n < 10 || n > 20 {
			t.Errorf("%d metadata keys", n)
		}
		if im.ServerID != "" {
			snapshots++
			if im.Metadata["image_type"] != "snapshot" || im.Metadata["instance_uuid"] != im.ServerID {
				t.Errorf("snapshot metadata %v", im.Metadata)
			}
		}
		statuses[im.Status]++
		if im.Status == "active" {
			active++
		}
		if im.Name != nil && strings.ContainsFunc(*im.Name, func(r rune) bool { return r > 127 }) {
			nonASCII++
		}
		for _, v := range im.Metadata {
			switch v.(type) {
			case map[string]any:
				nested++
			case nil:
				nulls++
			}
		}
		if im.Size != nil {
			minSize = min(minSize, *im.Size)
			maxSize = max(maxSize, *im.Size)
		}
		if im.Created.After(testNow) || (im.Updated != nil && im.Updated.Before(im.Created)) {
			t.Errorf("times %v %v", im.Created, im.Updated)
		}
	}
	if len(ids) != 400 {
		t.Errorf("duplicate ids")
	}
	if snapshots != 100 {
		t.Errorf("%d snapshots of 400", snapshots)
	}
	if active < 280 || active > 360 || len(statuses) < 6 {
		t.Errorf("statuses %v", statuses)
	}
	if nonASCII == 0 || nested == 0 || nulls < 400 {
		t.Errorf("nonASCII %d nested %d nulls %d", nonASCII, nested, nulls)
	}
	if minSize > 4<<20 || maxSize < 10<<30 {
		t.Errorf("sizes %d..%d", minSize, maxSize)
	}
}

func TestSetImages(t *testing.T) {
	sim, srv, tok := newTest(t, Options{})
	sim.SetImages(DefaultImages(testNow)[:2])
	p := decodePage(t, do(t, "GET", srv.URL+"/v2.1/images/detail", tok, nil, ""))
	if !slices.Equal(p.ids(), []string{DefaultIDQueued, DefaultIDCirros}) {
		t.Errorf("ids %v", p.ids())
	}
	sim.SetImages(nil)
	if r := do(t, "GET", srv.URL+"/v2.1/images/detail", tok, nil, ""); string(r.body) != `{"images": []}` {
		t.Errorf("empty set body %s", r.body)
	}
	// New with nil Images falls back to DefaultImages.
	s := New(Options{})
	if len(s.images) != len(DefaultImages(time.Now())) {
		t.Errorf("default set has %d images", len(s.images))
	}
}

func TestFullImages(t *testing.T) {
	def, full := DefaultImages(testNow), FullImages(testNow)
	if len(full) != len(def)+2 {
		t.Fatalf("%d images", len(full))
	}
	var hidden, importing int
	for i, im := range full {
		if i > 0 && !im.Created.After(full[i-1].Created) {
			t.Errorf("not oldest first at %d", i)
		}
		if im.Hidden {
			hidden++
		}
		if im.Status == "importing" {
			importing++
		}
		if im.Hidden && im.ID != DefaultIDHidden || im.Status == "importing" && im.ID != DefaultIDImporting {
			t.Errorf("image %s", im.ID)
		}
	}
	if hidden != 1 || importing != 1 {
		t.Errorf("hidden %d importing %d", hidden, importing)
	}
	for _, im := range def {
		if im.Hidden || im.Status == "importing" {
			t.Errorf("DefaultImages holds %s", im.ID)
		}
	}
}
