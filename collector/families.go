package collector

import "github.com/prometheus/client_golang/prometheus"

const namespace = "nova"

// family is one metric family of a scrape, built once: its descriptor for the Collector,
// and its name, help and label names for the text exposition.
type family struct {
	name, help string
	labels     []string
	desc       *prometheus.Desc
}

func newFamily(subsystem, name, help string, labels ...string) *family {
	fq := prometheus.BuildFQName(namespace, subsystem, name)
	return &family{name: fq, help: help, labels: labels, desc: prometheus.NewDesc(fq, help, labels, nil)}
}

// The families of every scrape; nova_image_info, whose labels depend on the flags, is in
// ImageExports.
var (
	upFamily = newFamily("", "up",
		"1 if this scrape's listing of images (GET images/detail) succeeded, else 0.")
	scrapeDurationFamily = newFamily("scrape", "duration_seconds",
		"Seconds this scrape's listing of images took, authentication and every page included.")
	listingAgeFamily = newFamily("listing", "age_seconds",
		"Seconds since the listing this scrape served was made: about 0, unless --cache.ttl is set and the listing came from the cache (then up to the TTL).")
	unreadableFieldsFamily = newFamily("listing", "unreadable_fields",
		"Fields of the listing the API sent in a form that could not be read (an unparsable time); their samples are left out.")
	imagesFamily = newFamily("", "images",
		"Images per Nova status (ACTIVE, SAVING, DELETED, ERROR, UNKNOWN, or another status upper-cased), from images/detail.",
		"status")
	imageStatusFamily = newFamily("image", "status",
		"Always 1, labelled with the image's current Nova status.", "id", "name", "status")
	imageSizeFamily = newFamily("image", "size_bytes",
		"Image size in bytes (OS-EXT-IMG-SIZE:size; 0 while Glance holds no data).", "id", "name")
	imageMinDiskFamily = newFamily("image", "min_disk_bytes",
		"Minimum disk the image needs, in bytes (minDisk GiB × 2^30).", "id", "name")
	imageMinRAMFamily = newFamily("image", "min_ram_bytes",
		"Minimum RAM the image needs, in bytes (minRam MiB × 2^20).", "id", "name")
	imageProgressFamily = newFamily("image", "progress_ratio",
		"Upload progress of the image, 0 to 1 (progress percent / 100).", "id", "name")
	imageCreatedFamily = newFamily("image", "created_timestamp_seconds",
		"When the image was created (created), in Unix seconds.", "id", "name")
	imageUpdatedFamily = newFamily("image", "updated_timestamp_seconds",
		"When the image was last updated (updated), in Unix seconds; absent when the API sends null.", "id", "name")
)

var fixedFamilies = []*family{
	upFamily, scrapeDurationFamily, listingAgeFamily, unreadableFieldsFamily, imagesFamily, imageStatusFamily,
	imageSizeFamily, imageMinDiskFamily, imageMinRAMFamily, imageProgressFamily, imageCreatedFamily, imageUpdatedFamily,
}
