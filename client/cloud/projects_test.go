package cloud

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/simulator"
)

// projectsKeystone is the Keystone authenticator of the simulator's user, authenticated,
// and the simulator.
func projectsKeystone(t *testing.T, opts simulator.Options) (*Keystone, *simulator.Simulator) {
	t.Helper()
	sim := simulator.New(opts)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	auth := demoKeystone(srv.URL)
	if _, err := auth.Endpoint(context.Background(), client.ServiceImage); err != nil {
		t.Fatal(err)
	}
	return auth, sim
}

// demoKeystone is the Keystone authenticator of the simulator's user at authURL.
func demoKeystone(authURL string) *Keystone {
	return NewKeystone(gophercloud.AuthOptions{IdentityEndpoint: authURL + "/v3", Username: "demo", Password: "demo-secret",
		DomainName: "Default", Scope: &gophercloud.AuthScope{ProjectName: "demo", DomainName: "Default"}},
		gophercloud.EndpointOpts{Region: "RegionOne"}, nil, client.NewHTTPClient(5*time.Second, nil))
}

var otherProject = simulator.Project{ID: "c0ffee00c0ffee00c0ffee00c0ffee00", Name: "web", DomainID: "default"}

func TestKeystoneProjectsAdminReadsAll(t *testing.T) {
	auth, sim := projectsKeystone(t, simulator.Options{Admin: true, Projects: []simulator.Project{otherProject}})
	names, err := auth.Projects(context.Background())
	if err != nil || names.Refused != nil {
		t.Fatalf("Projects: %v, refused %v", err, names.Refused)
	}
	want := []client.Project{{ID: "0123456789abcdef0123456789abcdef", Name: "demo", DomainID: "default"}, {ID: otherProject.ID, Name: "web", DomainID: "default"}}
	if !slices.Equal(names.Projects, want) {
		t.Errorf("projects %v, want %v", names.Projects, want)
	}
	if sim.ProjectRequests() != 1 || sim.TokenRequests() != 1 {
		t.Errorf("%d project requests and %d token requests, want 1 and 1", sim.ProjectRequests(), sim.TokenRequests())
	}
}

// TestKeystoneProjectsMemberReadsOwn: a member's GET /v3/projects is refused (403), and its
// own project is named from its token.
func TestKeystoneProjectsMemberReadsOwn(t *testing.T) {
	auth, sim := projectsKeystone(t, simulator.Options{Projects: []simulator.Project{otherProject}})
	names, err := auth.Projects(context.Background())
	if err != nil {
		t.Fatalf("Projects: %v", err)
	}
	var apiErr *client.APIError
	if !errors.As(names.Refused, &apiErr) || apiErr.StatusCode != http.StatusForbidden {
		t.Errorf("refused %v, want the 403", names.Refused)
	}
	want := []client.Project{{ID: "0123456789abcdef0123456789abcdef", Name: "demo", DomainID: "default"}}
	if !slices.Equal(names.Projects, want) {
		t.Errorf("projects %v, want %v", names.Projects, want)
	}
	if sim.ProjectRequests() != 1 {
		t.Errorf("%d project requests, want 1", sim.ProjectRequests())
	}
}

// TestKeystoneProjectsRevokedTokenIsRefusal: a 401 is a refusal of the credential, never
// renewed here.
func TestKeystoneProjectsRevokedTokenIsRefusal(t *testing.T) {
	auth, sim := projectsKeystone(t, simulator.Options{Admin: true})
	sim.RevokeTokens()
	_, err := auth.Projects(context.Background())
	if failureKind(err) != "refused" {
		t.Errorf("error %v is %s, want a refusal", err, failureKind(err))
	}
	if sim.TokenRequests() != 1 {
		t.Errorf("%d token requests, want 1: no renewal", sim.TokenRequests())
	}
}

func TestKeystoneProjectsWithoutTokenSendsNothing(t *testing.T) {
	sim := simulator.New(simulator.Options{Admin: true})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	auth := demoKeystone(srv.URL)
	if _, err := auth.Projects(context.Background()); err == nil {
		t.Error("read projects before any token")
	}
	if sim.ProjectRequests() != 0 || sim.TokenRequests() != 0 {
		t.Errorf("%d project requests and %d token requests, want none", sim.ProjectRequests(), sim.TokenRequests())
	}
}

// TestKeystoneProjectsBadAnswers: hostile or broken answers fail with a bounded error that
// quotes neither the token nor the password.
func TestKeystoneProjectsBadAnswers(t *testing.T) {
	project := func(i int) string {
		return fmt.Sprintf(`{"id": "%032x", "name": "p%d", "domain_id": "default"}`, i, i)
	}
	many := make([]string, client.MaxProjects+1)
	for i := range many {
		many[i] = project(i)
	}
	for _, tc := range []struct {
		name, body string
		want       string
	}{
		{"no projects", `{"links": {}}`, "no projects"},
		{"not an object", `[]`, "malformed"},
		{"cut", `{"projects": [` + project(1), "malformed"},
		{"no id", `{"projects": [{"name": "x"}]}`, "no id"},
		{"long id", `{"projects": [{"id": "` + strings.Repeat("a", client.MaxIDBytes+1) + `"}]}`, "longer than"},
		{"too many", `{"projects": [` + strings.Join(many, ",") + `]}`, "more than 25000 projects"},
		{"too large", `{"projects": [], "x": "` + strings.Repeat("a", client.MaxProjectsResponseBytes) + `"}`, "larger than"},
		{"token quoted", `{"projects": [{"id": "TOKEN", "name": "TOKEN"}], "links": 7, "x": [TOKEN]}`, "malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			auth, _ := projectsKeystone(t, simulator.Options{})
			token := auth.provider.Token()
			identity := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, strings.ReplaceAll(tc.body, "TOKEN", token))
			}))
			t.Cleanup(identity.Close)
			auth.provider.IdentityBase = identity.URL + "/"
			_, err := auth.Projects(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if failureKind(err) != "identity" {
				t.Errorf("error is %s, want an identity failure", failureKind(err))
			}
			if text := err.Error(); strings.Contains(text, token) || strings.Contains(text, "demo-secret") || len(text) > client.MaxErrorText+256 {
				t.Errorf("error quotes a secret or runs long (%d bytes)", len(text))
			}
		})
	}
}

// TestProjectsAnswerAllocations: the largest answers within the bounds, MaxProjects real-sized
// projects or one project of MaxProjectsResponseBytes, allocate at most 40 MiB in all while
// decoded (measured: 8 and 32 MiB).
func TestProjectsAnswerAllocations(t *testing.T) {
	var many strings.Builder
	many.WriteString(`{"projects": [`)
	for i := range client.MaxProjects {
		if i > 0 {
			many.WriteString(", ")
		}
		fmt.Fprintf(&many, `{"id": "%032x", "name": "project-%d", "domain_id": "default", "description": "", "enabled": true, "parent_id": "default", "is_domain": false, "tags": [], "options": {}, "links": {"self": "http://127.0.0.1:25000/v3/projects/%032x"}}`, i, i, i)
	}
	many.WriteString(`], "links": {"next": null}}`)
	huge := `{"projects": [{"id": "a", "description": "` + strings.Repeat("x", client.MaxProjectsResponseBytes-100) + `"}]}`
	for name, tc := range map[string]struct {
		body string
		n    int
	}{"MaxProjects": {many.String(), client.MaxProjects}, "one huge project": {huge, 1}} {
		if len(tc.body) > client.MaxProjectsResponseBytes {
			t.Fatalf("%s: the answer is %d bytes, beyond the bound", name, len(tc.body))
		}
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		projects, err := decodeProjects(strings.NewReader(tc.body), client.NewRedactor())
		runtime.ReadMemStats(&after)
		if err != nil || len(projects) != tc.n {
			t.Fatalf("%s: %d projects, %v", name, len(projects), err)
		}
		if allocated := after.TotalAlloc - before.TotalAlloc; allocated > 40<<20 {
			t.Errorf("%s: allocated %d MiB, want at most 40", name, allocated>>20)
		}
	}
}
