package collector

import (
	"net/http"

	"github.com/prometheus/common/expfmt"
)

// head answers a HEAD request with the headers a GET of the same target would have and no
// body: nothing is listed for it, and the cloud gets no request.
func (h *Handler) head(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	if acceptsGzip(r.Header.Get("Accept-Encoding")) {
		w.Header().Set("Content-Encoding", "gzip")
	}
	w.WriteHeader(http.StatusOK)
}
