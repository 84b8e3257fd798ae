package compute

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/client/internal/clienttest"
)

// The realstack's seeded servers (simulator/testdata/realnova/SOURCES.md), by the last two
// digits of their ids.
const (
	active      = "5e7a0001-0000-4000-8000-000000000001"
	shelved     = "5e7a0001-0000-4000-8000-000000000002"
	softDeleted = "5e7a0001-0000-4000-8000-000000000003"
	inError     = "5e7a0001-0000-4000-8000-000000000004"
	building    = "5e7a0001-0000-4000-8000-000000000005"
	other       = "5e7a0001-0000-4000-8000-000000000007"
	otherSoft   = "5e7a0001-0000-4000-8000-000000000008"
)

// realAnswer is an answer of the real Nova, recorded in simulator/testdata/realnova.
func realAnswer(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../../simulator/testdata/realnova/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// scopedAuth is a test authenticator that knows its project.
type scopedAuth struct {
	*clienttest.Auth
	project string
}

func (a scopedAuth) ScopeProject(context.Context) (string, error) { return a.project, nil }

func newSource(t *testing.T, flavour Flavour, answer clienttest.Answer) (*Source, *clienttest.Server) {
	t.Helper()
	s := clienttest.NewServer(t, answer)
	auth := scopedAuth{Auth: &clienttest.Auth{URL: s.URL + "/v2.1/proj", Token: "tok", Password: "s3cret-password"}, project: "proj"}
	return New(auth, client.Options{UserAgent: "test-agent", MaxPages: 20, RetryBackoff: time.Millisecond}, flavour), s
}

// realNova answers as the realstack's Nova did: admin (all_tenants honoured) or member (403).
func realNova(t *testing.T, admin bool) clienttest.Answer {
	return func(_ int, r *http.Request) (int, http.Header, string) {
		q := r.URL.Query()
		soft := q.Get("status") == "SOFT_DELETED" && q.Get("changes-since") != ""
		switch {
		case q.Has("all_tenants") && !admin:
			return http.StatusForbidden, http.Header{"Content-Type": {"application/json; charset=UTF-8"}}, realAnswer(t, "servers-member-all-tenants-403.json")
		case q.Has("all_tenants") && soft:
			return clienttest.OK(realAnswer(t, "servers-admin-soft-deleted.json"))
		case q.Has("all_tenants") && q.Get("marker") == "":
			return clienttest.OK(realAnswer(t, "servers-admin-limit2.json"))
		case q.Has("all_tenants") && q.Get("marker") == building:
			return clienttest.OK(realAnswer(t, "servers-admin-limit2-page2.json"))
		case q.Has("all_tenants") && q.Get("marker") == shelved:
			return clienttest.OK(realAnswer(t, "servers-admin-limit2-page3.json"))
		case soft:
			return clienttest.OK(realAnswer(t, "servers-member-soft-deleted.json"))
		case !q.Has("all_tenants") && q.Get("marker") == "":
			return clienttest.OK(realAnswer(t, "servers-member.json"))
		}
		return http.StatusBadRequest, nil, realAnswer(t, "servers-marker-400.json")
	}
}

func sorted(ids ...string) []string { return slices.Sorted(slices.Values(ids)) }

func TestServersAdminCoversEveryProjectAndState(t *testing.T) {
	src, s := newSource(t, Nova, realNova(t, true))
	got, err := src.Servers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := client.Servers{IDs: sorted(active, shelved, softDeleted, inError, building, other, otherSoft), AllProjects: true, Project: "proj"}
	if !slices.Equal(got.IDs, want.IDs) || got.AllProjects != want.AllProjects || got.Project != want.Project {
		t.Errorf("got %+v, want %+v", got, want)
	}
	var queries []string
	for _, r := range s.Requests() {
		if r.URL.Path != "/v2.1/proj/servers" || r.Header.Get("X-Auth-Token") != "tok" {
			t.Errorf("request %s with token %q, want /v2.1/proj/servers with tok", r.URL.Path, r.Header.Get("X-Auth-Token"))
		}
		queries = append(queries, r.URL.RawQuery)
	}
	wantQueries := []string{
		"all_tenants=1&limit=1000",
		"all_tenants=1&limit=1000&marker=" + building,
		"all_tenants=1&limit=1000&marker=" + shelved,
		"all_tenants=1&changes-since=1970-01-01T00%3A00%3A00Z&limit=1000&status=SOFT_DELETED",
	}
	if !slices.Equal(queries, wantQueries) {
		t.Errorf("queries\n%q\nwant\n%q", queries, wantQueries)
	}
}

func TestServersMemberCoversItsOwnProject(t *testing.T) {
	src, s := newSource(t, Nova, realNova(t, false))
	for round := range 2 {
		got, err := src.Servers(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		want := sorted(active, shelved, softDeleted, inError, building)
		if !slices.Equal(got.IDs, want) || got.AllProjects || got.Project != "proj" {
			t.Errorf("round %d: got %+v, want the own project's %v", round, got, want)
		}
	}
	// The refusal of all_tenants is asked once: the second listing goes to the own project.
	var allTenants int
	for _, r := range s.Requests() {
		if r.URL.Query().Has("all_tenants") {
			allTenants++
		}
	}
	if allTenants != 1 || len(s.Requests()) != 5 {
		t.Errorf("%d requests, %d with all_tenants; want 5, 1", len(s.Requests()), allTenants)
	}
}

func TestServersECSListsTheOwnProjectOnce(t *testing.T) {
	src, s := newSource(t, ECS, func(int, *http.Request) (int, http.Header, string) {
		return clienttest.OK(clienttest.VendorAnswer(t, "otc-ecs-servers.json"))
	})
	got, err := src.Servers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.IDs, []string{"616fb98f-46ca-475e-917e-2563e5a8cd19"}) || got.AllProjects || got.Project != "proj" {
		t.Errorf("got %+v", got)
	}
	if n := len(s.Requests()); n != 1 || s.Requests()[0].URL.RawQuery != "limit=1000" {
		t.Errorf("%d requests, the first %q; want one, limit=1000", n, s.Requests()[0].URL.RawQuery)
	}
}

func TestServersWithoutAProjectCoverNothingOfTheirOwn(t *testing.T) {
	s := clienttest.NewServer(t, realNova(t, false))
	src := New(&clienttest.Auth{URL: s.URL + "/v2.1", Token: "tok"}, client.Options{MaxPages: 20}, Nova)
	got, err := src.Servers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got.AllProjects || got.Project != "" || got.Covers("") || got.Covers("proj") {
		t.Errorf("got %+v, want a listing that covers no project", got)
	}
}

// A listing cut short is an error, never a partial Servers.
func TestServersCutShortIsAnError(t *testing.T) {
	page1 := realAnswer(t, "servers-admin-limit2.json")
	for name, tc := range map[string]struct {
		answer  clienttest.Answer
		opts    client.Options
		wantErr string
	}{
		"second page fails": {answer: func(n int, _ *http.Request) (int, http.Header, string) {
			if n == 0 {
				return clienttest.OK(page1)
			}
			return http.StatusInternalServerError, nil, `{"computeFault": {"code": 500, "message": "tok s3cret-password"}}`
		}, wantErr: "listing servers, page 2"},
		"page bound": {answer: func(int, *http.Request) (int, http.Header, string) { return clienttest.OK(page1) },
			opts: client.Options{MaxPages: 1}, wantErr: "more than 1 pages"},
		"pagination loop": {answer: func(int, *http.Request) (int, http.Header, string) { return clienttest.OK(page1) },
			wantErr: "pagination loop"},
		"no list": {answer: func(int, *http.Request) (int, http.Header, string) { return clienttest.OK(`{"images": []}`) },
			wantErr: `the answer has no "servers" list`},
		"next link on an empty page": {answer: func(n int, _ *http.Request) (int, http.Header, string) {
			if n == 0 {
				return clienttest.OK(page1)
			}
			return clienttest.OK(`{"servers": [], "servers_links": [{"rel": "next", "href": "http://x/v2.1/servers?marker=y"}]}`)
		}, wantErr: "a next page and no server"},
		"server without id": {answer: func(int, *http.Request) (int, http.Header, string) {
			return clienttest.OK(`{"servers": [{"name": "x"}]}`)
		},
			wantErr: "servers[0]: no id"},
		"bytes held": {answer: func(int, *http.Request) (int, http.Header, string) { return clienttest.OK(page1) },
			opts: client.Options{MaxListingBytes: 100}, wantErr: "more than 100 bytes of servers"},
		"response bytes": {answer: func(int, *http.Request) (int, http.Header, string) { return clienttest.OK(page1) },
			opts: client.Options{MaxResponseBytes: 64}, wantErr: "larger than 64 bytes"},
	} {
		t.Run(name, func(t *testing.T) {
			s := clienttest.NewServer(t, tc.answer)
			opts := tc.opts
			opts.RetryBackoff = time.Millisecond
			auth := scopedAuth{Auth: &clienttest.Auth{URL: s.URL + "/v2.1", Token: "tok", Password: "s3cret-password"}, project: "p"}
			got, err := New(auth, opts, Nova).Servers(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("got %+v, %v; want an error with %q", got, err, tc.wantErr)
			}
			if got.IDs != nil || got.AllProjects {
				t.Errorf("a failed listing returned %+v", got)
			}
			if strings.Contains(err.Error(), "s3cret-password") {
				t.Errorf("the error quotes a secret: %v", err)
			}
		})
	}
}

// A refused credential is renewed once, as for the image listings; a 403 to the own
// project's listing is an error, not an empty listing.
func TestServersRefusals(t *testing.T) {
	s := clienttest.NewServer(t, func(n int, r *http.Request) (int, http.Header, string) {
		if r.Header.Get("X-Auth-Token") == "tok" {
			return http.StatusUnauthorized, nil, `{"error": {"code": 401}}`
		}
		return http.StatusForbidden, nil, `{"forbidden": {"code": 403, "message": "no"}}`
	})
	auth := &clienttest.Auth{URL: s.URL + "/v2.1", Token: "tok"}
	_, err := New(auth, client.Options{}, Nova).Servers(context.Background())
	var apiErr *client.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusForbidden || auth.Renewals() != 1 {
		t.Errorf("got %v after %d renewals, want the own listing's 403 after one renewal", err, auth.Renewals())
	}
}

// A Nova-flavoured source whose compute endpoint is an ECS host (ecs.{region}.{domain}, from a
// Huawei IAM catalog) asks as ECS: ECS has no all_tenants, and one that ignored it would make
// the own project's listing pass for every project's.
func TestServersOnAnECSHostAskAsECS(t *testing.T) {
	s := clienttest.NewServer(t, func(int, *http.Request) (int, http.Header, string) {
		return clienttest.OK(clienttest.VendorAnswer(t, "otc-ecs-servers.json"))
	})
	dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, strings.TrimPrefix(s.URL, "http://"))
	}
	opts := client.Options{HTTPClient: &http.Client{Transport: &http.Transport{DialContext: dial}}}
	auth := scopedAuth{Auth: &clienttest.Auth{URL: "http://ECS.eu-de.example.com/v2.1/proj", Token: "tok"}, project: "proj"}
	got, err := New(auth, opts, Nova).Servers(context.Background())
	if err != nil || got.AllProjects || len(s.Requests()) != 1 || s.Requests()[0].URL.RawQuery != "limit=1000" {
		t.Errorf("got %+v, %v after %d requests; want the own project's, asked once without all_tenants", got, err, len(s.Requests()))
	}
}

// Hostile answers cost bounded memory: a huge id, an endless list of servers within the
// response bound, a gzip bomb.
func TestServersHostileAnswersAreBounded(t *testing.T) {
	server := `{"id": "5e7a0001-0000-4000-8000-000000000001", "name": "x", "links": []}, `
	for name, tc := range map[string]struct {
		answer  clienttest.Hostile
		wantErr string
	}{
		"huge id":     {clienttest.Hostile{Status: http.StatusOK, Head: `{"servers": [{"id": "`, Fill: "a", Tail: `"}]}`}, "larger than"},
		"many":        {clienttest.Hostile{Status: http.StatusOK, Head: `{"servers": [`, Fill: server, Tail: `{"id": "y"}]}`}, "bytes of servers"},
		"gzip bomb":   {clienttest.Hostile{Status: http.StatusOK, Head: `{"servers": [`, Fill: server, Tail: `{"id": "y"}]}`, Gzip: true}, "bytes of servers"},
		"error bytes": {clienttest.Hostile{Status: http.StatusInternalServerError, Head: `{"computeFault": {"message": "`, Fill: "b", Tail: `"}}`}, "500"},
	} {
		t.Run(name, func(t *testing.T) {
			clienttest.CheckBounded(t, tc.answer, []int64{64 << 20}, tc.wantErr, func(url string) func() error {
				auth := &clienttest.Auth{URL: url + "/v2.1", Token: "tok"}
				src := New(auth, client.Options{MaxResponseBytes: 1 << 30, MaxListingBytes: 8 << 20}, Nova)
				return func() error {
					_, err := src.Servers(context.Background())
					return err
				}
			})
		})
	}
}
