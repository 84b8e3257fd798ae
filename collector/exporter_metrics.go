package collector

import (
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/collector/exposition"
)

// ExporterSubsystem is the second part of the names of the exporter's own metrics.
const ExporterSubsystem = "image_exporter"

// projectNamesFailuresHelp is the help of nova_image_exporter_project_names_failures_total.
const projectNamesFailuresHelp = "Project names (nova_project_info) left out, by reason: \"memory\", the names read, or a listing's copy of its owners' names, did not fit --listings.max-bytes; the listing is served without them. A read that fails counts in nova_image_exporter_identity_errors_total or nova_image_exporter_auth_failures_total instead."

// ExporterMetrics are the exporter's own metrics about its dealings with the clouds and
// its scrapers. Unlike the image metrics they live as long as the process, in the registry
// given to NewExporterMetrics.
type ExporterMetrics struct {
	authFailures    *prometheus.CounterVec
	identityErrors  *prometheus.CounterVec
	apiRequests     *prometheus.CounterVec
	apiDuration     *prometheus.HistogramVec
	rejectedScrapes *prometheus.CounterVec
	projectNames    *prometheus.CounterVec

	// forgotten are the clouds a reload removed: a scrape still in flight then must not
	// bring their series back. Observations hold mu for reading, forgetting for writing.
	mu        sync.RWMutex
	forgotten map[string]bool
}

// NewExporterMetrics creates the exporter's own metrics and registers them with reg.
func NewExporterMetrics(reg prometheus.Registerer) *ExporterMetrics {
	m := &ExporterMetrics{
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: exposition.Namespace, Subsystem: ExporterSubsystem, Name: "auth_failures_total",
			Help: "Refusals of the cloud's credentials, each starting a back-off in which they are not sent: a listing failed because Keystone/IAM answered the token request with 401 or 403, or the API refused a pre-issued token, an AK/SK signature, or a token again right after its renewal; or the quota endpoint answered 401 to the credential the listing beside it had had accepted. Not counted here: an identity service that cannot be reached or fails (nova_image_exporter_identity_errors_total).",
		}, []string{"cloud"}),
		identityErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: exposition.Namespace, Subsystem: ExporterSubsystem, Name: "identity_errors_total",
			Help: "Listings that failed because the identity service (Keystone/IAM) could not be reached or answered with an error other than refusing the credentials: no answer, timeout, TLS, 5xx, 429, malformed or oversized answer.",
		}, []string{"cloud"}),
		apiRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: exposition.Namespace, Subsystem: ExporterSubsystem, Name: "api_requests_total",
			Help: "HTTP requests to the cloud (Keystone/IAM and the compute API), by status code; code=\"error\" when no response came (connection refused, timeout, TLS).",
		}, []string{"cloud", "code"}),
		apiDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: exposition.Namespace, Subsystem: ExporterSubsystem, Name: "api_request_duration_seconds",
			Help:    "Seconds from sending an HTTP request to the cloud until its response headers arrived.",
			Buckets: []float64{.025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"cloud"}),
		rejectedScrapes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: exposition.Namespace, Subsystem: ExporterSubsystem, Name: "scrapes_rejected_total",
			Help: "Scrapes refused: reason=\"too_many_requests\" (no free --web.max-requests slot to start a listing, or to render one before the scrape's deadline: /probe answers 503, /metrics its own metrics with nova_up 0) or \"bad_request\" (400: an unknown cloud, a bad or repeated option).",
		}, []string{"reason"}),
		projectNames: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: exposition.Namespace, Subsystem: ExporterSubsystem, Name: "project_names_failures_total",
			Help: projectNamesFailuresHelp,
		}, []string{"cloud", "reason"}),
		forgotten: map[string]bool{},
	}
	reg.MustRegister(m.authFailures, m.identityErrors, m.apiRequests, m.apiDuration, m.rejectedScrapes, m.projectNames)
	m.initReasons()
	return m
}

// initReasons exports the rejection counters at 0.
func (m *ExporterMetrics) initReasons() {
	m.rejectedScrapes.WithLabelValues("too_many_requests")
	m.rejectedScrapes.WithLabelValues("bad_request")
}

// InitCloud exports the cloud's counters at 0 before its first event.
func (m *ExporterMetrics) InitCloud(cloud string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.forgotten, cloud)
	m.authFailures.WithLabelValues(cloud)
	m.identityErrors.WithLabelValues(cloud)
	m.apiDuration.WithLabelValues(cloud)
	m.projectNames.WithLabelValues(cloud, "memory")
}

// ForgetCloud drops the series of a cloud removed from the configuration; what its
// scrapes still in flight observe is dropped too, until InitCloud brings the cloud back.
func (m *ExporterMetrics) ForgetCloud(cloud string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.forgotten[cloud] = true
	m.authFailures.DeleteLabelValues(cloud)
	m.identityErrors.DeleteLabelValues(cloud)
	m.apiDuration.DeleteLabelValues(cloud)
	m.apiRequests.DeletePartialMatch(prometheus.Labels{"cloud": cloud})
	m.projectNames.DeletePartialMatch(prometheus.Labels{"cloud": cloud})
}

// observeFailure counts a failed listing or quota request by its kind.
func (m *ExporterMetrics) observeFailure(cloud string, err error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.forgotten[cloud] {
		return
	}
	var authErr *client.AuthError
	var identityErr *client.IdentityError
	switch {
	case errors.As(err, &authErr):
		m.authFailures.WithLabelValues(cloud).Inc()
	case errors.As(err, &identityErr):
		m.identityErrors.WithLabelValues(cloud).Inc()
	}
}

// observeProjectNamesLeftOut counts project names left out of nova_project_info for reason.
func (m *ExporterMetrics) observeProjectNamesLeftOut(cloud, reason string) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if !m.forgotten[cloud] {
		m.projectNames.WithLabelValues(cloud, reason).Inc()
	}
}

// InstrumentTransport returns a wrapper for the cloud's HTTP transport that counts every
// request and times it.
func (m *ExporterMetrics) InstrumentTransport(cloud string) func(http.RoundTripper) http.RoundTripper {
	requests := m.apiRequests.MustCurryWith(prometheus.Labels{"cloud": cloud})
	duration := m.apiDuration.WithLabelValues(cloud)
	return func(next http.RoundTripper) http.RoundTripper {
		return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
			start := time.Now()
			resp, err := next.RoundTrip(req)
			duration.Observe(time.Since(start).Seconds())
			code := "error"
			if err == nil {
				code = strconv.Itoa(resp.StatusCode)
			}
			m.countRequest(cloud, requests, code)
			return resp, err
		})
	}
}

// countRequest counts a request of cloud, unless a reload removed the cloud meanwhile.
func (m *ExporterMetrics) countRequest(cloud string, requests *prometheus.CounterVec, code string) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if !m.forgotten[cloud] {
		requests.WithLabelValues(code).Inc()
	}
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }
