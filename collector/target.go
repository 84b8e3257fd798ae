package collector

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/collector/exposition"
)

// Target is one cloud to list: its name (as in clouds.yaml), its shared listings and what
// to list.
type Target struct {
	Cloud     string
	Listings  *Listings
	Selection client.Selection
	// API is the image API the listings go through, which checks a selection's options;
	// nil checks nothing.
	API client.ImageAPI
}

// StaticTarget resolves every request to target.
func StaticTarget(target Target) func(*http.Request) (Target, bool, error) {
	return func(*http.Request) (Target, bool, error) { return target, true, nil }
}

// authBackoffDesc describes nova_image_exporter_auth_backoff_seconds.
var authBackoffDesc = prometheus.NewDesc(
	prometheus.BuildFQName(exposition.Namespace, ExporterSubsystem, "auth_backoff_seconds"),
	"Seconds until the exporter sends the cloud's credentials again, after the cloud refused them (nova_image_exporter_auth_failures_total); meanwhile its scrapes answer nova_up 0 without a request. 0 when not backing off.",
	[]string{"cloud"}, nil)

// authBackoffCollector exports the back-off of each configured cloud, read at every
// scrape: a cloud a reload removes loses its series.
type authBackoffCollector struct {
	targets func() []Target
}

// NewAuthBackoffCollector returns the collector of nova_image_exporter_auth_backoff_seconds
// for the clouds targets lists at each scrape.
func NewAuthBackoffCollector(targets func() []Target) prometheus.Collector {
	return authBackoffCollector{targets: targets}
}

// Describe sends the one family's description.
func (c authBackoffCollector) Describe(ch chan<- *prometheus.Desc) { ch <- authBackoffDesc }

// Collect sends each cloud's back-off.
func (c authBackoffCollector) Collect(ch chan<- prometheus.Metric) {
	for _, target := range c.targets() {
		ch <- prometheus.MustNewConstMetric(authBackoffDesc, prometheus.GaugeValue, target.Listings.AuthBackoff().Seconds(), target.Cloud)
	}
}
