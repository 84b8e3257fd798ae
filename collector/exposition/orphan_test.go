package exposition

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/nova-image-exporter/nova_image_exporter/client"
)

// snapshots are a project's own snapshots (proj-a: one of a live server, two of gone ones,
// one exported only as counted), another project's, one without an owner (Nova's proxy),
// an image that is no snapshot, and one that proj-a took of another project's server.
var snapshots = []client.Image{
	{ID: "a-live", Name: "live", Status: "SAVING", Owner: "proj-a", ServerID: "srv-live", Size: 10},
	{ID: "a-gone", Name: "gone", Status: "ACTIVE", Owner: "proj-a", ServerID: "srv-gone", Size: 100},
	{ID: "a-gone2", Name: "gone2", Status: "ERROR", Owner: "proj-a", ServerID: "srv-gone2", Missing: client.FieldSize},
	{ID: "a-base", Name: "base", Status: "ERROR", Owner: "proj-a", Size: 1000},
	{ID: "b-gone", Name: "shared", Status: "ERROR", Owner: "proj-b", ServerID: "srv-b", Size: 7},
	{ID: "n-gone", Name: "no-owner", Status: "ERROR", ServerID: "srv-n", Size: 3},
	// proj-a took it of proj-c's server (Nova's instance_owner): never judged, as no listing
	// of proj-a's servers can tell whether srv-c is gone.
	{ID: "a-foreign", Name: "foreign", Status: "ERROR", Owner: "proj-a", ServerOwner: "proj-c", ServerID: "srv-c", Size: 50},
}

// orphansScrape is the scrape of images, exported by exports, checked against servers; a
// nil servers is a server listing that failed.
func orphansScrape(t *testing.T, servers *client.Servers, exports *ImageExports) *Scrape {
	t.Helper()
	tally := NewTally(true).WithSnapshots()
	var kept []*client.Image
	for _, img := range pointers(snapshots) {
		if tally.Add(img) && exports.Exports(img) {
			kept = append(kept, img)
		}
	}
	var orphans *Orphans
	if servers != nil {
		orphans = NewOrphans(tally, *servers, nil)
	} else {
		orphans = NewOrphans(tally, client.Servers{IDs: []string{"srv-live"}, AllProjects: true}, errors.New("cut short"))
	}
	if tally.snapshots != nil {
		t.Error("the tally kept its snapshots after the orphan check")
	}
	return Listed(kept, tally, exports, 0, 0).WithOrphans(orphans)
}

var orphanFamilies = []string{"nova_image_servers_up", "nova_image_orphaned", "nova_orphaned_snapshots", "nova_orphaned_snapshots_size_bytes"}

const orphanHelp = `
# HELP nova_image_servers_up 1 if this listing's server listing (Nova's /servers, Huawei ECS's) succeeded, else 0 (failed, cut short, refused or abandoned: no orphan samples then); absent where orphaned snapshots are off (--images.orphaned-snapshots, orphaned_snapshots).
# TYPE nova_image_servers_up gauge
`

const orphanImageHelp = `
# HELP nova_image_orphaned 1 for a snapshot whose server (server_id) no longer exists, 0 for one whose server does, in any state; absent for an image that is no snapshot of a server, and where the server listing did not cover the snapshot's owner or failed.
# TYPE nova_image_orphaned gauge
`

const orphanCountHelp = `
# HELP nova_orphaned_snapshots Snapshots whose server no longer exists, per owning project (project_id empty where the API sends no owner), every listed image counted; only the projects the server listing covered (every project with an admin's all_tenants, else the credential's own); absent when the server listing failed.
# TYPE nova_orphaned_snapshots gauge
`

const orphanBytesHelp = `
# HELP nova_orphaned_snapshots_size_bytes Bytes of the snapshots nova_orphaned_snapshots counts; a snapshot without a size counts 0.
# TYPE nova_orphaned_snapshots_size_bytes gauge
`

// A project-scoped credential's server listing covers its own project: its snapshots of
// servers gone are orphaned, counted whatever gets per-image series (a-gone, ACTIVE, has
// none here); another project's snapshot and one without an owner get no sample.
func TestOrphansOfTheCoveredProject(t *testing.T) {
	exports, err := NewImageExports(true, nil, nil, PerImagePolicy{Statuses: []string{"!active"}})
	if err != nil {
		t.Fatal(err)
	}
	s := orphansScrape(t, &client.Servers{IDs: []string{"srv-b", "srv-live", "srv-other"}, Project: "proj-a"}, exports)
	want := orphanHelp + "nova_image_servers_up 1\n" + orphanImageHelp + `nova_image_orphaned{id="a-gone2",name="gone2"} 1
nova_image_orphaned{id="a-live",name="live"} 0
` + orphanCountHelp + `nova_orphaned_snapshots{project_id="proj-a"} 2
` + orphanBytesHelp + `nova_orphaned_snapshots_size_bytes{project_id="proj-a"} 100
`
	if err := testutil.GatherAndCompare(gatherText(t, s), strings.NewReader(want), orphanFamilies...); err != nil {
		t.Error(err)
	}
	requireClientGolangEncoding(t, s, func(k sink) { emit(k, s) })
}

// An admin's listing of every project (all_tenants) covers every owner, the empty one of
// Nova's proxy too.
func TestOrphansOfEveryProject(t *testing.T) {
	s := orphansScrape(t, &client.Servers{IDs: []string{"srv-b", "srv-live"}, AllProjects: true, Project: "admin"}, DefaultImageExports())
	want := orphanHelp + "nova_image_servers_up 1\n" + orphanImageHelp + `nova_image_orphaned{id="a-gone",name="gone"} 1
nova_image_orphaned{id="a-gone2",name="gone2"} 1
nova_image_orphaned{id="a-live",name="live"} 0
nova_image_orphaned{id="b-gone",name="shared"} 0
nova_image_orphaned{id="n-gone",name="no-owner"} 1
` + orphanCountHelp + `nova_orphaned_snapshots{project_id=""} 1
nova_orphaned_snapshots{project_id="proj-a"} 2
nova_orphaned_snapshots{project_id="proj-b"} 0
` + orphanBytesHelp + `nova_orphaned_snapshots_size_bytes{project_id=""} 3
nova_orphaned_snapshots_size_bytes{project_id="proj-a"} 100
nova_orphaned_snapshots_size_bytes{project_id="proj-b"} 0
`
	if err := testutil.GatherAndCompare(gatherText(t, s), strings.NewReader(want), orphanFamilies...); err != nil {
		t.Error(err)
	}
	requireClientGolangEncoding(t, s, func(k sink) { emit(k, s) })
}

// Never a false orphan: a listing that knows no project of its credential covers nothing
// but with all_tenants, and a failed server listing gives servers_up 0 and nothing else,
// whether the image listing succeeded or not.
func TestNoOrphanWithoutEvidence(t *testing.T) {
	for name, s := range map[string]*Scrape{
		"no project":     orphansScrape(t, &client.Servers{IDs: []string{"srv-live"}}, DefaultImageExports()),
		"failed":         orphansScrape(t, nil, DefaultImageExports()),
		"listing failed": Failed(1).WithOrphans(&Orphans{Up: true}),
	} {
		served := gatherText(t, s)
		if n, _ := testutil.GatherAndCount(served, "nova_image_orphaned", "nova_orphaned_snapshots", "nova_orphaned_snapshots_size_bytes"); n != 0 {
			t.Errorf("%s: %d orphan series, want none", name, n)
		}
		if n, _ := testutil.GatherAndCount(served, "nova_image_servers_up"); n != 1 {
			t.Errorf("%s: %d nova_image_servers_up series, want 1", name, n)
		}
	}
	if err := testutil.GatherAndCompare(gatherText(t, orphansScrape(t, nil, DefaultImageExports())),
		strings.NewReader(orphanHelp+"nova_image_servers_up 0\n"), "nova_image_servers_up"); err != nil {
		t.Error(err)
	}
}

// With orphaned snapshots off there is no orphan family, and the tally keeps no snapshot.
func TestOrphansOff(t *testing.T) {
	s := listed(snapshots, DefaultImageExports(), true, 0)
	if n, _ := testutil.GatherAndCount(gatherText(t, s), orphanFamilies...); n != 0 {
		t.Errorf("%d orphan series, want none", n)
	}
	if s.tally.snapshots != nil {
		t.Errorf("the tally kept %d snapshots", len(s.tally.snapshots))
	}
}

// BenchmarkOrphans is the orphan check at the end of a listing of 100 000 snapshots of 10
// projects against 50 000 servers, half of their servers gone.
func BenchmarkOrphans(b *testing.B) {
	const n = 100_000
	images := make([]client.Image, n)
	servers := client.Servers{AllProjects: true}
	for i := range images {
		server := fmt.Sprintf("%08d-0000-4000-8000-000000000000", i)
		images[i] = client.Image{ID: fmt.Sprintf("img-%d", i), Status: "ACTIVE", Owner: fmt.Sprintf("project-%d", i%10), ServerID: server, Size: 1 << 20}
		if i%2 == 0 {
			servers.IDs = append(servers.IDs, server)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		tally := NewTally(true).WithSnapshots()
		for i := range images {
			tally.Add(&images[i])
		}
		held := tally.Bytes()
		b.StartTimer()
		o := NewOrphans(tally, servers, nil)
		b.ReportMetric(float64(held)/n, "tally-B/image")
		b.ReportMetric(float64(o.Bytes())/float64(len(servers.IDs)), "kept-B/server")
	}
}
