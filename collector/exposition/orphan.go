package exposition

import (
	"hash/maphash"
	"slices"
	"strings"

	"github.com/nova-image-exporter/nova_image_exporter/client"
)

// The orphan families: which snapshots' servers are gone, per image and per owning project,
// and whether the server listing that tells it succeeded.
var (
	serversUpFamily = newGauge("image_servers", "up",
		"1 if this listing's server listing (Nova's /servers, Huawei ECS's) succeeded, else 0 (failed, cut short, refused or abandoned: no orphan samples then); absent where orphaned snapshots are off (--images.orphaned-snapshots, orphaned_snapshots).")
	imageOrphanedFamily = newGauge("image", "orphaned",
		"1 for a snapshot whose server (server_id) no longer exists, 0 for one whose server does, in any state; absent for an image that is no snapshot of a server, and where the server listing did not cover the snapshot's owner or failed.",
		"id", "name")
	orphanedSnapshotsFamily = newGauge("", "orphaned_snapshots",
		"Snapshots whose server no longer exists, per owning project (project_id empty where the API sends no owner), every listed image counted; only the projects the server listing covered (every project with an admin's all_tenants, else the credential's own); absent when the server listing failed.",
		"project_id")
	orphanedSnapshotsSizeFamily = newGauge("orphaned_snapshots", "size_bytes",
		"Bytes of the snapshots nova_orphaned_snapshots counts; a snapshot without a size counts 0.",
		"project_id")
)

// Orphans are what a listing's server listing tells of its snapshots: whether it succeeded,
// and then which snapshots of the projects it covered have no server.
//
// A snapshot is orphaned only when the server listing covered its owner (client.Servers.
// Covers): never for another project's snapshot that a project-scoped credential sees
// (shared, public), nor, without all_tenants, for a snapshot whose owner the API does not
// send (Nova's proxy). Servers are known by a 64-bit hash of their id, as the tally knows
// images: two ids with the same hash would make a snapshot look as if its server existed,
// never the other way round.
type Orphans struct {
	// Up says that the server listing succeeded, complete: only then is anything orphaned.
	Up      bool
	seed    maphash.Seed
	servers idSet // the hashes of the servers' ids
	covered client.Servers
	// projects count the orphaned snapshots per owner covered that has a listed snapshot, 0
	// when none is orphaned.
	projects []ownerCount
}

// ownerCount is the count of one owner's orphaned snapshots.
type ownerCount struct {
	owner string
	count
}

// NewOrphans checks the snapshots t kept against servers, the complete listing of the
// servers the credential sees, and lets go of them; err says that the server listing
// failed: then nothing is orphaned.
func NewOrphans(t *Tally, servers client.Servers, err error) *Orphans {
	defer func() { t.snapshots = nil }()
	if err != nil {
		return &Orphans{}
	}
	o := &Orphans{Up: true, seed: t.seed, covered: client.Servers{AllProjects: servers.AllProjects, Project: servers.Project}}
	for _, id := range servers.IDs {
		o.servers.add(maphash.String(t.seed, id))
	}
	byOwner := map[string]*count{}
	for _, s := range t.snapshots {
		if !o.covered.Covers(s.owner) {
			continue
		}
		c, found := byOwner[s.owner]
		if !found {
			c = &count{}
			byOwner[s.owner] = c
		}
		if !o.servers.has(s.server) {
			c.images++
			c.bytes += s.size
		}
	}
	for owner, c := range byOwner {
		o.projects = append(o.projects, ownerCount{owner, *c})
	}
	slices.SortFunc(o.projects, func(a, b ownerCount) int { return strings.Compare(a.owner, b.owner) })
	return o
}

// Bytes is what o holds in memory, a little over: its table of servers and its counts.
func (o *Orphans) Bytes() int64 {
	if o == nil {
		return 0
	}
	return o.servers.bytes() + int64(len(o.projects))*entryBytes
}

// failed is what a scrape whose image listing failed tells of o: whether the server
// listing succeeded, and nothing of the snapshots.
func (o *Orphans) failed() *Orphans {
	if o == nil {
		return nil
	}
	return &Orphans{Up: o.Up}
}

// orphaned reports whether img is a snapshot whose server is gone; known is false where
// there is nothing to say: not a snapshot, its owner not covered, the listing failed.
func (o *Orphans) orphaned(img *client.Image) (orphaned, known bool) {
	if o == nil || !o.Up || img.ServerID == "" || foreignSnapshot(img) || !o.covered.Covers(img.Owner) {
		return false, false
	}
	return !o.servers.has(maphash.String(o.seed, img.ServerID)), true
}

// boolValue is 1 for true, 0 for false.
func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
