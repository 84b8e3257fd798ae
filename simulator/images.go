package simulator

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"time"
)

// Image is one image as the simulator stores it; pointer fields may be nil
// (JSON null / absent).
type Image struct {
	// ID is the image id, a lower-case UUID.
	ID string
	// Name is the image name; nil is shown as JSON null.
	Name *string
	// Status is the Glance status in lower case: active, queued, saving,
	// killed, deleted, pending_delete, deactivated, uploading, importing.
	Status string
	// Size is the image size in bytes; nil makes Nova show 0 for
	// OS-EXT-IMG-SIZE:size.
	Size *int64
	// MinDisk is the minimum disk size in GiB.
	MinDisk int64
	// MinRAM is the minimum RAM in MiB.
	MinRAM int64
	// Created is the creation time.
	Created time.Time
	// Updated is the last update time; nil is shown as "updated": null.
	Updated *time.Time
	// Metadata holds the image properties, arbitrary JSON values.
	Metadata map[string]any
	// ServerID, when non-empty, marks a snapshot: the response then carries
	// "server": {"id": ..., "links": [self, bookmark]}. When empty, a string
	// metadata instance_uuid plays the same role, as in real Nova.
	ServerID string
	// Owner is the id of the project owning the image: Glance's and IMS's owner.
	Owner string
	// VirtualSize is the virtual disk size in bytes that Glance and IMS show; nil is JSON
	// null. Nova's proxy does not show it.
	VirtualSize *int64
	// Visibility is Glance's visibility: public, private, shared or community. "" means
	// shared, Glance's default for a new image since API 2.5 (checked on the realstack
	// Glance, Zed).
	Visibility string
	// Hidden is Glance's os_hidden: Glance's default listing leaves the image out (only
	// os_hidden=true lists it), and so does Nova's proxy, which lists through it.
	Hidden bool
	// ImageType is IMS's __imagetype: gold (public), private, shared or market. "" derives
	// it: gold for a public or community image, shared for one of another owner, else
	// private.
	ImageType string
}

// glanceVisibility is img's Glance visibility, with Glance's default.
func (img *Image) glanceVisibility() string {
	if img.Visibility == "" {
		return "shared"
	}
	return img.Visibility
}

// imsImageType is img's IMS __imagetype, derived when not set.
func (img *Image) imsImageType(project string) string {
	switch {
	case img.ImageType != "":
		return img.ImageType
	case img.Visibility == "public" || img.Visibility == "community":
		return "gold"
	case img.Owner != "" && img.Owner != project:
		return "shared"
	}
	return "private"
}

// serverID is the instance img is a snapshot of: ServerID, else a string metadata
// instance_uuid (what real Nova uses).
func (img *Image) serverID() string {
	if img.ServerID != "" {
		return img.ServerID
	}
	if v, ok := img.Metadata["instance_uuid"].(string); ok {
		return v
	}
	return ""
}

// SetImages replaces the image set (the slice is copied; the images' maps
// and pointers are shared and must not be modified afterwards).
func (s *Simulator) SetImages(images []Image) {
	imgs := slices.Clone(images)
	sort.SliceStable(imgs, func(i, j int) bool {
		ci, cj := imgs[i].Created, imgs[j].Created
		if !ci.Equal(cj) {
			return ci.After(cj)
		}
		return imgs[i].ID > imgs[j].ID
	})
	index := make(map[string]int, len(imgs))
	for i := range imgs {
		index[imgs[i].ID] = i
	}
	s.mu.Lock()
	s.images = imgs
	s.index = index
	s.generated = nil
	s.mu.Unlock()
}

// imageCount is the number of images in the set. s.mu must be read-locked.
func (s *Simulator) imageCount() int {
	if s.generated != nil {
		return s.generated.N
	}
	return len(s.images)
}

// imageAt returns the image at index i of the set, newest first: the stored one, or a
// generated one made into buf. s.mu must be read-locked.
func (s *Simulator) imageAt(i int, buf *Image) *Image {
	if s.generated != nil {
		*buf = s.generated.image(i)
		return buf
	}
	return &s.images[i]
}

// imageIndex returns the index of the image with id, false when the set has none. s.mu
// must be read-locked.
func (s *Simulator) imageIndex(id string) (int, bool) {
	if s.generated != nil {
		return s.generated.index(id)
	}
	i, ok := s.index[id]
	return i, ok
}

// Fixed ids of the images returned by DefaultImages, in the order
// DefaultImages returns them (oldest first).
const (
	// DefaultIDCirros is the active cirros image with data, min_disk 1, min_ram 512.
	DefaultIDCirros = "23589ad6-9cdf-421b-a188-700af6dde029"
	// DefaultIDQueued is the queued image without data (Nova: SAVING, 25, size 0).
	DefaultIDQueued = "4512a65b-1176-441d-ad30-52571f39efe4"
	// DefaultIDSaving is the image in Glance status saving (Nova: SAVING, 50).
	DefaultIDSaving = "5c0d7e21-3b8a-4f6e-a1d2-6e9f0b3c4a58"
	// DefaultIDKilled is the killed image (Nova: ERROR); its Updated is nil.
	DefaultIDKilled = "6d1e8f32-4c9b-4a7f-b2e3-7fa01c4d5b69"
	// DefaultIDDeleted is the deleted image (Nova: DELETED).
	DefaultIDDeleted = "7e2f9043-5dac-4b80-83f4-80b12d5e6c7a"
	// DefaultIDDeactivated is the deactivated image (Nova: UNKNOWN, 0).
	DefaultIDDeactivated = "aa821286-8966-41e4-889d-c938bb65c73c"
	// DefaultIDSnapshot is the active server snapshot.
	DefaultIDSnapshot = "7ab00dbc-fa05-45f5-b2e3-d3fd5019950a"
	// DefaultIDUnicode is the active image whose name has spaces and non-ASCII.
	DefaultIDUnicode = "128fd5d9-5671-4545-b652-03975e363803"
	// DefaultIDNoName is the active image whose Name is nil (newest).
	DefaultIDNoName = "1ab49c3c-81ba-4db0-acbb-eaf5def3fbd4"

	// DefaultIDHidden is FullImages' active image with os_hidden true: Glance lists it only
	// with os_hidden=true, and Nova's proxy not at all.
	DefaultIDHidden = "3c9f2b7e-0d41-4e8a-9b6c-5a2e7f1d8c03"
	// DefaultIDImporting is FullImages' image in Glance status importing (Nova: UNKNOWN).
	DefaultIDImporting = "b5e0c7d2-6f13-4a9e-8d24-1c7b3e9f0a46"

	// DefaultSnapshotServerID is the server (instance) id of DefaultIDSnapshot.
	DefaultSnapshotServerID = "8f3bd1a2-5c6e-4c1d-9a7b-2f0e6d4c1b10"
	// DefaultUnicodeName is the name of DefaultIDUnicode.
	DefaultUnicodeName = "Ubuntu 22.04 LTS – Ünïcödé 名前 test"
)

func strPtr(s string) *string { return &s }

func i64Ptr(n int64) *int64 { return &n }

func timePtr(t time.Time) *time.Time { return &t }

// DefaultImages returns a realistic fixed set of 9 images, oldest first,
// with times relative to now (created now-48h ... now-2h, whole seconds, UTC).
// It covers every Nova status: ACTIVE, SAVING (queued and saving), ERROR,
// DELETED and UNKNOWN, a snapshot, a non-ASCII name, a nil name and a nil
// updated time; every Glance visibility (the queued image has Glance's default,
// shared) and virtual sizes on some. Ids are the DefaultID* constants.
// FullImages adds the images only Glance and IMS tell apart.
func DefaultImages(now time.Time) []Image {
	now = now.UTC().Truncate(time.Second)
	at := func(h int) time.Time { return now.Add(-time.Duration(h) * time.Hour) }
	const owner = defaultProjectID
	return []Image{
		{
			ID: DefaultIDCirros, Name: strPtr("cirros-0.6.2-x86_64-disk"), Status: "active",
			Size: i64Ptr(21430272), MinDisk: 1, MinRAM: 512,
			Created: at(48), Updated: timePtr(at(47)),
			Metadata:    map[string]any{"os_distro": "cirros", "os_version": "0.6.2", "hw_disk_bus": "virtio"},
			Owner:       owner,
			VirtualSize: i64Ptr(117440512), Visibility: "public",
		},
		{
			ID: DefaultIDQueued, Name: strPtr("queued-no-data"), Status: "queued",
			Created: at(40), Updated: timePtr(at(40)), Metadata: map[string]any{}, Owner: owner,
		},
		{
			ID: DefaultIDSaving, Name: strPtr("uploading-big-image"), Status: "saving",
			Size: i64Ptr(1073741824), MinDisk: 10, MinRAM: 1024,
			Created: at(36), Updated: timePtr(at(35)),
			Metadata: map[string]any{"os_distro": "centos", "os_version": "9"}, Owner: owner,
			Visibility: "private",
		},
		{
			ID: DefaultIDKilled, Name: strPtr("failed-upload"), Status: "killed",
			Size: i64Ptr(0), Created: at(30), Updated: nil,
			Metadata: map[string]any{"description": "upload interrupted"}, Owner: owner,
		},
		{
			ID: DefaultIDDeleted, Name: strPtr("deleted-image"), Status: "deleted",
			Size: i64Ptr(8388608), MinDisk: 1, Created: at(26), Updated: timePtr(at(25)),
			Metadata: map[string]any{}, Owner: owner,
		},
		{
			ID: DefaultIDDeactivated, Name: strPtr("to-be-deactivated"), Status: "deactivated",
			Size: i64Ptr(2048), MinDisk: 2, Created: at(20), Updated: timePtr(at(19)),
			Metadata: map[string]any{}, Owner: owner,
		},
		{
			ID: DefaultIDSnapshot, Name: strPtr("server-snapshot-1"), Status: "active",
			Size: i64Ptr(3072), MinDisk: 1, MinRAM: 64, Created: at(12), Updated: timePtr(at(12)),
			Metadata: map[string]any{"image_type": "snapshot", "instance_uuid": DefaultSnapshotServerID},
			ServerID: DefaultSnapshotServerID, Owner: owner,
			VirtualSize: i64Ptr(1073741824), Visibility: "private",
		},
		{
			ID: DefaultIDUnicode, Name: strPtr(DefaultUnicodeName), Status: "active",
			Size: i64Ptr(1024), MinRAM: 256, Created: at(6), Updated: timePtr(at(6)),
			Metadata: map[string]any{}, Owner: owner,
			VirtualSize: i64Ptr(10737418240), Visibility: "community",
		},
		{
			ID: DefaultIDNoName, Name: nil, Status: "active",
			Size: i64Ptr(2048), MinDisk: 3, Created: at(2), Updated: timePtr(at(2)),
			Metadata: map[string]any{"os_distro": "debian"}, Owner: "public",
			VirtualSize: i64Ptr(2147483648), Visibility: "public",
		},
	}
}

// FullImages returns DefaultImages and two more, oldest first: DefaultIDHidden (active,
// os_hidden, created now-44h), which Nova's proxy never lists, and DefaultIDImporting
// (Glance status importing, created now-10h), which Nova shows as UNKNOWN. It is the set to
// read one cloud through every API with; DefaultImages stays the default image set, so
// that Nova's counts over it do not change.
func FullImages(now time.Time) []Image {
	imgs := DefaultImages(now)
	now = now.UTC().Truncate(time.Second)
	at := func(h int) time.Time { return now.Add(-time.Duration(h) * time.Hour) }
	hidden := Image{
		ID: DefaultIDHidden, Name: strPtr("hidden-rescue-image"), Status: "active",
		Size: i64Ptr(4194304), VirtualSize: i64Ptr(1073741824), MinDisk: 1, MinRAM: 128,
		Created: at(44), Updated: timePtr(at(43)), Metadata: map[string]any{"os_distro": "ubuntu"},
		Owner: defaultProjectID, Visibility: "private", Hidden: true,
	}
	importing := Image{
		ID: DefaultIDImporting, Name: strPtr("importing-web-download"), Status: "importing",
		Created: at(10), Updated: timePtr(at(9)),
		Metadata: map[string]any{"os_glance_import_task": "a41c6f3e-2b7d-4c90-8e15-d3f2a6b9c870"},
		Owner:    defaultProjectID, Visibility: "private",
	}
	imgs = slices.Insert(imgs, 7, importing) // after the snapshot (now-12h)
	return slices.Insert(imgs, 1, hidden)
}

var genNames = []string{
	"cirros-0.6.2-x86_64-disk",
	"ubuntu-22.04-server-cloudimg-amd64",
	"Ubuntu 24.04 LTS",
	"debian-12-genericcloud-amd64",
	"CentOS Stream 9",
	"Rocky Linux 9.4",
	"Windows Server 2022 Datacenter",
	"Fedora-Cloud-Base-40",
	"Débian 12 – bookworm (édition spéciale)",
	"镜像 测试 image",
	"openSUSE Leap 15.6",
	"alpine-3.20-x86_64",
	"Образ сервера",
	"EulerOS 2.10 64bit",
}

var genDistros = []string{"ubuntu", "debian", "centos", "rocky", "windows", "fedora", "opensuse", "alpine", "euleros", "cirros"}

type genStatus struct {
	status string
	weight int
}

var genStatuses = []genStatus{
	{"active", 80}, {"queued", 4}, {"saving", 4}, {"killed", 2}, {"deleted", 2},
	{"pending_delete", 1}, {"deactivated", 3}, {"uploading", 2}, {"importing", 2},
}

func genUUID(r *rand.Rand) string {
	var b [16]byte
	for i := 0; i < 16; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func genHex(r *rand.Rand, n int) string {
	const digits = "0123456789abcdef"
	out := make([]byte, n)
	for i := range out {
		out[i] = digits[r.IntN(16)]
	}
	return string(out)
}

// metaGen produces one optional metadata entry.
type metaGen struct {
	key string
	val func(r *rand.Rand) any
}

var genMeta = []metaGen{
	{"os_distro", func(r *rand.Rand) any { return genDistros[r.IntN(len(genDistros))] }},
	{"os_version", func(r *rand.Rand) any { return fmt.Sprintf("%d.%d", 7+r.IntN(18), r.IntN(10)) }},
	{"os_type", func(r *rand.Rand) any { return []string{"linux", "windows"}[r.IntN(2)] }},
	{"architecture", func(r *rand.Rand) any { return []string{"x86_64", "aarch64"}[r.IntN(2)] }},
	{"hw_disk_bus", func(r *rand.Rand) any { return []string{"virtio", "scsi", "ide"}[r.IntN(3)] }},
	{"hw_vif_model", func(*rand.Rand) any { return "virtio" }},
	{"hw_scsi_model", func(*rand.Rand) any { return "virtio-scsi" }},
	{"hw_qemu_guest_agent", func(r *rand.Rand) any { return []string{"yes", "no"}[r.IntN(2)] }},
	{"hw_firmware_type", func(r *rand.Rand) any { return []string{"bios", "uefi"}[r.IntN(2)] }},
	{"hypervisor_type", func(*rand.Rand) any { return "kvm" }},
	{"img_config_drive", func(r *rand.Rand) any { return []string{"optional", "mandatory"}[r.IntN(2)] }},
	{"os_admin_user", func(r *rand.Rand) any { return []string{"root", "ubuntu", "Administrator"}[r.IntN(3)] }},
	{"description", func(r *rand.Rand) any {
		return []string{"Built by the image pipeline", "Golden image – approved ✓", "nightly build", ""}[r.IntN(4)]
	}},
	{"owner_specified.openstack.md5", func(r *rand.Rand) any { return genHex(r, 32) }},
	{"owner_specified.openstack.sha256", func(r *rand.Rand) any { return genHex(r, 64) }},
	{"owner_specified.openstack.object", func(r *rand.Rand) any { return "images/" + genHex(r, 8) }},
	{"build_number", func(r *rand.Rand) any { return int64(1000 + r.IntN(9000)) }},
	{"min_vcpus", func(r *rand.Rand) any { return int64(1 + r.IntN(8)) }},
	{"cpu_weight", func(r *rand.Rand) any { return float64(r.IntN(100)) / 10 }},
	{"hw_boot_menu", func(r *rand.Rand) any { return r.IntN(2) == 0 }},
	{"os_secure_boot", func(r *rand.Rand) any { return r.IntN(2) == 0 }},
	{"__os_bit", func(*rand.Rand) any { return "64" }},
	{"__support_kvm", func(r *rand.Rand) any { return []string{"true", "false"}[r.IntN(2)] }},
	{"__platform", func(r *rand.Rand) any { return []string{"Ubuntu", "CentOS", "Windows", "EulerOS"}[r.IntN(4)] }},
	{"virtual_env_type", func(*rand.Rand) any { return "FusionCompute" }},
	{"ramdisk_id", func(*rand.Rand) any { return nil }},
	{"tags_info", func(r *rand.Rand) any {
		return map[string]any{"team": []string{"infra", "web", "data"}[r.IntN(3)], "cost_center": int64(100 + r.IntN(900)), "critical": r.IntN(2) == 0}
	}},
}

// GenerateImages returns n realistic images, deterministic for a given seed
// and now. Each has 10–20 metadata keys (strings, numbers, booleans, a
// null, occasionally a nested object); every fourth image (a quarter) is a
// snapshot with ServerID and metadata image_type=snapshot and instance_uuid;
// statuses are mixed (about 80% active); sizes range from MiB to tens of
// GiB (nil for queued images); some names have spaces and non-ASCII, a few
// are nil; ids are lower-case UUIDs. Created times are whole seconds within
// the year before now. Generated makes images of the same kind one at a time.
func GenerateImages(n int, seed int64, now time.Time) []Image {
	if n <= 0 {
		return []Image{}
	}
	now = now.UTC().Truncate(time.Second)
	r := rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15))
	randomCreated := func(r *rand.Rand) time.Time {
		return now.Add(-time.Duration(r.Int64N(365*24*3600)+60) * time.Second)
	}
	out := make([]Image, n)
	for i := range out {
		out[i] = genImage(r, i, now, randomCreated)
	}
	return out
}

// genStatusTotal is the sum of genStatuses' weights.
var genStatusTotal = func() int {
	total := 0
	for _, s := range genStatuses {
		total += s.weight
	}
	return total
}()

// genImage makes the i-th generated image from r, created at created(r).
func genImage(r *rand.Rand, i int, now time.Time, created func(r *rand.Rand) time.Time) Image {
	var img Image
	img.ID = genUUID(r)
	w := r.IntN(genStatusTotal)
	for _, s := range genStatuses {
		if w < s.weight {
			img.Status = s.status
			break
		}
		w -= s.weight
	}
	if r.IntN(100) != 0 {
		name := genNames[r.IntN(len(genNames))]
		if r.IntN(3) != 0 {
			name = fmt.Sprintf("%s-%d", name, i)
		}
		img.Name = &name
	}
	if img.Status != "queued" {
		// Log-uniform between 1 MiB and 64 GiB.
		size := int64(1<<20) << r.IntN(16)
		size += r.Int64N(size)
		img.Size = &size
	}
	img.MinDisk = []int64{0, 0, 1, 5, 10, 20, 40, 80}[r.IntN(8)]
	img.MinRAM = []int64{0, 0, 64, 256, 512, 1024, 2048, 4096}[r.IntN(8)]
	img.Created = created(r)
	if r.IntN(50) != 0 {
		u := img.Created.Add(time.Duration(r.Int64N(int64(now.Sub(img.Created)/time.Second)+1)) * time.Second)
		img.Updated = &u
	}
	img.Owner = defaultProjectID
	if r.IntN(10) == 0 {
		img.Owner = genHex(r, 32)
	}
	img.Metadata = genMetadata(r, i, &img)
	return img
}

// genMetadata makes the metadata of the i-th generated image img, a snapshot's server
// included.
func genMetadata(r *rand.Rand, i int, img *Image) map[string]any {
	keys := 10 + r.IntN(11)
	md := make(map[string]any, keys)
	md["kernel_id"] = nil
	if i%4 == 1 {
		img.ServerID = genUUID(r)
		md["image_type"] = "snapshot"
		md["instance_uuid"] = img.ServerID
		md["base_image_ref"] = genUUID(r)
		md["user_id"] = genHex(r, 32)
	}
	order := make([]int, len(genMeta))
	for j := range order {
		order[j] = j
	}
	r.Shuffle(len(order), func(a, b int) { order[a], order[b] = order[b], order[a] })
	for _, j := range order {
		if len(md) >= keys {
			break
		}
		g := genMeta[j]
		if g.key == "tags_info" && r.IntN(4) != 0 {
			continue // nested objects only occasionally
		}
		md[g.key] = g.val(r)
	}
	return md
}
