package exposition

import (
	"cmp"
	"hash/maphash"
	"math"
	"slices"
	"strings"

	"github.com/nova-image-exporter/nova_image_exporter/client"
)

// Tally is what a listing counts of every image it lists, whatever gets per-image series:
// images and bytes per Nova status, per owning project and status, and the fields that
// could not be read. It is made while the listing runs, image by image, so that a listing
// keeps only the images it exports and the tally: memory grows with the exported images
// and the distinct owners, not with the images listed.
//
// An image listed twice (a page boundary that moved during the listing) is counted once: the
// tally knows the listed ids by a 64-bit hash each (idSet), 11 to 22 bytes per listed image
// instead of the id itself. Two ids of one listing with the same hash would count as one
// image: about one chance in 40 million at a million images (n²/2^65).
type Tally struct {
	seed     maphash.Seed
	ids      idSet
	statuses map[string]*count
	// strings hold each status and owner id once, for the images of the listing to share.
	strings map[string]string
	// projects count per owner and status; nil when the project families are off.
	projects map[projectStatus]*count
	// snapshots are every listed snapshot, for the orphan check; nil when orphaned
	// snapshots are off (WithSnapshots).
	snapshots []snapshot
	problems  int
	first     string // the first unreadable field, as "image ID: field ..."
	entries   int64  // what the maps and the first problem take
}

// count is the images of a status, or of a project and status, and their bytes.
type count struct{ images, bytes int64 }

// add counts an image of size bytes. The bytes stay at math.MaxInt64 rather than wrap
// negative: 8 192 images of the largest size a client takes, 1 PiB, pass it.
func (c *count) add(size int64) {
	c.images++
	c.bytes = min(c.bytes, math.MaxInt64-size) + size
}

// projectStatus keys the count of one owning project's images in one status.
type projectStatus struct{ owner, status string }

// Bytes of a Tally, a little over, for the memory charged to a listing.
const (
	// entryBytes is a map entry of the tally besides its strings.
	entryBytes = 96
	// minIDSlots is the smallest table of idSet.
	minIDSlots = 16
)

// NewTally is the tally of a listing that starts; projects turns the per-project counts on.
// Nova's five statuses are always counted, 0 when no image has them.
func NewTally(projects bool) *Tally {
	t := &Tally{seed: maphash.MakeSeed(), statuses: map[string]*count{}, strings: map[string]string{}}
	for _, status := range client.NovaStatuses {
		t.statuses[status] = &count{}
	}
	if projects {
		t.projects = map[projectStatus]*count{}
	}
	return t
}

// Add counts img unless an image with its id was counted already, and reports whether it
// did. A counted image's Status and Owner become the tally's own strings, which every image
// of the listing with the same value shares.
func (t *Tally) Add(img *client.Image) bool {
	if !t.ids.add(maphash.String(t.seed, img.ID)) {
		return false
	}
	var size int64
	if !img.Missing.Has(client.FieldSize) {
		size = img.Size
	}
	img.Status = t.intern(img.Status)
	c, found := t.statuses[img.Status]
	if !found {
		c = &count{}
		t.statuses[img.Status] = c
		t.entries += entryBytes
	}
	c.add(size)
	t.addProblems(img)
	if img.Owner != "" {
		img.Owner = t.intern(img.Owner)
		t.addProject(img.Owner, img.Status, size)
	}
	t.addSnapshot(img, size)
	return true
}

// intern is the tally's own copy of s, held once for every image of the listing.
func (t *Tally) intern(s string) string {
	if own, found := t.strings[s]; found {
		return own
	}
	own := strings.Clone(s)
	t.strings[own] = own
	t.entries += entryBytes + int64(len(own))
	return own
}

// addProject counts an image of owner in status, when the project families are on.
func (t *Tally) addProject(owner, status string, size int64) {
	if t.projects == nil {
		return
	}
	key := projectStatus{owner, status}
	c, found := t.projects[key]
	if !found {
		c = &count{}
		t.projects[key] = c
		t.entries += entryBytes
	}
	c.add(size)
}

// addProblems counts img's unreadable fields, keeping the text of the first.
func (t *Tally) addProblems(img *client.Image) {
	if len(img.Problems) == 0 {
		return
	}
	if t.problems == 0 {
		t.first = "image " + img.ID + ": " + img.Problems[0]
		t.entries += int64(len(t.first))
	}
	t.problems += len(img.Problems)
}

// Bytes is what the tally holds in memory, a little over: its table of ids, its entries and
// its snapshots.
func (t *Tally) Bytes() int64 {
	return t.ids.bytes() + t.entries + snapshotBytes*int64(cap(t.snapshots))
}

// Problems is how many fields of the listing could not be read, and the first of them as
// "image ID: field ..."; 0 and "" when every field was read.
func (t *Tally) Problems() (n int, first string) {
	if t == nil {
		return 0, ""
	}
	return t.problems, t.first
}

// Owners are the distinct ids of the projects that own the images counted, sorted; nil when
// the project families are off.
func (t *Tally) Owners() []string {
	if t == nil || t.projects == nil {
		return nil
	}
	var owners []string
	for key := range t.projects {
		owners = append(owners, key.owner)
	}
	slices.Sort(owners)
	return slices.Compact(owners)
}

// sortedStatuses are the statuses counted, sorted.
func (t *Tally) sortedStatuses() []string {
	statuses := make([]string, 0, len(t.statuses))
	for status := range t.statuses {
		statuses = append(statuses, status)
	}
	slices.Sort(statuses)
	return statuses
}

// projectCount is the count of one project and status.
type projectCount struct {
	projectStatus
	count
}

// sortedProjects are the counts per project and status, by project then status.
func (t *Tally) sortedProjects() []projectCount {
	counts := make([]projectCount, 0, len(t.projects))
	for key, c := range t.projects {
		counts = append(counts, projectCount{key, *c})
	}
	slices.SortFunc(counts, func(a, b projectCount) int {
		return cmp.Or(strings.Compare(a.owner, b.owner), strings.Compare(a.status, b.status))
	})
	return counts
}

// snapshot is what a tally keeps of each listed snapshot, exported or not, for the orphan
// check at the end of the listing: its server's id by its hash, its owner (the tally's own
// string) and its bytes.
type snapshot struct {
	server uint64
	owner  string
	size   int64
}

// snapshotBytes is what a snapshot takes in the tally's slice.
const snapshotBytes = 32

// WithSnapshots makes t keep every listed snapshot (an image with a ServerID) for
// Orphans; it returns t.
func (t *Tally) WithSnapshots() *Tally {
	t.snapshots = []snapshot{}
	return t
}

// addSnapshot keeps img, counted with size, if it is a snapshot and t keeps them; a snapshot
// of another project's server is never judged (foreignSnapshot).
func (t *Tally) addSnapshot(img *client.Image, size int64) {
	if t.snapshots == nil || img.ServerID == "" || foreignSnapshot(img) {
		return
	}
	t.snapshots = append(t.snapshots, snapshot{server: maphash.String(t.seed, img.ServerID), owner: img.Owner, size: size})
}

// idSet is a set of 64-bit hashes: open addressing with linear probing in a table of a power
// of two slots, at most three quarters full, 0 marking a free slot (a hash of 0 is kept as 1).
// It takes 8 bytes a slot, 11 to 22 a hash (the table three quarters to three eighths full), where a map takes up to 38.
type idSet struct {
	slots []uint64
	n     int
}

// add adds h and reports whether it was new.
func (s *idSet) add(h uint64) bool {
	if h == 0 {
		h = 1
	}
	if 4*(s.n+1) > 3*len(s.slots) {
		s.grow()
	}
	mask := uint64(len(s.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case 0:
			s.slots[i] = h
			s.n++
			return true
		case h:
			return false
		}
	}
}

// has reports whether h was added.
func (s *idSet) has(h uint64) bool {
	if h == 0 {
		h = 1
	}
	if len(s.slots) == 0 {
		return false
	}
	mask := uint64(len(s.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case 0:
			return false
		case h:
			return true
		}
	}
}

// grow doubles the table.
func (s *idSet) grow() {
	old := s.slots
	s.slots, s.n = make([]uint64, max(minIDSlots, 2*len(old))), 0
	for _, h := range old {
		if h != 0 {
			s.add(h)
		}
	}
}

// bytes is what the table takes.
func (s *idSet) bytes() int64 { return 8 * int64(len(s.slots)) }

// foreignSnapshot reports whether img is a snapshot that one project took of another's
// server (Nova sets instance_owner then, and the image belongs to the project that took it):
// the listing of the owner's servers says nothing of it, so it is never called orphaned.
func foreignSnapshot(img *client.Image) bool {
	return img.ServerOwner != "" && img.ServerOwner != img.Owner
}
