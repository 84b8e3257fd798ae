package simulator

import "net/http"

// The request logs: the listings' of every API (Requests, ImagesRequests) here, the quotas'
// (QuotaRequests) in quota.go, each kept under maxRequestRecords.

// The APIs a RequestRecord names.
const (
	// APINova is Nova's images proxy, GET /v2.1/{project_id}/images/detail.
	APINova = "nova"
	// APIGlance is Glance v2's GET {GlancePrefix}/v2/images.
	APIGlance = "glance"
	// APIIMS is Huawei IMS's GET /v2/cloudimages.
	APIIMS = "ims"
	// APIIMSGlance is Glance's GET /v2/images as Huawei serves it on the IMS host.
	APIIMSGlance = "ims_glance"
)

// maxRequestRecords bounds the log that Requests returns.
const maxRequestRecords = 10000

// RequestRecord is one image listing or quota request, of any API, as the simulator
// received it.
type RequestRecord struct {
	// API is the API asked: APINova, APIGlance or APIIMS (Requests), APIGlanceQuota or
	// APIIMSQuota (QuotaRequests).
	API string
	// Method is the HTTP method.
	Method string
	// Path is the URL path.
	Path string
	// RawQuery is the undecoded query string.
	RawQuery string
	// Header is a clone of the request headers.
	Header http.Header
}

// Requests returns a copy of the log of image listing requests of every API (including
// rejected ones), oldest first; past 10 000 requests the older half is dropped.
func (s *Simulator) Requests() []RequestRecord {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return cloneRecords(s.requests)
}

// cloneRecords is a copy of records with their headers cloned.
func cloneRecords(records []RequestRecord) []RequestRecord {
	out := make([]RequestRecord, len(records))
	for i, r := range records {
		r.Header = r.Header.Clone()
		out[i] = r
	}
	return out
}

// ImagesRequests returns how many image listing requests, of every API, the simulator
// answered (authorised ones, faulty or not) — cheaper than len(Requests()) for load tests.
func (s *Simulator) ImagesRequests() int {
	return int(s.imagesRequests.Load())
}

// recordRequest adds r, a request to api, to the log that Requests returns.
func (s *Simulator) recordRequest(r *http.Request, api string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = appendRecord(s.requests, r, api)
}

// appendRecord appends r, a request to api, to a request log, which it keeps under
// maxRequestRecords.
func appendRecord(log []RequestRecord, r *http.Request, api string) []RequestRecord {
	if len(log) == maxRequestRecords {
		// A long-running --demo must not grow without bound: keep the newest half.
		log = append(log[:0], log[maxRequestRecords/2:]...)
	}
	return append(log, RequestRecord{
		API: api, Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Header: r.Header.Clone(),
	})
}
