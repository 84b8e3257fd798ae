// Package collector turns a listing of the images-detail API into Prometheus metrics.
//
// A Collector lists images on every Collect and emits const metrics only, so nothing is
// kept between scrapes: an image deleted in the cloud disappears from the next scrape.
package collector

import (
	"context"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/nova-image-exporter/nova_image_exporter/client"
)

const namespace = "nova"

// Statuses that nova_images always reports, 0 when no image has them.
var knownStatuses = []string{"ACTIVE", "SAVING", "DELETED", "ERROR", "UNKNOWN"}

var imageLabels = []string{"id", "name"}

var (
	upDesc = prometheus.NewDesc(prometheus.BuildFQName(namespace, "", "up"),
		"1 if this scrape's listing of images (GET images/detail) succeeded, else 0.", nil, nil)
	scrapeDurationDesc = prometheus.NewDesc(prometheus.BuildFQName(namespace, "scrape", "duration_seconds"),
		"Seconds this scrape's listing of images took, authentication and every page included.", nil, nil)
	imagesDesc = prometheus.NewDesc(prometheus.BuildFQName(namespace, "", "images"),
		"Images per Nova status (ACTIVE, SAVING, DELETED, ERROR, UNKNOWN, or another status upper-cased), from images/detail.",
		[]string{"status"}, nil)
	imageStatusDesc = prometheus.NewDesc(prometheus.BuildFQName(namespace, "image", "status"),
		"Always 1, labelled with the image's current Nova status.", []string{"id", "name", "status"}, nil)
	imageSizeDesc = prometheus.NewDesc(prometheus.BuildFQName(namespace, "image", "size_bytes"),
		"Image size in bytes (OS-EXT-IMG-SIZE:size; 0 while Glance holds no data).", imageLabels, nil)
	imageMinDiskDesc = prometheus.NewDesc(prometheus.BuildFQName(namespace, "image", "min_disk_bytes"),
		"Minimum disk the image needs, in bytes (minDisk GiB × 2^30).", imageLabels, nil)
	imageMinRAMDesc = prometheus.NewDesc(prometheus.BuildFQName(namespace, "image", "min_ram_bytes"),
		"Minimum RAM the image needs, in bytes (minRam MiB × 2^20).", imageLabels, nil)
	imageProgressDesc = prometheus.NewDesc(prometheus.BuildFQName(namespace, "image", "progress_ratio"),
		"Upload progress of the image, 0 to 1 (progress percent / 100).", imageLabels, nil)
	imageCreatedDesc = prometheus.NewDesc(prometheus.BuildFQName(namespace, "image", "created_timestamp_seconds"),
		"When the image was created (created), in Unix seconds.", imageLabels, nil)
	imageUpdatedDesc = prometheus.NewDesc(prometheus.BuildFQName(namespace, "image", "updated_timestamp_seconds"),
		"When the image was last updated (updated), in Unix seconds; absent when the API sends null.", imageLabels, nil)
	listingAgeDesc = prometheus.NewDesc(prometheus.BuildFQName(namespace, "listing", "age_seconds"),
		"Seconds since the listing this scrape served was made: about 0, unless --cache.ttl is set and the listing came from the cache (then up to the TTL).", nil, nil)
	unreadableFieldsDesc = prometheus.NewDesc(prometheus.BuildFQName(namespace, "listing", "unreadable_fields"),
		"Fields of the listing the API sent in a form that could not be read (an unparsable time); their samples are left out.", nil, nil)
)

var allDescs = []*prometheus.Desc{
	upDesc, scrapeDurationDesc, listingAgeDesc, unreadableFieldsDesc, imagesDesc, imageStatusDesc, imageSizeDesc, imageMinDiskDesc,
	imageMinRAMDesc, imageProgressDesc, imageCreatedDesc, imageUpdatedDesc,
}

// Lister lists the images of one cloud project; *client.Client is one.
type Lister interface {
	ListImages(ctx context.Context, opts client.ListOptions) ([]client.Image, error)
}

// Target is one cloud to list: its name (as in clouds.yaml), its shared listings and what
// to list.
type Target struct {
	Cloud     string
	Listings  *Shared
	Selection client.Selection
}

// Collector lists images once per Collect, within the deadline of its context.
type Collector struct {
	ctx     context.Context
	target  Target
	exports *ImageExports
	metrics *ExporterMetrics
	logger  log.Logger
}

// New returns a Collector for one scrape: ctx carries the scrape's deadline. exports nil
// takes DefaultImageExports; metrics may be nil.
func New(ctx context.Context, target Target, exports *ImageExports, metrics *ExporterMetrics, logger log.Logger) *Collector {
	if exports == nil {
		exports = DefaultImageExports()
	}
	return &Collector{ctx: ctx, target: target, exports: exports, metrics: metrics, logger: logger}
}

// Describe sends every descriptor the Collector can emit.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allDescs {
		ch <- d
	}
	ch <- c.exports.infoDesc
}

// Collect lists the images and sends their metrics, or only nova_up 0 and the duration if
// the listing failed; the failure is logged once, here.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	start := time.Now()
	listing, err := c.target.Listings.Listing(c.ctx, c.target.Selection.ListOptions(time.Now()))
	duration := time.Since(start).Seconds()
	up := 1.0
	if err != nil {
		up = 0
		level.Error(c.logger).Log("msg", "listing images failed", "err", err, "duration_seconds", duration)
		if c.metrics != nil {
			c.metrics.observeListing(c.target.Cloud, err)
		}
	} else {
		unreadable := c.collectImages(ch, listing.Images)
		c.reportUnreadable(unreadable)
		ch <- prometheus.MustNewConstMetric(listingAgeDesc, prometheus.GaugeValue, time.Since(listing.At).Seconds())
		ch <- prometheus.MustNewConstMetric(unreadableFieldsDesc, prometheus.GaugeValue, float64(len(unreadable)))
	}
	ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, up)
	ch <- prometheus.MustNewConstMetric(scrapeDurationDesc, prometheus.GaugeValue, duration)
}

// reportUnreadable logs, once per scrape, the fields left out of the listing.
func (c *Collector) reportUnreadable(problems []string) {
	if len(problems) > 0 {
		level.Warn(c.logger).Log("msg", "left out fields the API sent in a form that could not be read",
			"count", len(problems), "first", problems[0])
	}
}

// collectImages sends the per-status counts and the per-image series, and returns the
// problems of images with unreadable fields. An id listed twice (a page boundary that moved
// during the listing) is counted and exported once.
func (c *Collector) collectImages(ch chan<- prometheus.Metric, images []client.Image) (problems []string) {
	counts := make(map[string]int, len(knownStatuses))
	for _, s := range knownStatuses {
		counts[s] = 0
	}
	seen := make(map[string]struct{}, len(images))
	for i := range images {
		img := &images[i]
		if _, dup := seen[img.ID]; dup {
			continue
		}
		seen[img.ID] = struct{}{}
		for _, problem := range img.Problems {
			problems = append(problems, "image "+img.ID+": "+problem)
		}
		counts[img.Status]++
		if c.exports.exportsImage(img.Metadata) {
			c.collectImage(ch, img)
		}
	}
	for status, n := range counts {
		ch <- prometheus.MustNewConstMetric(imagesDesc, prometheus.GaugeValue, float64(n), status)
	}
	return problems
}

func (c *Collector) collectImage(ch chan<- prometheus.Metric, img *client.Image) {
	ch <- prometheus.MustNewConstMetric(imageStatusDesc, prometheus.GaugeValue, 1, img.ID, img.Name, img.Status)
	info := append([]string{img.ID, img.Name, img.ServerID}, c.exports.infoLabelValues(img.Metadata)...)
	ch <- prometheus.MustNewConstMetric(c.exports.infoDesc, prometheus.GaugeValue, 1, info...)
	optional := []struct {
		desc  *prometheus.Desc
		value client.Int64
		scale float64
	}{
		{imageSizeDesc, img.Size, 1},
		{imageMinDiskDesc, img.MinDisk, 1 << 30},
		{imageMinRAMDesc, img.MinRAM, 1 << 20},
		{imageProgressDesc, img.Progress, 0.01},
	}
	for _, o := range optional {
		if o.value.Valid {
			ch <- prometheus.MustNewConstMetric(o.desc, prometheus.GaugeValue, float64(o.value.Value)*o.scale, img.ID, img.Name)
		}
	}
	for _, t := range []struct {
		desc *prometheus.Desc
		at   time.Time
	}{{imageCreatedDesc, img.Created}, {imageUpdatedDesc, img.Updated}} {
		if !t.at.IsZero() {
			ch <- prometheus.MustNewConstMetric(t.desc, prometheus.GaugeValue, float64(t.at.UnixMilli())/1e3, img.ID, img.Name)
		}
	}
}
