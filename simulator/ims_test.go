package simulator

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nova-image-exporter/nova_image_exporter/simulator/simtest"
)

// imsPage decodes an IMS listing, which holds nothing but "images".
func imsPage(t testing.TB, r response) []map[string]any {
	t.Helper()
	if r.code != http.StatusOK {
		t.Fatalf("status %d: %s", r.code, r.body)
	}
	if keys := jsonKeys(t, r.body); !slices.Equal(keys, []string{"images"}) {
		t.Errorf("page keys %v", keys)
	}
	var p struct{ Images []map[string]any }
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("%v: %s", err, r.body)
	}
	return p.Images
}

func imsIDs(imgs []map[string]any) []string {
	var out []string
	for _, im := range imgs {
		out = append(out, im["id"].(string))
	}
	return out
}

// imsWalk lists every page of query with the given limit, marker after marker, until a
// page with no images; it returns the ids and the page sizes.
func imsWalk(t testing.TB, srv, tok, query string) ([]string, []int) {
	t.Helper()
	var ids []string
	var sizes []int
	marker := ""
	for range 50 {
		u := srv + "/v2/cloudimages?" + query
		if marker != "" {
			u += "&marker=" + marker
		}
		page := imsPage(t, do(t, "GET", u, tok, nil, ""))
		sizes = append(sizes, len(page))
		if len(page) == 0 {
			return ids, sizes
		}
		ids = append(ids, imsIDs(page)...)
		marker = ids[len(ids)-1]
	}
	t.Fatal("the listing does not end")
	return nil, nil
}

func TestIMSImageView(t *testing.T) {
	imgs := FullImages(testNow)
	_, srv, tok := newTest(t, Options{Images: imgs})
	page := imsPage(t, do(t, "GET", srv.URL+"/v2/cloudimages", tok, nil, ""))
	// IMS has no os_hidden: it lists every image, newest first.
	if got, want := imsIDs(page), slices.Insert(visibleIDs(imgs), 9, DefaultIDHidden); !slices.Equal(got, want) {
		t.Errorf("ids\n%v, want\n%v", got, want)
	}
	byID := map[string]map[string]any{}
	for _, im := range page {
		byID[im["id"].(string)] = im
	}
	snap := byID[DefaultIDSnapshot]
	for k, want := range map[string]any{
		"size": 0.0, "__image_size": "3072", "virtual_size": nil, "min_disk": 1.0, "min_ram": 64.0, "protected": false,
		"__data_origin": "instance," + DefaultSnapshotServerID, "__imagetype": "private", "visibility": "private",
		"status": "active", "name": "server-snapshot-1", "owner": proj,
		"created_at": testNow.Add(-12 * time.Hour).Format("2006-01-02T15:04:05Z"),
		"image_type": "snapshot", "instance_uuid": DefaultSnapshotServerID,
	} {
		if snap[k] != want {
			t.Errorf("snapshot %s = %#v, want %#v", k, snap[k], want)
		}
	}
	// A public (gold) image has no __image_size and is protected, as in the vendor's examples.
	for id, want := range map[string][4]any{
		DefaultIDCirros:    {"gold", "public", nil, true},
		DefaultIDQueued:    {"private", "private", "0", false}, // no data: "0", as Nova's 0
		DefaultIDNoName:    {"gold", "public", nil, true},      // another owner, but public
		DefaultIDUnicode:   {"gold", "public", nil, true},      // community
		DefaultIDHidden:    {"private", "private", "4194304", false},
		DefaultIDKilled:    {"private", "private", "0", false},
		DefaultIDImporting: {"private", "private", "0", false},
	} {
		im := byID[id]
		if im["__imagetype"] != want[0] || im["visibility"] != want[1] || im["__image_size"] != want[2] || im["protected"] != want[3] || im["__data_origin"] != "" {
			t.Errorf("%s: %v %v %v %v %q", id, im["__imagetype"], im["visibility"], im["__image_size"], im["protected"], im["__data_origin"])
		}
		if _, ok := im["__image_size"]; ok != (want[2] != nil) {
			t.Errorf("%s: __image_size sent %v", id, ok)
		}
	}
	if byID[DefaultIDKilled]["updated_at"] != nil || byID[DefaultIDQueued]["virtual_size"] != nil || byID[DefaultIDNoName]["name"] != nil {
		t.Errorf("nulls: %v %v %v", byID[DefaultIDKilled]["updated_at"], byID[DefaultIDQueued]["virtual_size"], byID[DefaultIDNoName]["name"])
	}
	if byID[DefaultIDImporting]["status"] != "importing" {
		t.Errorf("importing shown as %v", byID[DefaultIDImporting]["status"])
	}
}

func TestIMSPaging(t *testing.T) {
	many := GenerateImages(23, 9, testNow)
	want := visibleIDs(many)
	t.Run("by marker until an empty page", func(t *testing.T) {
		sim, srv, tok := newTest(t, Options{Images: many})
		ids, sizes := imsWalk(t, srv.URL, tok, "limit=5")
		if !slices.Equal(ids, want) || !slices.Equal(sizes, []int{5, 5, 5, 5, 3, 0}) {
			t.Errorf("sizes %v, ids %v", sizes, ids)
		}
		for _, r := range sim.Requests() {
			if r.API != APIIMS || r.Path != "/v2/cloudimages" {
				t.Errorf("record %+v", r)
			}
		}
	})
	t.Run("the server caps the limit", func(t *testing.T) {
		_, srv, tok := newTest(t, Options{Images: many, IMSMaxLimit: 4})
		ids, sizes := imsWalk(t, srv.URL, tok, "limit=10")
		// Short pages although more follow: a client that stops on one stops early.
		if !slices.Equal(ids, want) || !slices.Equal(sizes, []int{4, 4, 4, 4, 4, 3, 0}) {
			t.Errorf("sizes %v", sizes)
		}
	})
	t.Run("default limit 500", func(t *testing.T) {
		_, srv, tok := newTest(t, Options{Images: GenerateImages(501, 2, testNow)})
		if n := len(imsPage(t, do(t, "GET", srv.URL+"/v2/cloudimages", tok, nil, ""))); n != 500 {
			t.Errorf("%d images", n)
		}
	})
}

func TestIMSFilters(t *testing.T) {
	imgs := FullImages(testNow)
	sim, srv, tok := newTest(t, Options{Images: imgs})
	at := func(h int) string { return testNow.Add(-time.Duration(h) * time.Hour).Format(time.RFC3339) }
	tests := []struct {
		query string
		want  []string
	}{
		{"name=queued-no-data", []string{DefaultIDQueued}},
		{"status=saving", []string{DefaultIDSaving}},
		{"__imagetype=gold", []string{DefaultIDNoName, DefaultIDUnicode, DefaultIDCirros}},
		{"__imagetype=market", nil},
		{"min_disk=3", []string{DefaultIDNoName}},
		{"min_ram=128", []string{DefaultIDHidden}},
		{"updated_at=gte:" + at(9), []string{DefaultIDNoName, DefaultIDUnicode, DefaultIDImporting}},
		{"created_at=lt:" + at(40) + "&status=active", []string{DefaultIDHidden, DefaultIDCirros}},
		{"enterprise_project_id=all_granted_eps&name=queued-no-data", []string{DefaultIDQueued}},
	}
	for _, tc := range tests {
		if got := imsIDs(imsPage(t, do(t, "GET", srv.URL+"/v2/cloudimages?"+tc.query, tok, nil, ""))); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.query, got, tc.want)
		}
	}
	if !slices.ContainsFunc(sim.Requests(), func(r RequestRecord) bool {
		return strings.Contains(r.RawQuery, "enterprise_project_id=all_granted_eps")
	}) {
		t.Errorf("enterprise_project_id not recorded")
	}
	for _, tc := range []struct{ query, code, msg string }{
		{"status=importing", "IMG.0001", "Invalid status value: importing"},
		{"__imagetype=bogus", "IMG.0024", "The imagetype is invalid."},
		{"limit=x", "IMG.0001", "Invalid limit value: x"},
		{"min_ram=abc", "IMG.0001", "Invalid min_ram value: abc"},
		{"updated_at=foo:2026-01-01T00:00:00Z", "IMG.0001", "Unable to filter on a unknown operator."},
		{"marker=00000000-0000-0000-0000-000000000000", "IMG.0001", "Invalid marker: 00000000-0000-0000-0000-000000000000"},
	} {
		r := do(t, "GET", srv.URL+"/v2/cloudimages?"+tc.query, tok, nil, "")
		want := `{"error": {"message": "` + tc.msg + `", "code": "` + tc.code + `"}}`
		if r.code != 400 || string(r.body) != want || r.header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: %d %s, want %s", tc.query, r.code, r.body, want)
		}
	}
}

// TestIMSAKSK signs IMS requests with the same signer as ECS's (TestSDKSignatureVectors):
// the signed host is the host the request goes to; the project is X-Project-Id's.
func TestIMSAKSK(t *testing.T) {
	clock := simtest.NewClock(testNow)
	opts := akskOptions(clock)
	opts.Images = FullImages(testNow)
	sim, srv, _ := newTest(t, opts)
	if got := imsIDs(imsPage(t, send(t, akskRequest(t, srv.URL+"/v2/cloudimages?limit=2&name=server-snapshot-1", clock)))); !slices.Equal(got, []string{DefaultIDSnapshot}) {
		t.Errorf("ids %v", got)
	}
	// Signed for another host (an IMS host name the request did not go to).
	req := akskRequest(t, srv.URL+"/v2/cloudimages", clock)
	req.Host = "ims.cn-north-4.myhuaweicloud.com"
	checkAPIGW0301(t, send(t, req), "verify aksk signature fail")
	// Signed for the IMS host and sent there (Host header): accepted.
	req, _ = http.NewRequest("GET", srv.URL+"/v2/cloudimages?limit=1", nil)
	req.URL.Host = "ims.cn-north-4.myhuaweicloud.com"
	req.Header.Set("X-Project-Id", proj)
	signAKSK(t, req, testAK, testSK, clock.Now(), "host", "x-project-id", "x-sdk-date")
	req.Host, req.URL.Host = req.URL.Host, strings.TrimPrefix(srv.URL, "http://")
	if n := len(imsPage(t, send(t, req))); n != 1 {
		t.Errorf("%d images", n)
	}
	req = akskRequest(t, srv.URL+"/v2/cloudimages", clock)
	req.Header.Set("X-Project-Id", "ffffffffffffffffffffffffffffffff")
	checkAPIGW0301(t, send(t, req), "X-Project-Id")
	checkAPIGW0301(t, do(t, "GET", srv.URL+"/v2/cloudimages", "gAAAAAbad", nil, ""), "decrypt token fail")
	checkAPIGW0301(t, do(t, "GET", srv.URL+"/v2/cloudimages", "", nil, ""), "decrypt token fail")
	if sim.ImagesRequests() != 2 {
		t.Errorf("ImagesRequests %d, want the 2 accepted", sim.ImagesRequests())
	}
}

func TestIMSFaults(t *testing.T) {
	sim, srv, tok := newTest(t, Options{Images: FullImages(testNow)})
	u := srv.URL + "/v2/cloudimages?limit=3"
	sim.SetFaults(always(Fault{Status: 429, Gateway: true}))
	if r := do(t, "GET", u, tok, nil, ""); r.code != 429 || !strings.Contains(string(r.body), `"error_code": "APIGW.0308"`) {
		t.Errorf("429: %d %s", r.code, r.body)
	}
	sim.SetFaults(always(Fault{Status: 500, Message: "boom"}))
	if r := do(t, "GET", u, tok, nil, ""); r.code != 500 || string(r.body) != `{"error": {"message": "boom", "code": "IMG.0000"}}` {
		t.Errorf("500: %d %s", r.code, r.body)
	}
	sim.SetFaults(always(Fault{Garbage: true}))
	if r := do(t, "GET", u, tok, nil, ""); r.code != 200 || json.Valid(r.body) {
		t.Errorf("garbage: %d %s", r.code, r.body)
	}
	sim.SetFaults(nil)
	first := imsIDs(imsPage(t, do(t, "GET", u, tok, nil, "")))
	sim.SetFaults(always(Fault{Loop: true, InvalidUTF8: true}))
	r := do(t, "GET", u+"&marker="+first[2], tok, nil, "")
	if !strings.Contains(string(r.body), "bad-\xff\xfe-name-0") {
		t.Errorf("no invalid UTF-8 name: %.200s", r.body)
	}
	sim.SetFaults(always(Fault{Loop: true}))
	if got := imsIDs(imsPage(t, do(t, "GET", u+"&marker="+first[2], tok, nil, ""))); !slices.Equal(got, first) {
		t.Errorf("loop %v, want %v", got, first)
	}
}
