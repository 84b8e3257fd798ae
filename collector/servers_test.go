package collector

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/collector/exposition"
)

// fakeServers answers servers, or err, and counts the requests.
type fakeServers struct {
	servers client.Servers
	err     error
	calls   atomic.Int32
}

func (f *fakeServers) Servers(context.Context) (client.Servers, error) {
	f.calls.Add(1)
	return f.servers, f.err
}

// ownedSnapshots are a project's snapshots (own): of a server that is ACTIVE, one
// SHELVED_OFFLOADED, one SOFT_DELETED, one in ERROR, and one gone; another project's
// snapshot shared with it, one gone; an image that is no snapshot.
var ownedSnapshots = []client.Image{
	{ID: "i-active", Name: "of-active", Status: "ACTIVE", Owner: "own", ServerID: "srv-active", Size: 1, Created: created},
	{ID: "i-shelved", Name: "of-shelved", Status: "ACTIVE", Owner: "own", ServerID: "srv-shelved", Size: 2, Created: created},
	{ID: "i-soft", Name: "of-soft-deleted", Status: "ACTIVE", Owner: "own", ServerID: "srv-soft", Size: 4, Created: created},
	{ID: "i-error", Name: "of-error", Status: "ERROR", Owner: "own", ServerID: "srv-error", Size: 8, Created: created},
	{ID: "i-gone", Name: "of-gone", Status: "ACTIVE", Owner: "own", ServerID: "srv-gone", Size: 16, Created: created},
	{ID: "i-shared", Name: "shared-gone", Status: "ACTIVE", Owner: "other", ServerID: "srv-other-gone", Size: 32, Created: created},
	{ID: "i-base", Name: "base", Status: "ACTIVE", Owner: "own", Size: 64, Created: created},
}

// projectServers are what a project-scoped credential lists of its servers, in any state:
// the compute API lists SHELVED_OFFLOADED, SOFT_DELETED and ERROR servers as it does ACTIVE.
var projectServers = client.Servers{IDs: []string{"srv-active", "srv-error", "srv-shelved", "srv-soft"}, Project: "own"}

var orphanMetricNames = []string{"nova_image_servers_up", "nova_image_orphaned", "nova_orphaned_snapshots", "nova_orphaned_snapshots_size_bytes"}

func serverHandler(lister client.ImageSource, servers client.ServerSource, logs *bytes.Buffer) *Handler {
	shared := NewListings(lister, 0)
	if servers != nil {
		shared.WithServers(servers)
	}
	return &Handler{Resolve: StaticTarget(Target{Cloud: "c1", Listings: shared}),
		Timeouts: ScrapeTimeouts{Default: time.Second}, Logger: log.NewLogfmtLogger(logs)}
}

const serversUpHelp = `# HELP nova_image_servers_up 1 if this listing's server listing (Nova's /servers, Huawei ECS's) succeeded, else 0 (failed, cut short, refused or abandoned: no orphan samples then); absent where orphaned snapshots are off (--images.orphaned-snapshots, orphaned_snapshots).
# TYPE nova_image_servers_up gauge
`

// A project's snapshot is orphaned when its server is not listed, in whatever state a listed
// server is; another project's is not judged. The server listing runs once per listing.
func TestOrphansBesideTheListing(t *testing.T) {
	var logs bytes.Buffer
	servers := &fakeServers{servers: projectServers}
	h := serverHandler(&fakeLister{images: ownedSnapshots}, servers, &logs)
	want := serversUpHelp + `nova_image_servers_up 1
# HELP nova_image_orphaned 1 for a snapshot whose server (server_id) no longer exists, 0 for one whose server does, in any state; absent for an image that is no snapshot of a server, and where the server listing did not cover the snapshot's owner or failed.
# TYPE nova_image_orphaned gauge
nova_image_orphaned{id="i-active",name="of-active"} 0
nova_image_orphaned{id="i-error",name="of-error"} 0
nova_image_orphaned{id="i-gone",name="of-gone"} 1
nova_image_orphaned{id="i-shelved",name="of-shelved"} 0
nova_image_orphaned{id="i-soft",name="of-soft-deleted"} 0
# HELP nova_orphaned_snapshots Snapshots whose server no longer exists, per owning project (project_id empty where the API sends no owner), every listed image counted; only the projects the server listing covered (every project with an admin's all_tenants, else the credential's own); absent when the server listing failed.
# TYPE nova_orphaned_snapshots gauge
nova_orphaned_snapshots{project_id="own"} 1
# HELP nova_orphaned_snapshots_size_bytes Bytes of the snapshots nova_orphaned_snapshots counts; a snapshot without a size counts 0.
# TYPE nova_orphaned_snapshots_size_bytes gauge
nova_orphaned_snapshots_size_bytes{project_id="own"} 16
`
	if err := testutil.GatherAndCompare(scrapeText(t, h), strings.NewReader(want), orphanMetricNames...); err != nil {
		t.Error(err)
	}
	// Gzipped scrapes of one listing share its rendering, orphans included.
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || servers.calls.Load() != 2 {
		t.Errorf("gzip scrape: %d, %d server listings for 2 listings", rec.Code, servers.calls.Load())
	}
	if logs.Len() != 0 {
		t.Errorf("log lines for a good scrape: %s", logs.String())
	}
}

// An admin's listing of every project judges every owner's snapshots, the other project's
// too.
func TestOrphansOfEveryProjectForAnAdmin(t *testing.T) {
	var logs bytes.Buffer
	all := projectServers
	all.AllProjects, all.Project = true, "admin"
	served := scrapeText(t, serverHandler(&fakeLister{images: ownedSnapshots}, &fakeServers{servers: all}, &logs))
	want := `# HELP nova_orphaned_snapshots_size_bytes Bytes of the snapshots nova_orphaned_snapshots counts; a snapshot without a size counts 0.
# TYPE nova_orphaned_snapshots_size_bytes gauge
nova_orphaned_snapshots_size_bytes{project_id="other"} 32
nova_orphaned_snapshots_size_bytes{project_id="own"} 16
`
	if err := testutil.GatherAndCompare(served, strings.NewReader(want), "nova_orphaned_snapshots_size_bytes"); err != nil {
		t.Error(err)
	}
	if n, _ := testutil.GatherAndCount(served, "nova_image_orphaned"); n != 6 {
		t.Errorf("%d nova_image_orphaned samples, want 6", n)
	}
}

// The aggregates count every listed snapshot, the per-image family only those exported.
func TestOrphansFollowThePerImagePolicy(t *testing.T) {
	var logs bytes.Buffer
	h := serverHandler(&fakeLister{images: ownedSnapshots}, &fakeServers{servers: projectServers}, &logs)
	exports, err := exposition.NewImageExports(true, nil, nil, exposition.PerImagePolicy{Statuses: []string{"!active"}})
	if err != nil {
		t.Fatal(err)
	}
	h.Exports = exports
	served := scrapeText(t, h)
	if n, _ := testutil.GatherAndCount(served, "nova_image_orphaned"); n != 1 {
		t.Errorf("%d nova_image_orphaned samples, want 1 (i-error's)", n)
	}
	if err := testutil.GatherAndCompare(served, strings.NewReader(`# HELP nova_orphaned_snapshots Snapshots whose server no longer exists, per owning project (project_id empty where the API sends no owner), every listed image counted; only the projects the server listing covered (every project with an admin's all_tenants, else the credential's own); absent when the server listing failed.
# TYPE nova_orphaned_snapshots gauge
nova_orphaned_snapshots{project_id="own"} 1
`), "nova_orphaned_snapshots"); err != nil {
		t.Error(err)
	}
}

// A failed or cut server listing costs the orphan samples, per image and aggregated, never
// the listing: nova_up 1, nova_image_servers_up 0 and one log line.
func TestFailedServerListingLeavesTheListing(t *testing.T) {
	for name, err := range map[string]error{
		"failed": errors.New("GET https://nova/v2.1/servers/detail: HTTP 500"),
		"cut":    errors.New("listing servers: more than 1000 pages"),
	} {
		var logs bytes.Buffer
		served := scrapeText(t, serverHandler(&fakeLister{images: ownedSnapshots}, &fakeServers{servers: projectServers, err: err}, &logs))
		if err := testutil.GatherAndCompare(served, strings.NewReader(serversUpHelp+"nova_image_servers_up 0\n"), orphanMetricNames...); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if n, _ := testutil.GatherAndCount(served, "nova_up"); n != 1 {
			t.Errorf("%s: no nova_up", name)
		}
		if n, _ := testutil.GatherAndCount(served, "nova_image_status"); n != len(ownedSnapshots) {
			t.Errorf("%s: %d images exported beside a failed server listing, want %d", name, n, len(ownedSnapshots))
		}
		lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
		if len(lines) != 1 || !strings.Contains(lines[0], "level=error") || !strings.Contains(lines[0], err.Error()) {
			t.Errorf("%s: log lines %q, want one error line naming the failure", name, lines)
		}
	}
}

// hangingServers never answers until its request is abandoned.
type hangingServers struct{}

func (hangingServers) Servers(ctx context.Context) (client.Servers, error) {
	<-ctx.Done()
	return client.Servers{}, ctx.Err()
}

// A compute endpoint that hangs costs the orphan samples a second after the listing ended,
// as a hanging quota request does, never the listing.
func TestHangingServerListingIsAbandoned(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs bytes.Buffer
		h := serverHandler(&fakeLister{images: ownedSnapshots}, hangingServers{}, &logs)
		h.Timeouts.Default = time.Minute
		start := time.Now()
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "10")
		h.ServeHTTP(rec, req)
		body := rec.Body.String()
		if !strings.Contains(body, "\nnova_up 1\n") || !strings.Contains(body, "\nnova_image_servers_up 0\n") || strings.Contains(body, "\nnova_image_orphaned{") || strings.Contains(body, "\nnova_orphaned_snapshots{") {
			t.Errorf("answer without nova_up 1 and nova_image_servers_up 0, or with orphan samples:\n%s", body)
		}
		if took := time.Since(start); took != quotaGrace {
			t.Errorf("the scrape took %v, want the grace of %v", took, quotaGrace)
		}
		if !strings.Contains(logs.String(), "the server listing was abandoned "+quotaGrace.String()+" after the image listing ended") {
			t.Errorf("log %q, want the abandoned server listing", logs.String())
		}
	})
}

// Refused credentials are never sent to the compute endpoint: a listing refused before its
// first image sends no server listing, and says nova_image_servers_up 0 with the listing's
// one log line; an empty listing sends it at its end.
func TestServerListingWaitsForAcceptedCredentials(t *testing.T) {
	var logs bytes.Buffer
	servers := &fakeServers{servers: projectServers}
	h := serverHandler(&fakeLister{err: &client.AuthError{Err: errors.New("HTTP 401 Unauthorized")}}, servers, &logs)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := rec.Body.String()
	if servers.calls.Load() != 0 || !strings.Contains(body, "\nnova_image_servers_up 0\n") || strings.Count(logs.String(), "\n") != 1 {
		t.Errorf("refused listing: %d server listings, log %q, answer:\n%s\nwant none, the listing's one line, nova_image_servers_up 0", servers.calls.Load(), logs.String(), body)
	}
	servers = &fakeServers{servers: projectServers}
	served := scrapeText(t, serverHandler(&fakeLister{}, servers, &logs))
	if err := testutil.GatherAndCompare(served, strings.NewReader(serversUpHelp+"nova_image_servers_up 1\n"), orphanMetricNames...); err != nil || servers.calls.Load() != 1 {
		t.Errorf("an empty listing: %d server listings; %v", servers.calls.Load(), err)
	}
}

// Orphaned snapshots off: no orphan family at all, and no server listing.
func TestOrphansOff(t *testing.T) {
	var logs bytes.Buffer
	served := scrapeText(t, serverHandler(&fakeLister{images: ownedSnapshots}, nil, &logs))
	if n, _ := testutil.GatherAndCount(served, orphanMetricNames...); n != 0 {
		t.Errorf("%d orphan samples with orphaned snapshots off, want none", n)
	}
}

// What the orphan check keeps is charged to the listing's memory; where it does not fit, the
// orphans are lost (nova_image_servers_up 0, one log line), never the listing.
func TestOrphansChargedToMemory(t *testing.T) {
	many := client.Servers{AllProjects: true}
	for range 10000 {
		many.IDs = append(many.IDs, strings.Repeat("s", 36))
	}
	var logs bytes.Buffer
	h := serverHandler(&fakeLister{images: ownedSnapshots}, &fakeServers{servers: many}, &logs)
	listings := NewListings(&fakeLister{images: ownedSnapshots}, 0).WithServers(&fakeServers{servers: many}).WithMemory(NewMemory(64<<10, 0))
	h.Resolve = StaticTarget(Target{Cloud: "c1", Listings: listings})
	served := scrapeText(t, h)
	if err := testutil.GatherAndCompare(served, strings.NewReader(serversUpHelp+"nova_image_servers_up 0\n"), orphanMetricNames...); err != nil {
		t.Error(err)
	}
	if n, _ := testutil.GatherAndCount(served, "nova_image_status"); n != len(ownedSnapshots) {
		t.Errorf("%d images exported, want %d", n, len(ownedSnapshots))
	}
	if !strings.Contains(logs.String(), "--listings.max-bytes") || strings.Count(logs.String(), "\n") != 1 {
		t.Errorf("log %q, want one line naming the memory bound", logs.String())
	}
}
