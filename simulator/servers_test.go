package simulator

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
)

// The realstack's projects and servers, as simulator/testdata/realnova recorded them.
const (
	realDemoProject   = "80ebb3bff8f0407cae3a6008cd991bdf"
	realDemo2Project  = "acb341badd964770a710b5affb4311ee"
	realAdminProject  = "16d614b50c694c56b057901bf2e92ab3"
	realNovaLinksHost = "http://127.0.0.1:28774"
)

// realServers are the realstack's seeded servers, newest first.
var realServers = []Server{
	{ID: "5e7a0001-0000-4000-8000-000000000008", Name: "server2-soft-deleted", ProjectID: realDemo2Project, Status: ServerSoftDeleted},
	{ID: "5e7a0001-0000-4000-8000-000000000007", Name: "server2-active", ProjectID: realDemo2Project, Status: ServerActive},
	{ID: "5e7a0001-0000-4000-8000-000000000006", Name: "server-deleted", ProjectID: realDemoProject, Status: ServerDeleted},
	{ID: "5e7a0001-0000-4000-8000-000000000005", Name: "server-build", ProjectID: realDemoProject, Status: ServerBuild},
	{ID: "5e7a0001-0000-4000-8000-000000000004", Name: "server-error", ProjectID: realDemoProject, Status: ServerError},
	{ID: "5e7a0001-0000-4000-8000-000000000003", Name: "server-soft-deleted", ProjectID: realDemoProject, Status: ServerSoftDeleted},
	{ID: "5e7a0001-0000-4000-8000-000000000002", Name: "server-shelved", ProjectID: realDemoProject, Status: ServerShelvedOffloaded},
	{ID: "5e7a0001-0000-4000-8000-000000000001", Name: "server-active", ProjectID: realDemoProject, Status: ServerActive},
}

// TestServersMatchTheRealNova: the simulator's answers to the servers listing are the real
// Nova's (testdata/realnova) byte for byte, to a member and to an admin.
func TestServersMatchTheRealNova(t *testing.T) {
	for _, tc := range []struct {
		file, query string
		admin       bool
		status      int
	}{
		{"servers-member.json", "", false, http.StatusOK},
		{"servers-member-soft-deleted.json", "changes-since=1970-01-01T00:00:00Z&status=SOFT_DELETED", false, http.StatusOK},
		{"servers-member-all-tenants-403.json", "all_tenants=1", false, http.StatusForbidden},
		{"servers-admin-limit2.json", "all_tenants=1&limit=2", true, http.StatusOK},
		{"servers-admin-limit2-page2.json", "all_tenants=1&limit=2&marker=5e7a0001-0000-4000-8000-000000000005", true, http.StatusOK},
		{"servers-admin-limit2-page3.json", "all_tenants=1&limit=2&marker=5e7a0001-0000-4000-8000-000000000002", true, http.StatusOK},
		{"servers-admin-soft-deleted.json", "all_tenants=1&changes-since=1970-01-01T00:00:00Z&status=SOFT_DELETED", true, http.StatusOK},
		{"servers-marker-400.json", "all_tenants=1&marker=00000000-0000-4000-8000-000000000000", true, http.StatusBadRequest},
	} {
		t.Run(tc.file, func(t *testing.T) {
			project := realDemoProject
			if tc.admin {
				project = realAdminProject
			}
			sim := New(Options{ProjectID: project, Admin: tc.admin, InternalHost: realNovaLinksHost, Servers: realServers})
			srv := httptest.NewServer(sim)
			t.Cleanup(srv.Close)
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v2.1/servers?"+tc.query, nil)
			req.Header.Set("X-Auth-Token", sim.IssueToken())
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			got, _ := io.ReadAll(resp.Body)
			want, err := os.ReadFile("testdata/realnova/" + tc.file)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status || string(got) != string(want) {
				t.Errorf("%d %s\nwant %d %s", resp.StatusCode, got, tc.status, want)
			}
			if n := len(sim.ServerRequests()); n != 1 || len(sim.Requests()) != 0 {
				t.Errorf("%d servers requests and %d image requests logged, want 1 and 0", n, len(sim.Requests()))
			}
		})
	}
}

// The servers requests have a fault plan of their own; the project in the path is Nova's
// check and goes into the links.
func TestServersFaultsAndProjectPath(t *testing.T) {
	sim := New(Options{Servers: []Server{{ID: "s1", Name: "one"}}})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	get := func(path string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		req.Header.Set("X-Auth-Token", sim.IssueToken())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	want := `{"servers": [{"id": "s1", "name": "one", "links": [{"rel": "self", "href": "` + srv.URL + `/v2.1/` + defaultProjectID +
		`/servers/s1"}, {"rel": "bookmark", "href": "` + srv.URL + `/` + defaultProjectID + `/servers/s1"}]}]}`
	if code, body := get("/v2.1/" + defaultProjectID + "/servers"); code != http.StatusOK || body != want {
		t.Errorf("%d %s\nwant 200 %s", code, body, want)
	}
	if code, _ := get("/v2.1/other/servers"); code != http.StatusBadRequest {
		t.Errorf("another project's path: %d, want 400", code)
	}
	sim.SetServerFaults(func(n int, _ *http.Request) Fault { return Fault{Status: http.StatusInternalServerError} })
	if code, _ := get("/v2.1/" + defaultProjectID + "/servers"); code != http.StatusInternalServerError {
		t.Errorf("with a fault: %d, want 500", code)
	}
	if code, _ := get("/v2.1/" + defaultProjectID + "/images/detail"); code != http.StatusOK {
		t.Errorf("the images listing with a servers fault: %d, want 200", code)
	}
}
