// Package collector turns a listing of the images-detail API into Prometheus metrics.
//
// Every scrape lists the images anew and builds its metrics from that listing alone, so
// nothing is kept between scrapes: an image deleted in the cloud disappears from the next
// scrape. The same metrics are available two ways: a Collector (const metrics, for a
// prometheus.Registry) and the Handler's streaming text exposition, which writes the
// same samples without building a metric object per sample (see emit).
package collector

import (
	"context"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/nova-image-exporter/nova_image_exporter/client"
)

// Lister lists the images of one cloud project, handing them over one by one as pages
// arrive; *nova.Client is one.
type Lister interface {
	EachImage(ctx context.Context, opts client.ListOptions, fn func(client.Image) error) error
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
	for _, f := range fixedFamilies {
		ch <- f.desc
	}
	ch <- c.exports.info.desc
}

// Collect lists the images and sends their metrics, or only nova_up 0 and the duration if
// the listing failed; the failure is logged once.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	result := scrapeTarget(c.ctx, c.target, c.exports, c.metrics, c.logger)
	emit(constSink{ch: ch, result: result}, result, c.exports)
}

// constSink sends each sample as a const metric.
type constSink struct {
	ch     chan<- prometheus.Metric
	result *scrapeResult
}

func (s constSink) sample(f *family, value float64, labelValues ...string) {
	s.ch <- prometheus.MustNewConstMetric(f.desc, prometheus.GaugeValue, value, labelValues...)
}

func (s constSink) imageSample(f *family, image int, value float64, extra ...string) {
	img := s.result.images[image]
	labelValues := append([]string{img.ID, img.Name}, extra...)
	s.ch <- prometheus.MustNewConstMetric(f.desc, prometheus.GaugeValue, value, labelValues...)
}
