package exposition

import "github.com/prometheus/client_golang/prometheus"

// Namespace is the first part of every metric name the exporter serves.
const Namespace = "nova"

// family is one metric family of a scrape, built once: its name, help, label names and
// value type, all that the text exposition writes of it besides the samples (node_exporter's
// typedDesc, without a descriptor: no registry sees these families).
type family struct {
	name, help string
	labels     []string
	valueType  prometheus.ValueType
}

func newGauge(subsystem, name, help string, labels ...string) *family {
	return newFamily(prometheus.GaugeValue, subsystem, name, help, labels...)
}

func newFamily(valueType prometheus.ValueType, subsystem, name, help string, labels ...string) *family {
	fq := prometheus.BuildFQName(Namespace, subsystem, name)
	return &family{name: fq, help: help, labels: labels, valueType: valueType}
}

// typeName is the type of a family as the text format writes it.
func typeName(valueType prometheus.ValueType) string {
	switch valueType {
	case prometheus.CounterValue:
		return "counter"
	case prometheus.GaugeValue:
		return "gauge"
	default:
		return "untyped"
	}
}

// The families of every scrape, all gauges; nova_image_info, whose labels depend on the
// flags, is in ImageExports.
var (
	upFamily = newGauge("", "up",
		"1 if this scrape's listing of images (Nova's images/detail, Glance's /v2/images or IMS's /v2/cloudimages) succeeded, else 0.")
	scrapeDurationFamily = newGauge("scrape", "duration_seconds",
		"Seconds this scrape's listing of images took, authentication and every page included.")
	listingAgeFamily = newGauge("listing", "age_seconds",
		"Seconds since the listing this scrape served was made: about 0, unless --cache.ttl is set and the listing came from the cache (then up to the TTL).")
	unreadableFieldsFamily = newGauge("listing", "unreadable_fields",
		"Fields of the listing the API sent in a form that could not be read (an unparsable time); their samples are left out.")
	imagesFamily = newGauge("", "images",
		"Images per Nova status (ACTIVE, SAVING, DELETED, ERROR, UNKNOWN, or another status upper-cased); Glance's and IMS's statuses mapped as Nova's images proxy maps them.",
		"status")
	imagesSizeFamily = newGauge("images", "size_bytes",
		"Bytes of the images per Nova status, every listed image counted whatever gets per-image series; an image without a size counts 0.",
		"status")
	projectImagesFamily = newGauge("project", "images",
		"Images per owning project (project_id, the image's owner) and Nova status, every listed image counted; only the statuses a project has images in; none where the API sends no owner (nova) or the project metrics are off (--no-images.project-metrics, project_metrics: false).",
		"project_id", "status")
	projectImagesSizeFamily = newGauge("project", "images_size_bytes",
		"Bytes of the images per owning project and Nova status, as nova_project_images counts them; an image without a size counts 0.",
		"project_id", "status")
	imageStatusFamily = newGauge("image", "status",
		"Always 1, labelled with the image's current Nova status.", "id", "name", "status")
	imageSizeFamily = newGauge("image", "size_bytes",
		"Image size in bytes (Nova's OS-EXT-IMG-SIZE:size, Glance's size, IMS's __image_size; 0 or absent while the image holds no data).", "id", "name")
	imageVirtualSizeFamily = newGauge("image", "virtual_size_bytes",
		"Size of the image's virtual disk in bytes (Glance's and IMS's virtual_size); absent where the API does not give it (nova) or sends null.", "id", "name")
	imageMinDiskFamily = newGauge("image", "min_disk_bytes",
		"Minimum disk the image needs, in bytes (minDisk GiB × 2^30).", "id", "name")
	imageMinRAMFamily = newGauge("image", "min_ram_bytes",
		"Minimum RAM the image needs, in bytes (minRam MiB × 2^20).", "id", "name")
	imageProgressFamily = newGauge("image", "progress_ratio",
		"Upload progress of the image, 0 to 1 (progress percent / 100); for Glance and IMS derived from the status as Nova's proxy derives it (queued 0.25, saving 0.5, active 1, else 0).", "id", "name")
	imageCreatedFamily = newGauge("image", "created_timestamp_seconds",
		"When the image was created (created), in Unix seconds.", "id", "name")
	imageUpdatedFamily = newGauge("image", "updated_timestamp_seconds",
		"When the image was last updated (updated), in Unix seconds; absent when the API sends null.", "id", "name")
)
