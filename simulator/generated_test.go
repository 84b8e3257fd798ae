package simulator

import (
	"math"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestGeneratedListsEveryImageByMarker walks a generated set through Nova's pages by marker:
// every image once, newest first, as the set makes it.
func TestGeneratedListsEveryImageByMarker(t *testing.T) {
	const n = 2345
	sim, srv, tok := newTest(t, Options{Generated: Generated{N: n, Seed: 3, Now: testNow}})
	var got []string
	next := srv.URL + "/v2.1/" + proj + "/images/detail?limit=1000"
	for range 10 {
		p := decodePage(t, do(t, "GET", next, tok, nil, ""))
		got = append(got, p.ids()...)
		if len(p.Links) == 0 {
			break
		}
		u, _ := url.Parse(p.Links[0].Href)
		next = srv.URL + u.Path + "?" + u.RawQuery
	}
	if len(got) != n {
		t.Fatalf("listed %d images, want %d", len(got), n)
	}
	g := sim.generated
	var prev time.Time
	for i, id := range got {
		img := g.image(i)
		if id != img.ID {
			t.Fatalf("image %d is %s, want %s", i, id, img.ID)
		}
		if i > 0 && !img.Created.Before(prev) {
			t.Fatalf("image %d created %v, not before %v", i, img.Created, prev)
		}
		prev = img.Created
	}
	if len(slices.Compact(slices.Sorted(slices.Values(got)))) != n {
		t.Error("ids repeat")
	}
}

// TestGeneratedIsLikeGenerateImages compares a generated set with GenerateImages' images:
// the same statuses, snapshots, owners, sizes and metadata in about the same proportions.
func TestGeneratedIsLikeGenerateImages(t *testing.T) {
	const n = 20000
	g := Generated{N: n, Seed: 1, Now: testNow}.normalized(testNow)
	made := make([]Image, n)
	for i := range made {
		made[i] = g.image(i)
	}
	a, b := imageShares(made), imageShares(GenerateImages(n, 1, testNow))
	for k, want := range b {
		if math.Abs(a[k]-want) > 0.015 {
			t.Errorf("%s: %.3f of the generated set, %.3f of GenerateImages'", k, a[k], want)
		}
	}
	if a["snapshot"] != 0.25 {
		t.Errorf("snapshots %.3f, want a quarter", a["snapshot"])
	}
}

// imageShares is the share of imgs in each status, snapshots, other owners, nil names,
// sizes above 1 GiB and metadata counts (keys per image over 20).
func imageShares(imgs []Image) map[string]float64 {
	m := map[string]float64{}
	for _, s := range genStatuses {
		m["status "+s.status] = 0
	}
	for i := range imgs {
		img := &imgs[i]
		m["status "+img.Status]++
		if img.ServerID != "" {
			m["snapshot"]++
		}
		if img.Owner != defaultProjectID {
			m["other owner"]++
		}
		if img.Name == nil {
			m["no name"]++
		}
		if img.Size != nil && *img.Size > 1<<30 {
			m["over 1 GiB"]++
		}
		m["metadata keys/20"] += float64(len(img.Metadata)) / 20
	}
	for k := range m {
		m[k] /= float64(len(imgs))
	}
	return m
}

// TestGeneratedHoldsNothingPerImage serves the last images of a set of a hundred million
// images: the set is made on demand, never held. A marker the set did not make is unknown.
func TestGeneratedHoldsNothingPerImage(t *testing.T) {
	const n = maxGenerated
	sim, srv, tok := newTest(t, Options{Generated: Generated{N: n, Seed: 1}})
	marker := sim.generated.image(n - 3).ID
	p := decodePage(t, do(t, "GET", srv.URL+"/v2.1/"+proj+"/images/detail?limit=10&marker="+marker, tok, nil, ""))
	if want := []string{sim.generated.image(n - 2).ID, sim.generated.image(n - 1).ID}; !slices.Equal(p.ids(), want) {
		t.Errorf("the page after image n-3 is %v, want %v", p.ids(), want)
	}
	forged := "f" + marker[1:] // the index of image n-3, another id
	if strings.HasPrefix(marker, "f") {
		forged = "e" + marker[1:]
	}
	if r := do(t, "GET", srv.URL+"/v2.1/"+proj+"/images/detail?marker="+forged, tok, nil, ""); r.code != 400 {
		t.Errorf("a forged marker: %d %s, want 400", r.code, r.body)
	}
}
