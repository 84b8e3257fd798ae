package collector

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nova-image-exporter/nova_image_exporter/client"
)

const exporterSubsystem = "image_exporter"

// ExporterMetrics are the exporter's own metrics about its dealings with the clouds. Unlike
// the image metrics they live as long as the process, in the registry given to
// NewExporterMetrics.
type ExporterMetrics struct {
	authFailures *prometheus.CounterVec
}

// NewExporterMetrics creates the exporter's own metrics and registers them with reg.
func NewExporterMetrics(reg prometheus.Registerer) *ExporterMetrics {
	m := &ExporterMetrics{
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Subsystem: exporterSubsystem,
			Name:      "auth_failures_total",
			Help:      "Listings that failed because authentication failed: credentials refused by Keystone/IAM, or a token or signature refused by the API and not renewable.",
		}, []string{"cloud"}),
	}
	reg.MustRegister(m.authFailures)
	return m
}

// InitCloud exports the cloud's counters at 0 before its first failure.
func (m *ExporterMetrics) InitCloud(cloud string) {
	m.authFailures.WithLabelValues(cloud)
}

// observeListing counts a failed listing by its kind.
func (m *ExporterMetrics) observeListing(cloud string, err error) {
	var authErr *client.AuthError
	if errors.As(err, &authErr) {
		m.authFailures.WithLabelValues(cloud).Inc()
	}
}
