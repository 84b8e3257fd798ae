package collector

import (
	"time"

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/collector/exposition"
)

// Inventory is what one listing of a cloud's images found: the tally of every image listed,
// the images that get per-image series, the quotas asked for beside them, and when it
// finished. Scrapes are given it, the cache keeps it.
type Inventory struct {
	// chunks hold the images kept, those that get per-image series by the listing's exports
	// (ListingRequest.Exports), in fixed-size slices: a growing single slice would copy
	// 100 000 images over and over (docs/performance.md).
	chunks [][]client.Image
	// tally counts every image listed, once, whatever is kept; listed is how many images
	// the listing handed over, duplicates included.
	tally  *exposition.Tally
	listed int
	At     time.Time // when the listing finished
	// renderings are its image part as served to gzip scrapes, rendered once, when more
	// than one scrape may be given the inventory (several waited for it, or the cache may
	// keep it); nil otherwise, for the one scrape streams its own. They go with the
	// inventory: held by the scrapes given it (and by the cache, if it keeps it), dropped
	// with it after the last of them.
	renderings *renderings
	// Quotas are what the cloud's quota request found alongside the listing; nil when
	// quotas are off for the cloud. quotaErr is why the request failed.
	Quotas   *exposition.Quotas
	quotaErr error
	// Orphans are what the cloud's server listing beside the listing told of its snapshots;
	// nil when orphaned snapshots are off. serverErr is why the server listing failed.
	Orphans   *exposition.Orphans
	serverErr error
	// Projects are the names of the listing's owners that the cloud's credential may read
	// (nova_project_info), by owner id; nil when project names are off for the cloud.
	// projectErr is what their read beside the listing reports.
	Projects   []client.Project
	projectErr error
	// bytes are what the images kept count by client.ImageBytes, with the tally's own
	// (Tally.Bytes); charge is what the inventory is charged in its Memory, renderings
	// included, while held (nil: nothing charged).
	bytes  int64
	charge *charge
}

// Release lets go of an inventory that Listings.Inventory returned, once it is answered.
func (inv Inventory) Release() { inv.charge.release() }

const listingChunk = 1024

// add counts img, the next image listed, and keeps it if exports exports it, charging what
// that takes: an image listed before (a page boundary that moved during the listing) is
// neither counted nor kept. It returns client.ErrDropped for an image it does not keep, a
// MemoryError when the charge does not fit.
func (inv *Inventory) add(img client.Image, exports *exposition.ImageExports) error {
	inv.listed++
	held := inv.tally.Bytes()
	keep := inv.tally.Add(&img) && exports.Exports(&img)
	n := inv.tally.Bytes() - held
	if keep {
		n += client.ImageBytes(img)
	}
	if err := inv.charge.add(n); err != nil {
		return err
	}
	inv.bytes += n
	if !keep {
		return client.ErrDropped
	}
	inv.keep(img)
	return nil
}

// keep appends img to the images kept.
func (inv *Inventory) keep(img client.Image) {
	if n := len(inv.chunks); n == 0 || len(inv.chunks[n-1]) == listingChunk {
		inv.chunks = append(inv.chunks, make([]client.Image, 0, listingChunk))
	}
	last := &inv.chunks[len(inv.chunks)-1]
	*last = append(*last, img)
}

// Len is the number of images kept: those that get per-image series.
func (inv Inventory) Len() int {
	if len(inv.chunks) == 0 {
		return 0
	}
	return (len(inv.chunks)-1)*listingChunk + len(inv.chunks[len(inv.chunks)-1])
}

// Images returns pointers to the images kept, in the order listed.
func (inv Inventory) Images() []*client.Image {
	images := make([]*client.Image, 0, inv.Len())
	for _, chunk := range inv.chunks {
		for i := range chunk {
			images = append(images, &chunk[i])
		}
	}
	return images
}

// Owners are the distinct ids of the projects that own the images listed, sorted; nil
// where the API sends no owner (Nova) or the project metrics are off for the cloud.
func (inv Inventory) Owners() []string { return inv.tally.Owners() }
