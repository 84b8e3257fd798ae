package ims

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/client/cloud"
	"github.com/nova-image-exporter/nova_image_exporter/client/internal/clienttest"
)

// newClient is a client of a server answering each request from its query, through an
// authenticator whose token "tok-secret" cannot be renewed.
func newClient(t *testing.T, opts client.Options, epid string, answer func(q url.Values) (int, string)) (*Client, *clienttest.Server) {
	t.Helper()
	s := clienttest.NewServer(t, func(_ int, r *http.Request) (int, http.Header, string) {
		status, body := answer(r.URL.Query())
		return status, nil, body
	})
	opts.RetryBackoff = time.Millisecond
	auth := &clienttest.Auth{URL: s.URL + "/", Token: "tok-secret", Password: "tok-secret", RenewErr: clienttest.ErrCannotRenew}
	return New(auth, opts, epid), s
}

// queries are the queries of the requests s answered.
func queries(s *clienttest.Server) []url.Values {
	var qs []url.Values
	for _, r := range s.Requests() {
		qs = append(qs, r.URL.Query())
	}
	return qs
}

// paths are the paths of the requests s answered.
func paths(s *clienttest.Server) []string {
	var ps []string
	for _, r := range s.Requests() {
		ps = append(ps, r.URL.Path)
	}
	return ps
}

func list(c *Client, opts client.ListOptions) ([]client.Image, error) {
	return client.Collect(context.Background(), c, opts)
}

// A private image of an ECS as IMS documents it (Huawei's ImageInfo): __image_size a
// string, size an unused 0, properties as top-level keys.
const snapshot = `{"__backup_id": "", "__data_origin": "instance,5b1c3e3e-6d3a-4bc8-9c47-1a2b3c4d5e6f",
  "__image_size": "1848573952", "__image_source_type": "uds", "__imagetype": "private", "__isregistered": "true",
  "__os_type": "Linux", "__os_version": "Ubuntu 22.04 server 64bit", "__platform": "Ubuntu", "__os_bit": "64",
  "__support_kvm": "true", "checksum": "d41d8cd98f00b204e9800998ecf8427e", "container_format": "bare",
  "created_at": "2026-11-28T10:47:20Z", "updated_at": "2026-11-28T11:25:17Z", "active_at": "2026-11-28T11:25:17Z",
  "disk_format": "zvhd2", "enterprise_project_id": "0", "file": "/v2/images/img-1/file", "id": "img-1",
  "min_disk": 40, "min_ram": 1024, "name": "web-snap", "owner": "055ae22e", "protected": false,
  "schema": "/v2/schemas/image", "self": "/v2/images/img-1", "size": 0, "status": "active", "tags": ["a=b"],
  "virtual_env_type": "FusionCompute", "virtual_size": 42949672960, "visibility": "private",
  "hw_firmware_type": "bios", "os_distro": {"x": [1, 2]}}`

func TestDecodesIMSFields(t *testing.T) {
	c, _ := newClient(t, client.Options{MetadataKeys: []string{"__os_type", "__support_kvm", "os_distro", "absent", "size"}}, "",
		func(q url.Values) (int, string) {
			if q.Get("marker") != "" {
				return 200, `{"images": []}`
			}
			return 200, `{"images": [` + snapshot + `,
			  {"id": "img-2", "status": "queued", "name": null, "__image_size": null, "virtual_size": null, "min_disk": null,
			   "min_ram": null, "created_at": null, "updated_at": "not a time", "visibility": null, "__data_origin": null, "size": 0},
			  {"id": "img-3", "status": "saving", "__image_size": 2048, "__data_origin": "volume,vol-1"},
			  {"id": "img-4", "status": "killed", "__image_size": "", "__data_origin": "file,obs://bucket/instance,x.qcow2"},
			  {"id": "img-5", "status": "deleted", "__data_origin": "image,cn-south-1,25604208"}]}`
		})
	images, err := list(c, client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ms := func(h, m, s int) int64 { return time.Date(2026, 11, 28, h, m, s, 0, time.UTC).UnixMilli() }
	want := []client.Image{
		{ID: "img-1", Name: "web-snap", Status: "ACTIVE", APIStatus: "active", Visibility: "private",
			ServerID: "5b1c3e3e-6d3a-4bc8-9c47-1a2b3c4d5e6f", Owner: "055ae22e", Size: 1848573952, VirtualSize: 42949672960,
			MinDisk: 40, MinRAM: 1024, Progress: 100, Created: ms(10, 47, 20), Updated: ms(11, 25, 17),
			Metadata: client.Metadata{{Key: "__os_type", Value: "Linux"}, {Key: "__support_kvm", Value: "true"},
				{Key: "size", Value: "0"}, {Key: "os_distro", Value: `{"x": [1, 2]}`}}},
		{ID: "img-2", Status: "SAVING", APIStatus: "queued", Progress: 25, Metadata: client.Metadata{{Key: "size", Value: "0"}}, Problems: []string{`updated_at is not an ISO 8601 time: "not a time"`}, Missing: client.FieldSize | client.FieldVirtualSize | client.FieldMinDisk | client.FieldMinRAM | client.FieldCreated | client.FieldUpdated},
		{ID: "img-3", Status: "SAVING", APIStatus: "saving", Size: 2048, Progress: 50, Missing: client.FieldVirtualSize | client.FieldMinDisk | client.FieldMinRAM | client.FieldCreated | client.FieldUpdated},
		{ID: "img-4", Status: "ERROR", APIStatus: "killed", Missing: client.FieldSize | client.FieldVirtualSize | client.FieldMinDisk | client.FieldMinRAM | client.FieldCreated | client.FieldUpdated},
		{ID: "img-5", Status: "DELETED", APIStatus: "deleted", Missing: client.FieldSize | client.FieldVirtualSize | client.FieldMinDisk | client.FieldMinRAM | client.FieldCreated | client.FieldUpdated},
	}
	clienttest.EqualImages(t, images, want)
}

func TestStatusesMapAsNovasProxy(t *testing.T) {
	for status, want := range map[string][2]any{
		"active": {"ACTIVE", int64(100)}, "queued": {"SAVING", int64(25)}, "saving": {"SAVING", int64(50)},
		"deleted": {"DELETED", int64(0)}, "pending_delete": {"DELETED", int64(0)}, "killed": {"ERROR", int64(0)},
		"importing": {"UNKNOWN", int64(0)}, "ACTIVE": {"UNKNOWN", int64(0)},
	} {
		body := fmt.Sprintf(`{"images": [{"id": "i", "status": %q}]}`, status)
		c, _ := newClient(t, client.Options{}, "", func(q url.Values) (int, string) {
			if q.Get("marker") != "" {
				return 200, `{"images": []}`
			}
			return 200, body
		})
		images, err := list(c, client.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := images[0]; got.Status != want[0] || got.Progress != want[1] || got.APIStatus != status {
			t.Errorf("%s: status %s progress %d api_status %s, want %s %d %s", status, got.Status, got.Progress, got.APIStatus, want[0], want[1], status)
		}
	}
}

func TestBadImageSizeFailsNamingTheField(t *testing.T) {
	for _, size := range []string{`"12 GB"`, `"-1"`, `1.5`, `true`, `{"bytes": 1}`, `"99999999999999999999"`} {
		c, _ := newClient(t, client.Options{}, "", func(url.Values) (int, string) {
			return 200, `{"images": [{"id": "img-x", "status": "active", "__image_size": ` + size + `}]}`
		})
		_, err := list(c, client.ListOptions{})
		if err == nil || !strings.Contains(err.Error(), "__image_size") || !strings.Contains(err.Error(), "img-x") {
			t.Errorf("__image_size %s: %v, want an error naming the image and __image_size", size, err)
		}
	}
}

// The server caps the limit: asked for 500, it answers 2 a page. Every image is listed, and
// the listing ends only on the empty page.
func TestPagesUntilAnEmptyPageWhenTheLimitIsCapped(t *testing.T) {
	ids := []string{"i1", "i2", "i3", "i4", "i5"}
	c, s := newClient(t, client.Options{}, "", func(q url.Values) (int, string) {
		start := 0
		for i, id := range ids {
			if id == q.Get("marker") {
				start = i + 1
			}
		}
		end := min(start+2, len(ids))
		var images []string
		for _, id := range ids[start:end] {
			images = append(images, fmt.Sprintf(`{"id": %q, "status": "active", "__image_size": "1"}`, id))
		}
		return 200, `{"images": [` + strings.Join(images, ",") + `]}`
	})
	images, err := list(c, client.ListOptions{PageSize: 500})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, img := range images {
		got = append(got, img.ID)
	}
	if strings.Join(got, ",") != strings.Join(ids, ",") {
		t.Errorf("listed %v, want %v", got, ids)
	}
	wantMarkers := []string{"", "i2", "i4", "i5"}
	if len(queries(s)) != len(wantMarkers) {
		t.Fatalf("%d requests, want %d: %v", len(queries(s)), len(wantMarkers), queries(s))
	}
	for i, q := range queries(s) {
		if q.Get("marker") != wantMarkers[i] || q.Get("limit") != "500" || paths(s)[i] != "/v2/cloudimages" {
			t.Errorf("request %d: %s %v, want /v2/cloudimages marker=%q limit=500", i, paths(s)[i], q, wantMarkers[i])
		}
	}
}

func TestRefusesAPaginationLoop(t *testing.T) {
	c, s := newClient(t, client.Options{}, "", func(url.Values) (int, string) {
		return 200, `{"images": [{"id": "a", "status": "active"}, {"id": "b", "status": "active"}]}`
	})
	_, err := list(c, client.ListOptions{})
	if err == nil || !strings.Contains(err.Error(), "pagination loop") {
		t.Fatalf("%v, want a pagination loop", err)
	}
	if len(queries(s)) != 2 {
		t.Errorf("%d requests, want 2", len(queries(s)))
	}
}

func TestBoundsPages(t *testing.T) {
	n := 0
	c, _ := newClient(t, client.Options{MaxPages: 3}, "", func(url.Values) (int, string) {
		n++
		return 200, fmt.Sprintf(`{"images": [{"id": "i%d", "status": "active"}]}`, n)
	})
	if _, err := list(c, client.ListOptions{}); err == nil || !strings.Contains(err.Error(), "more than 3 pages") {
		t.Errorf("%v, want the page bound", err)
	}
}

func TestBoundsValues(t *testing.T) {
	for body, want := range map[string]string{
		`{"images": [{"id": "` + strings.Repeat("x", 256) + `", "status": "active"}]}`:      "id longer than 255 bytes",
		`{"images": [{"id": "i", "status": "active", "__image_size": "1125899906842625"}]}`: "__image_size is out of range",
		`{"images": [{"id": "i", "status": "active", "virtual_size": -1}]}`:                 "virtual_size is negative",
		`{"images": [{"id": "i", "status": "active", "min_disk": 1048577}]}`:                "min_disk is out of range",
		`{"images": [{"id": "i", "status": "active", "min_ram": 1073741825}]}`:              "min_ram is out of range",
		`{"images": [{"id": "i"}]}`:                       "no status",
		`{"error": {"code": "IMG.0001", "message": "x"}}`: `no "images" list`,
		`{"images": [{"id": "i", "status": "active", "name": "` + strings.Repeat("n", 2000) + `"}]}`: "larger than 1000 bytes",
	} {
		c, _ := newClient(t, client.Options{MaxResponseBytes: 1000}, "", func(q url.Values) (int, string) {
			if q.Get("marker") != "" {
				return 200, `{"images": []}`
			}
			return 200, body
		})
		if _, err := list(c, client.ListOptions{}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%.80s: %v, want %q", body, err, want)
		}
	}
}

func TestLongLabelsAreCut(t *testing.T) {
	long := strings.Repeat("v", 100)
	c, _ := newClient(t, client.Options{}, "", func(q url.Values) (int, string) {
		if q.Get("marker") != "" {
			return 200, `{"images": []}`
		}
		return 200, `{"images": [{"id": "i", "status": "` + long + `", "visibility": "` + long + `",
		  "__data_origin": "instance,` + strings.Repeat("s", 300) + `"}]}`
	})
	images, err := list(c, client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	img := images[0]
	if len(img.APIStatus) > client.MaxStatusBytes || len(img.Visibility) > client.MaxStatusBytes || len(img.ServerID) > client.MaxIDBytes || img.Status != "UNKNOWN" {
		t.Errorf("api_status %d bytes, visibility %d, server id %d, status %s: want them cut at 64, 64, 255 and UNKNOWN",
			len(img.APIStatus), len(img.Visibility), len(img.ServerID), img.Status)
	}
}

func TestFiltersInIMSTerms(t *testing.T) {
	ram, disk := 1024, 40
	c, s := newClient(t, client.Options{}, "ep-1", func(url.Values) (int, string) { return 200, `{"images": []}` })
	_, err := list(c, client.ListOptions{
		Name: "web – Ü", Status: "saving", ImageType: "private", MinRAM: &ram, MinDisk: &disk, PageSize: 100,
		ChangesSince: time.Date(2026, 11, 28, 13, 47, 14, 0, time.FixedZone("CET", 3600)),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := url.Values{"name": {"web – Ü"}, "status": {"saving"}, "__imagetype": {"private"}, "min_ram": {"1024"},
		"min_disk": {"40"}, "limit": {"100"}, "updated_at": {"gte:2026-11-28T12:47:14Z"}, "enterprise_project_id": {"ep-1"}}
	if len(queries(s)) != 1 || !reflect.DeepEqual(queries(s)[0], want) {
		t.Errorf("queries %v, want one %v", queries(s), want)
	}
	c, s = newClient(t, client.Options{}, "", func(url.Values) (int, string) { return 200, `{"images": []}` })
	if _, err := list(c, client.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	if len(queries(s)) != 1 || len(queries(s)[0]) != 1 || queries(s)[0].Get("limit") != "500" {
		t.Errorf("queries %v, want one with only the default page size", queries(s))
	}
}

func TestRefusesWhatIMSCannotExpress(t *testing.T) {
	c, s := newClient(t, client.Options{}, "", func(url.Values) (int, string) { return 200, `{"images": []}` })
	for _, opts := range []client.ListOptions{{Type: "snapshot"}, {Server: "srv-1"}} {
		err := c.EachImage(context.Background(), opts, func(client.Image) error { return nil })
		var inexpressible *client.InexpressibleError
		if !errors.As(err, &inexpressible) || inexpressible.API != "ims" || !strings.Contains(err.Error(), "ims") {
			t.Errorf("%+v: %v, want an InexpressibleError of ims", opts, err)
		}
	}
	for _, status := range []string{"importing", "uploading", "deactivated", "pending_delete", "ACTIVE"} {
		err := c.CheckOptions(client.ListOptions{Status: status})
		var statusErr *StatusError
		if !errors.As(err, &statusErr) || !strings.Contains(err.Error(), "status") || !strings.Contains(err.Error(), "ims") ||
			!strings.Contains(err.Error(), status) {
			t.Errorf("status %s: %v, want a StatusError naming status, the value and ims", status, err)
		}
	}
	for _, status := range statuses {
		if err := c.CheckOptions(client.ListOptions{Status: status, ImageType: "gold"}); err != nil {
			t.Errorf("status %s: %v", status, err)
		}
	}
	if len(queries(s)) != 0 {
		t.Errorf("%d requests for refused options, want none", len(queries(s)))
	}
	if c.API() != "ims" {
		t.Errorf("API() = %q", c.API())
	}
}

// IMS's error body, {"error": {"code": "IMG.0001", "message": ...}}, gives the fault and the
// message; a secret the server echoes is removed.
func TestIMSErrorsAreReadAndRedacted(t *testing.T) {
	c, _ := newClient(t, client.Options{MaxRetries: -1}, "", func(url.Values) (int, string) {
		return 400, `{"error": {"code": "IMG.0001", "message": "token tok-secret has no access to enterprise project"}}`
	})
	_, err := list(c, client.ListOptions{})
	var apiErr *client.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Fault != "IMG.0001" ||
		!strings.Contains(apiErr.Message, "has no access to enterprise project") {
		t.Fatalf("%v, want an APIError 400 IMG.0001 with its message", err)
	}
	if strings.Contains(err.Error(), "tok-secret") {
		t.Errorf("error %q holds the token", err)
	}
}

func TestTokenInLabelsIsRedacted(t *testing.T) {
	c, _ := newClient(t, client.Options{MetadataKeys: []string{"note"}}, "", func(q url.Values) (int, string) {
		if q.Get("marker") != "" {
			return 200, `{"images": []}`
		}
		return 200, `{"images": [{"id": "i", "status": "active", "name": "n tok-secret", "note": "tok-secret"}]}`
	})
	images, err := list(c, client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s := fmt.Sprint(images); strings.Contains(s, "tok-secret") {
		t.Errorf("images hold the token: %s", s)
	}
}

func TestEndpoints(t *testing.T) {
	for _, endpoint := range []string{"https://ims.cn-north-4.myhuaweicloud.com", "https://ims.cn-north-4.myhuaweicloud.com/"} {
		c := New(&clienttest.Auth{URL: endpoint}, client.Options{HTTPClient: &http.Client{Transport: roundTrip(func(r *http.Request) (*http.Response, error) {
			return nil, fmt.Errorf("offline: %s", r.URL)
		})}, MaxRetries: -1}, "")
		err := c.EachImage(context.Background(), client.ListOptions{}, func(client.Image) error { return nil })
		if err == nil || !strings.Contains(err.Error(), "offline: https://ims.cn-north-4.myhuaweicloud.com/v2/cloudimages") {
			t.Errorf("%s: %v, want a request to /v2/cloudimages on the IMS host", endpoint, err)
		}
	}
	c := New(&clienttest.Auth{URL: "ftp://ims"}, client.Options{}, "")
	if err := c.EachImage(context.Background(), client.ListOptions{}, func(client.Image) error { return nil }); err == nil ||
		!strings.Contains(err.Error(), "image endpoint") {
		t.Errorf("%v, want the image endpoint refused", err)
	}
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// A request to the IMS host signs as ECS's do (client/cloud's vectors), over the IMS host,
// with X-Project-Id.
func TestAKSKSignsTheIMSHost(t *testing.T) {
	auth := &cloud.AKSK{
		AccessKey: "AK", SecretKey: "SK", SecurityToken: "temporary", ProjectID: "p1",
		ImageEndpoint: "https://ims.cn-north-4.myhuaweicloud.com",
		Now:           func() time.Time { return time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC) },
	}
	var req *http.Request
	c := New(auth, client.Options{HTTPClient: &http.Client{Transport: roundTrip(func(r *http.Request) (*http.Response, error) {
		req = r
		return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
			Body: http.NoBody, Request: r}, nil
	})}}, "ep-1")
	_ = c.EachImage(context.Background(), client.ListOptions{Name: "Ubuntu 22.04 – Ü", Status: "active", PageSize: 100}, func(client.Image) error { return nil })
	if req == nil {
		t.Fatal("no request")
	}
	if req.URL.Host != "ims.cn-north-4.myhuaweicloud.com" || req.URL.Path != "/v2/cloudimages" {
		t.Errorf("request to %s", req.URL)
	}
	const wantQuery = "enterprise_project_id=ep-1&limit=100&name=Ubuntu%2022.04%20%E2%80%93%20%C3%9C&status=active"
	if req.URL.RawQuery != wantQuery {
		t.Errorf("query %q, want %q", req.URL.RawQuery, wantQuery)
	}
	for header, want := range map[string]string{"X-Sdk-Date": "20261128T120000Z", "X-Project-Id": "p1", "X-Security-Token": "temporary"} {
		if got := req.Header.Get(header); got != want {
			t.Errorf("%s = %q, want %q", header, got, want)
		}
	}
	signature := cloud.Sign("SK", http.MethodGet, req.URL, "ims.cn-north-4.myhuaweicloud.com", req.Header,
		[]string{"host", "x-project-id", "x-sdk-date", "x-security-token"}, cloud.EmptyBodySHA256)
	want := "SDK-HMAC-SHA256 Access=AK, SignedHeaders=host;x-project-id;x-sdk-date;x-security-token, Signature=" + signature
	if got := req.Header.Get("Authorization"); got != want {
		t.Errorf("Authorization %q, want %q", got, want)
	}
	other := cloud.Sign("SK", http.MethodGet, req.URL, "ecs.cn-north-4.myhuaweicloud.com", req.Header,
		[]string{"host", "x-project-id", "x-sdk-date", "x-security-token"}, cloud.EmptyBodySHA256)
	if other == signature {
		t.Error("the signature does not depend on the host")
	}
}

var _ client.ImageAPI = (*Client)(nil)

// IMS images carry their properties as top-level keys: one whose name differs from a
// field's only in case is a property, and neither fails the listing nor stands for the field.
func TestPropertiesNamedLikeFieldsInAnotherCaseAreProperties(t *testing.T) {
	c, _ := newClient(t, client.Options{MetadataKeys: []string{"STATUS"}}, "", func(q url.Values) (int, string) {
		if q.Get("marker") != "" {
			return 200, `{"images": []}`
		}
		return 200, `{"images": [{"id": "i", "status": "active", "__image_size": "7", "__data_origin": "instance,s1",
		  "__IMAGE_SIZE": "seven", "Min_Ram": "lots", "Id": "j", "STATUS": "killed", "__Data_Origin": "instance,s2"}]}`
	})
	images, err := list(c, client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(images) != 1 || images[0].ID != "i" || images[0].Status != "ACTIVE" || images[0].Size != 7 || images[0].ServerID != "s1" ||
		!images[0].Missing.Has(client.FieldMinRAM) || images[0].Metadata.Get("STATUS") != "killed" {
		t.Errorf("got %+v, want image i, ACTIVE, size 7, server s1, no min_ram, metadata STATUS=killed", images)
	}
}

// With no page size set, the listing asks for IMS's documented default, 500: Huawei
// documents no maximum, and answers 403 to a limit above it.
func TestSendsTheDefaultPageSize(t *testing.T) {
	c, s := newClient(t, client.Options{}, "", func(url.Values) (int, string) { return 200, `{"images": []}` })
	if _, err := list(c, client.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	if len(queries(s)) != 1 || queries(s)[0].Get("limit") != "500" {
		t.Errorf("queries %v, want one with limit=500", queries(s))
	}
}

// IMS documents virtual_size as "unavailable currently" (null in its examples, *int32 in
// Huawei's SDK): only a positive number is a virtual size.
func TestVirtualSizeOnlyWhenPositive(t *testing.T) {
	for body, want := range map[string]int64{`null`: 0, `0`: 0, `1073741824`: 1 << 30} {
		c, _ := newClient(t, client.Options{}, "", func(q url.Values) (int, string) {
			if q.Get("marker") != "" {
				return 200, `{"images": []}`
			}
			return 200, `{"images": [{"id": "i", "status": "active", "__image_size": "1", "virtual_size": ` + body + `}]}`
		})
		images, err := list(c, client.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := images[0]; got.VirtualSize != want || (got.Missing&client.FieldVirtualSize != 0) != (want == 0) {
			t.Errorf("virtual_size %s: %d, missing %v; want %d, missing %v", body, got.VirtualSize, got.Missing&client.FieldVirtualSize != 0, want, want == 0)
		}
	}
}
