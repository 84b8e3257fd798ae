package simulator

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/nova-image-exporter/nova_image_exporter/simulator/simtest"
)

// quotaImage is an image of owner in status with size bytes (nil: none) and metadata md.
func quotaImage(id, owner, status string, size *int64, md map[string]any) Image {
	if md == nil {
		md = map[string]any{}
	}
	return Image{ID: id, Name: strPtr(id), Status: status, Size: size, Owner: owner, Metadata: md,
		Created: testNow, Visibility: "private"}
}

func TestGlanceUsageWithoutUnifiedLimits(t *testing.T) {
	sim, srv, tok := newTest(t, Options{})
	r := do(t, "GET", srv.URL+"/image/v2/info/usage", tok, nil, "")
	if r.code != 200 || string(r.body) != `{"usage": {}}` || r.header.Get("Content-Type") != "application/json" ||
		r.header.Get("x-openstack-request-id") == "" {
		t.Errorf("%d %q %v", r.code, r.body, r.header)
	}
	if got := sim.QuotaRequests(); len(got) != 1 || got[0].API != APIGlanceQuota || got[0].Path != "/image/v2/info/usage" {
		t.Errorf("QuotaRequests %+v", got)
	}
	if len(sim.Requests()) != 0 || sim.ImagesRequests() != 0 {
		t.Errorf("a quota request counted as a listing: %d %d", len(sim.Requests()), sim.ImagesRequests())
	}
}

// TestGlanceUsageAsGlance checks each resource's usage against the rules of Glance's
// glance/db/sqlalchemy/api.py over an image set that tells them apart.
func TestGlanceUsageAsGlance(t *testing.T) {
	const mi = 1 << 20
	sz := func(n int64) *int64 { return &n }
	copying := map[string]any{"os_glance_importing_to_stores": "ceph"}
	other := "ffffffffffffffffffffffffffffffff"
	imgs := []Image{
		quotaImage("active-3.5", proj, "active", sz(3*mi+mi/2), nil),                                             // stored
		quotaImage("active-0.6", proj, "active", sz(600<<10), nil),                                               // stored: the sum is rounded, not each
		quotaImage("deactivated-1", proj, "deactivated", sz(mi), nil),                                            // stored
		quotaImage("pending-2", proj, "pending_delete", sz(2*mi), nil),                                           // stored, counted
		quotaImage("killed-5", proj, "killed", sz(5*mi), copying),                                                // nothing
		quotaImage("deleted-5", proj, "deleted", sz(5*mi), nil),                                                  // nothing
		quotaImage("queued", proj, "queued", nil, nil),                                                           // counted
		quotaImage("saving-8", proj, "saving", sz(8*mi), nil),                                                    // uploading, no location yet
		quotaImage("uploading-3", proj, "uploading", sz(3*mi), nil),                                              // staged, uploading
		quotaImage("importing-1.5", proj, "importing", sz(mi+mi/2), copying),                                     // staged once, uploading once
		quotaImage("copying-2", proj, "active", sz(2*mi), copying),                                               // stored, staged, uploading
		quotaImage("copying-empty", proj, "active", sz(mi), map[string]any{"os_glance_importing_to_stores": ""}), // stored only
		quotaImage("other-100", other, "active", sz(100*mi), nil),                                                // another project's
	}
	hidden := quotaImage("hidden-1", proj, "active", sz(mi), nil)
	hidden.Hidden = true
	imgs = append(imgs, hidden) // stored, counted
	// stored: 3.5 + 0.5859 + 1 + 2 + 2 + 1 + 1 = 11.09 MiB; staged: 3 + 1.5 + 2 = 6.5 MiB;
	// counted: all of the project's but killed and deleted; uploading: saving, uploading,
	// importing and copying-2.
	limits := map[string]int64{GlanceImageSizeTotal: 1000, GlanceImageCountTotal: -1, GlanceImageCountUploading: 5}
	sim, srv, tok := newTest(t, Options{Images: imgs, GlanceQuotas: limits})
	limits[GlanceImageSizeTotal] = 1 // the simulator keeps its own copy
	want := `{"usage": {"image_size_total": {"usage": 11, "limit": 1000}, ` +
		`"image_stage_total": {"usage": 6, "limit": 0}, ` +
		`"image_count_total": {"usage": 11, "limit": -1}, ` +
		`"image_count_uploading": {"usage": 4, "limit": 5}}}`
	r := do(t, "GET", srv.URL+"/image/v2/info/usage", tok, nil, "")
	if r.code != 200 || string(r.body) != want {
		t.Errorf("%d\n%s, want\n%s", r.code, r.body, want)
	}

	// As the CI integration test checks on the real Glance: one more image moves
	// image_count_total by one.
	sim.SetImages(append(slices.Clone(imgs), quotaImage("new", proj, "queued", nil, nil)))
	var u struct {
		Usage map[string]struct{ Usage, Limit int64 }
	}
	if err := json.Unmarshal(do(t, "GET", srv.URL+"/image/v2/info/usage", tok, nil, "").body, &u); err != nil {
		t.Fatal(err)
	}
	if got := u.Usage[GlanceImageCountTotal]; got.Usage != 12 || got.Limit != -1 {
		t.Errorf("after one more image: %+v", got)
	}
}

// TestGlanceUsageDefaultImages pins the usage of FullImages, the set the exporter's tests
// read through every API.
func TestGlanceUsageDefaultImages(t *testing.T) {
	_, srv, tok := newTest(t, Options{Images: FullImages(testNow), GlanceQuotas: map[string]int64{}})
	// Stored: cirros 21430272 + deactivated 2048 + snapshot 3072 + unicode 1024 + hidden
	// 4194304 bytes = 24.4 MiB; counted: the 11 but killed, deleted and another owner's;
	// uploading: saving and importing.
	want := `{"usage": {"image_size_total": {"usage": 24, "limit": 0}, "image_stage_total": {"usage": 0, "limit": 0}, ` +
		`"image_count_total": {"usage": 8, "limit": 0}, "image_count_uploading": {"usage": 2, "limit": 0}}}`
	if r := do(t, "GET", srv.URL+"/image/v2/info/usage", tok, nil, ""); string(r.body) != want {
		t.Errorf("%s, want\n%s", r.body, want)
	}
}

func TestGlanceUsageErrors(t *testing.T) {
	sim, srv, tok := newTest(t, Options{GlancePrefix: "/", GlanceQuotas: map[string]int64{}})
	u := srv.URL + "/v2/info/usage"
	r := do(t, "GET", u, "gAAAAAbad", map[string]string{"Accept": "application/json"}, "")
	if r.code != 401 || r.header.Get("WWW-Authenticate") != `Keystone uri="`+srv.URL+`"` ||
		!strings.HasPrefix(string(r.body), `{"message": "This server could not verify that you are authorized`) {
		t.Errorf("401: %d %v %s", r.code, r.header, r.body)
	}
	r = do(t, "POST", u, tok, nil, "")
	if r.code != 405 || r.header.Get("Allow") != "GET" || !strings.Contains(string(r.body), "<title>405 Method Not Allowed</title>") {
		t.Errorf("405: %d %v %s", r.code, r.header, r.body)
	}
	if r := do(t, "GET", srv.URL+"/image/v2/info/usage", tok, nil, ""); r.code != 404 {
		t.Errorf("under the default prefix with prefix /: %d", r.code)
	}
	if r := do(t, "GET", u, tok, nil, ""); r.code != 200 || !strings.HasPrefix(string(r.body), `{"usage": {"image_size_total": `) {
		t.Errorf("at the root: %d %s", r.code, r.body)
	}
	var apis []string
	for _, rec := range sim.QuotaRequests() {
		apis = append(apis, rec.Method+" "+rec.API)
	}
	if want := []string{"GET glance_quota", "POST glance_quota", "GET glance_quota"}; !slices.Equal(apis, want) {
		t.Errorf("records %q, want %q (the 404 is no quota request)", apis, want)
	}
}

func TestIMSQuota(t *testing.T) {
	imgs := FullImages(testNow)
	shared := quotaImage("shared-with-us", "ffffffffffffffffffffffffffffffff", "active", nil, nil)
	imgs = append(imgs, shared)
	t.Run("defaults, used from the image set", func(t *testing.T) {
		sim, srv, tok := newTest(t, Options{Images: imgs})
		// Private: queued, saving, killed, deactivated, snapshot, hidden, importing (the
		// deleted one is not); shared: the other project's private image.
		want := `{"quotas": {"resources": [{"type": "image", "used": 7, "quota": 20, "min": 1, "max": 1000}, ` +
			`{"type": "image_shared", "used": 1, "quota": 100, "min": 1, "max": 1000}, ` +
			`{"type": "image_member", "used": 0, "quota": 128, "min": 1, "max": 256}]}}`
		r := do(t, "GET", srv.URL+"/v1/cloudimages/quota", tok, nil, "")
		if r.code != 200 || string(r.body) != want || r.header.Get("Content-Type") != "application/json" {
			t.Errorf("%d %s, want\n%s", r.code, r.body, want)
		}
		if got := sim.QuotaRequests(); len(got) != 1 || got[0].API != APIIMSQuota || got[0].Path != "/v1/cloudimages/quota" {
			t.Errorf("QuotaRequests %+v", got)
		}
		if len(sim.Requests()) != 0 || sim.ImagesRequests() != 0 {
			t.Errorf("a quota request counted as a listing")
		}
	})
	t.Run("configured, unlimited and given usage", func(t *testing.T) {
		used := int64(17)
		_, srv, tok := newTest(t, Options{Images: imgs, IMSQuotas: []IMSQuota{
			{Type: IMSQuotaImage, Quota: -1, Min: 1, Max: 1000},
			{Type: IMSQuotaImageMember, Quota: 128, Min: 1, Max: 128, Used: &used},
		}})
		want := `{"quotas": {"resources": [{"type": "image", "used": 7, "quota": -1, "min": 1, "max": 1000}, ` +
			`{"type": "image_member", "used": 17, "quota": 128, "min": 1, "max": 128}]}}`
		if r := do(t, "GET", srv.URL+"/v1/cloudimages/quota", tok, nil, ""); string(r.body) != want {
			t.Errorf("%s, want\n%s", r.body, want)
		}
	})
	t.Run("none", func(t *testing.T) {
		_, srv, tok := newTest(t, Options{IMSQuotas: []IMSQuota{}})
		if r := do(t, "GET", srv.URL+"/v1/cloudimages/quota", tok, nil, ""); string(r.body) != `{"quotas": {"resources": []}}` {
			t.Errorf("%s", r.body)
		}
	})
}

func TestIMSQuotaAuth(t *testing.T) {
	clock := simtest.NewClock(testNow)
	sim, srv, tok := newTest(t, akskOptions(clock))
	u := srv.URL + "/v1/cloudimages/quota"
	if r := send(t, akskRequest(t, u, clock)); r.code != 200 || !strings.HasPrefix(string(r.body), `{"quotas": {"resources": [{"type": "image", "used": `) {
		t.Errorf("AK/SK: %d %s", r.code, r.body)
	}
	req := akskRequest(t, u, clock)
	req.Header.Set("X-Project-Id", "ffffffffffffffffffffffffffffffff")
	checkAPIGW0301(t, send(t, req), "X-Project-Id")
	checkAPIGW0301(t, do(t, "GET", u, "gAAAAAbad", nil, ""), "decrypt token fail")
	if r := do(t, "DELETE", u, tok, nil, ""); r.code != 405 || string(r.body) != `{"error": {"message": "The method is not allowed.", "code": "IMG.0000"}}` {
		t.Errorf("405: %d %s", r.code, r.body)
	}
	if n := len(sim.QuotaRequests()); n != 4 || sim.ImagesRequests() != 0 {
		t.Errorf("%d quota requests recorded, %d listings counted", n, sim.ImagesRequests())
	}
}

// TestQuotaFaults fails the quota requests beside good listings, and the listings beside
// good quota requests: the two plans are apart, each counting its own requests.
func TestQuotaFaults(t *testing.T) {
	sim, srv, tok := newTest(t, Options{GlanceQuotas: map[string]int64{GlanceImageCountTotal: 10}})
	glance, ims := srv.URL+"/image/v2/info/usage", srv.URL+"/v1/cloudimages/quota"
	listing := srv.URL + "/image/v2/images"
	var seen []string
	sim.SetQuotaFaults(func(n int, r *http.Request) Fault {
		seen = append(seen, r.URL.Path)
		if n == 1 {
			return Fault{}
		}
		return Fault{Status: 500, Message: "quota backend down"}
	})
	jsonAccept := map[string]string{"Accept": "application/json"}
	if r := do(t, "GET", glance, tok, jsonAccept, ""); r.code != 500 || !strings.HasPrefix(string(r.body), `{"message": "quota backend down<br />`) {
		t.Errorf("Glance quota: %d %s", r.code, r.body)
	}
	if r := do(t, "GET", listing, tok, nil, ""); r.code != 200 {
		t.Errorf("listing beside a failed quota: %d", r.code)
	}
	if r := do(t, "GET", ims, tok, nil, ""); r.code != 200 {
		t.Errorf("second quota request (n=1): %d %s", r.code, r.body)
	}
	if r := do(t, "GET", ims, tok, nil, ""); r.code != 500 || string(r.body) != `{"error": {"message": "quota backend down", "code": "IMG.0000"}}` {
		t.Errorf("IMS quota: %d %s", r.code, r.body)
	}
	if want := []string{"/image/v2/info/usage", "/v1/cloudimages/quota", "/v1/cloudimages/quota"}; !slices.Equal(seen, want) {
		t.Errorf("the quota plan saw %q, want %q", seen, want)
	}

	sim.SetQuotaFaults(nil)
	sim.SetFaults(always(Fault{Status: 503}))
	if r := do(t, "GET", listing, tok, nil, ""); r.code != 503 {
		t.Errorf("listing: %d", r.code)
	}
	if r := do(t, "GET", glance, tok, nil, ""); r.code != 200 {
		t.Errorf("quota beside a failed listing: %d", r.code)
	}
	sim.SetFaults(nil)

	sim.SetQuotaFaults(always(Fault{WrongTypes: true}))
	if r := do(t, "GET", glance, tok, nil, ""); !strings.HasPrefix(string(r.body), `{"usage": {"image_size_total": {"usage": "ten", "limit": 0}`) {
		t.Errorf("wrong types, Glance: %s", r.body)
	}
	if r := do(t, "GET", ims, tok, nil, ""); !strings.HasPrefix(string(r.body), `{"quotas": {"resources": [{"type": "image", "used": "ten", `) {
		t.Errorf("wrong types, IMS: %s", r.body)
	}
	sim.SetQuotaFaults(always(Fault{Huge: 1 << 14}))
	if r := do(t, "GET", ims, tok, nil, ""); r.code != 200 || len(r.body) != 1<<14 || !json.Valid(r.body) {
		t.Errorf("huge: %d %d", r.code, len(r.body))
	}
	sim.SetQuotaFaults(always(Fault{Status: 429, Gateway: true}))
	if r := do(t, "GET", ims, tok, nil, ""); r.code != 429 || !strings.Contains(string(r.body), `"error_code": "APIGW.0308"`) {
		t.Errorf("gateway 429: %d %s", r.code, r.body)
	}
	sim.SetQuotaFaults(always(Fault{Garbage: true}))
	if r := do(t, "GET", glance, tok, nil, ""); r.code != 200 || json.Valid(r.body) {
		t.Errorf("garbage: %d %s", r.code, r.body)
	}
	sim.SetQuotaFaults(always(Fault{TruncateAfter: 10}))
	if _, _, err := readTruncated(t, ims, tok); err == nil {
		t.Errorf("truncated quota read without error")
	}
}
