// Package collector serves the image metrics of the configured clouds. A scrape reads
// top-down in handler.go: the request names its target and selection, the scrape takes the
// inventory of the target's shared listing under its deadline and the work limits, and the
// exposition streams it into the answer, gzipped if the scraper accepts it. The families and
// the text format are in collector/exposition.
//
// The other files build up to handler.go one way, each using only files named before it:
// accept.go (Accept-Encoding), limits.go (the deadlines and work limits), backoff.go (the
// back-off on credentials the cloud refused, and the requests beside a listing it holds
// back), exporter_metrics.go (the exporter's own
// metrics and transport instrumentation), member.go (one gzip member of compressed parts),
// charge.go (what a listing is charged against the memory bound), rendering.go (the
// compressed rendering that the gzip scrapes of a listing share), inventory.go (what one
// listing found), memory.go (the memory bound and the cache), projects.go (the project
// names read beside a listing and kept for a period), quota.go (the quota request beside a
// listing), servers.go (the server listing beside a listing, and its orphan check),
// listings.go (a cloud's listings, shared by concurrent scrapes),
// target.go (a cloud to scrape, and its back-off exported).
//
// Image metrics are built from each scrape's listing and kept nowhere but with it: an image
// deleted in the cloud disappears from the next scrape.
package collector

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/collector/exposition"
)

// Handler serves image metrics of the target a request asks for, together with the
// exporter's own metrics if Own is set. Each request takes the target's listing under the
// scrape's deadline and writes its samples straight into the answer.
type Handler struct {
	// Resolve picks the request's target: found false serves no image metrics, an error
	// answers 400 with its text (and touches no network).
	Resolve  func(r *http.Request) (target Target, found bool, err error)
	Own      prometheus.Gatherer      // the exporter's own metrics; may be nil
	Exports  *exposition.ImageExports // nil takes exposition.DefaultImageExports
	Metrics  *ExporterMetrics         // may be nil
	Timeouts ScrapeTimeouts
	// Limiter bounds the work running at once, across every handler that shares it:
	// listings and renderings of image metrics. nil for no bound.
	Limiter *Limiter
	// WriteMargin is how long past the listing deadline the answer may take to be
	// written; a scraper that reads slower is cut off. 0 sets no write deadline.
	WriteMargin time.Duration
	Logger      log.Logger // nil logs nothing
}

// defaultExports are the exports of a Handler without its own: one value, so that its
// scrapes of a listing share one rendering.
var defaultExports = exposition.DefaultImageExports()

// maxEchoBytes bounds the text of a 400 answer and its log line.
const maxEchoBytes = 1024

// ServeHTTP lists images and writes the exposition; a failed listing still answers 200
// with nova_up 0. When the Limiter has no slot for its work, a scrape with Own set serves
// the exporter's own metrics and nova_up 0; one without answers 503. HEAD lists nothing.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	w.Header().Set("Vary", "Accept-Encoding") // on every answer, errors included
	logger := h.logger()
	target, found, err := h.Resolve(r)
	if err != nil {
		h.badRequest(w, logger, err)
		return
	}
	if r.Method == http.MethodHead {
		h.head(w, r)
		return
	}
	timeout, err := h.Timeouts.Timeout(r)
	if err != nil {
		level.Warn(logger).Log("msg", "ignoring scrape timeout header", "err", err, "timeout", timeout)
	}
	writeCtx, cancelWrite := h.setWriteDeadline(w, r, logger, start.Add(timeout+h.WriteMargin))
	defer cancelWrite()
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()

	gzipped := acceptsGzip(r.Header.Get("Accept-Encoding"))
	var served answer
	if found {
		logger := log.With(logger, "cloud", target.Cloud)
		var refused bool
		served, refused = h.scrape(ctx, target, gzipped, logger)
		defer served.release()
		if refused && !h.refuse(w, logger) {
			return
		}
	}
	h.write(w, served.slot.writer(writeCtx, w), logger, gzipped, served)
}

// answer is what a scrape serves besides the exporter's own metrics: scrape, and for a
// gzip scrape of a listing the image part rendered once for every scrape of the listing.
type answer struct {
	scrape    *exposition.Scrape // nil: no image metrics
	shared    *rendering         // nil: scrape holds the image part too
	slot      *workSlot          // the slot of a rendering of its own; nil for none
	inventory Inventory          // held until answered
}

// release lets go of the answer's slot and inventory, once it is written.
func (a answer) release() {
	a.slot.release()
	a.inventory.Release()
}

// exports are h.Exports, or the default ones.
func (h *Handler) exports() *exposition.ImageExports {
	if h.Exports == nil {
		return defaultExports
	}
	return h.Exports
}

// logger is h.Logger, or one that logs nothing.
func (h *Handler) logger() log.Logger {
	if h.Logger == nil {
		return log.NewNopLogger()
	}
	return h.Logger
}

// scrape takes the target's listing under ctx and sorts out what to export. A cached
// listing or one in flight is joined; starting a new one takes one of the Limiter's slots
// at once or is refused. Rendering a listing takes a slot too, waited for until ctx ends:
// once for every gzip scrape of a shared listing (held while rendering), or a scrape's own
// (held while rendering as the answer is written, let go while it is sent: workSlot). A
// failed listing is logged here, once, and counted. The answer holds the listing's
// inventory until released.
func (h *Handler) scrape(ctx context.Context, target Target, gzipped bool, logger log.Logger) (served answer, refused bool) {
	start := time.Now()
	// A listing shared by several scrapes reports its failure once, through the scrape
	// that started it; a scrape that stops waiting reports that, and nothing more.
	inventory, err := target.Listings.Inventory(ctx, ListingRequest{
		Selection: target.Selection, Exports: h.exports(), Slots: h.Limiter, MaxDuration: h.Timeouts.Default,
		OnFailure: func(err error) {
			level.Error(logger).Log("msg", "listing images failed", "err", err, "duration_seconds", time.Since(start).Seconds())
			if h.Metrics != nil {
				h.Metrics.observeFailure(target.Cloud, err)
			}
		},
		OnQuotaFailure: func(err error) {
			level.Error(logger).Log("msg", "image quota request failed (nova_image_quota_up 0); nova_up is the listing's", "err", err)
			if h.Metrics != nil {
				h.Metrics.observeFailure(target.Cloud, err)
			}
		},
		OnServerFailure: func(err error) {
			level.Error(logger).Log("msg", "server listing failed (nova_image_servers_up 0, no orphaned snapshot samples); nova_up is the listing's", "err", err)
			if h.Metrics != nil {
				h.Metrics.observeFailure(target.Cloud, err)
			}
		},
		OnProjectFailure: func(err error) {
			level.Warn(logger).Log("msg", "project names not all read (nova_project_info); nova_up is the listing's", "err", err)
			if h.Metrics != nil {
				h.Metrics.observeFailure(target.Cloud, err)
				if errors.As(err, new(*MemoryError)) {
					h.Metrics.observeProjectNamesLeftOut(target.Cloud, "memory")
				}
			}
		},
	})
	if err == nil {
		served, err = h.render(ctx, inventory, gzipped, time.Since(start))
		served.inventory = inventory
	}
	if err != nil {
		logWait(logger, err)
		failed := exposition.Failed(time.Since(start).Seconds()).WithQuotas(inventory.Quotas).WithOrphans(inventory.Orphans)
		return answer{scrape: failed, inventory: served.inventory}, errors.Is(err, ErrBusy)
	}
	if problems, first := inventory.tally.Problems(); problems > 0 {
		level.Warn(logger).Log("msg", "left out fields the API sent in a form that could not be read",
			"count", problems, "first", first)
	}
	return served, false
}

// render sorts out the listing for a gzip scrape, sharing its rendering with the other
// gzip scrapes of the listing, or, for another scrape, the only one given the listing, or
// one of a listing whose rendering does not fit its Memory, renders its own, written as it
// is rendered.
func (h *Handler) render(ctx context.Context, inventory Inventory, gzipped bool, listed time.Duration) (answer, error) {
	exports := h.exports()
	if gzipped && inventory.renderings != nil {
		gone, stop := untilGone(ctx)
		defer stop()
		shared, err := inventory.renderings.get(gone, exports, func() (*rendering, error) {
			if err := h.Limiter.acquire(ctx); err != nil {
				return nil, err
			}
			defer h.Limiter.release()
			return renderDeflated(exposition.Listed(inventory.Images(), inventory.tally, exports, 0, 0).WithQuotas(inventory.Quotas).WithProjects(inventory.Projects).WithOrphans(inventory.Orphans), inventory.charge)
		})
		if err == nil {
			scrape := exposition.HeadOnly(listed.Seconds(), time.Since(inventory.At).Seconds())
			return answer{scrape: scrape, shared: shared}, nil
		}
		if !errors.As(err, new(*MemoryError)) {
			return answer{}, err
		}
	}
	slot, err := takeSlot(ctx, h.Limiter)
	if err != nil {
		return answer{}, err
	}
	scrape := exposition.Listed(inventory.Images(), inventory.tally, exports, listed.Seconds(), time.Since(inventory.At).Seconds()).
		WithQuotas(inventory.Quotas).WithProjects(inventory.Projects).WithOrphans(inventory.Orphans)
	return answer{scrape: scrape, slot: slot}, nil
}

// untilGone is a context that ends when ctx is cancelled (the scraper went away), not when
// ctx's deadline passes: how long a scrape waits for another's rendering of its listing.
func untilGone(ctx context.Context) (context.Context, context.CancelFunc) {
	gone, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stopWatching := context.AfterFunc(ctx, func() {
		if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			cancel()
		}
	})
	return gone, func() {
		stopWatching()
		cancel()
	}
}

// logWait logs a scrape that stopped waiting for its listing: its own timeout, which the
// listing (going on for others, or stopped) does not report; with --cache.ttl, once for the
// listing that goes on in the background, and at debug for one stopped for want of room there
// (a scraper can ask for any number of distinct listings with a tiny timeout). A scrape that listed nothing because of the
// back-off on refused credentials, or was answered the last listing's failure from the
// cache, adds a debug line: the failure had its line.
func logWait(logger log.Logger, err error) {
	var waitErr *WaitError
	var backoffErr *BackoffError
	var pendingErr *PendingError
	switch {
	case errors.As(err, &backoffErr):
		level.Debug(logger).Log("msg", "not listing: the cloud refused the credentials", "err", err)
	case errors.As(err, new(*LastFailureError)):
		level.Debug(logger).Log("msg", "answering the last listing's failure while the next one runs", "err", err)
	case errors.As(err, &pendingErr) && pendingErr.First:
		level.Info(logger).Log("msg", "the listing outlasts the scrape's deadline and goes on in the background; scrapes answer nova_up 0 until it ends", "err", err)
	case errors.As(err, &pendingErr):
		level.Debug(logger).Log("msg", "scrape deadline passed while waiting for the listing in the background", "err", err)
	case !errors.As(err, &waitErr):
	case errors.Is(err, context.Canceled):
		level.Debug(logger).Log("msg", "the scraper went away before the listing ended", "err", err)
	case waitErr.Crowded:
		level.Debug(logger).Log("msg", "scrape deadline passed; no room for the listing in the background: stopped it", "err", err)
	case waitErr.Others == 0:
		level.Error(logger).Log("msg", "listing images failed", "err", err)
	default:
		level.Warn(logger).Log("msg", "scrape deadline passed while waiting for the listing in flight", "err", err)
	}
}

// badRequest answers 400 with err on one line, cut to maxEchoBytes, and logs and counts it.
func (h *Handler) badRequest(w http.ResponseWriter, logger log.Logger, err error) {
	message := client.Truncate(strings.ReplaceAll(err.Error(), "\n", " "), maxEchoBytes)
	level.Warn(logger).Log("msg", "rejected a scrape: bad request", "err", message)
	if h.Metrics != nil {
		h.Metrics.rejectedScrapes.WithLabelValues("bad_request").Inc()
	}
	http.Error(w, message, http.StatusBadRequest)
}

// head answers a HEAD request with the headers a GET of the same target would have and no
// body: nothing is listed for it, and the cloud gets no request.
func (h *Handler) head(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	if acceptsGzip(r.Header.Get("Accept-Encoding")) {
		w.Header().Set("Content-Encoding", "gzip")
	}
	w.WriteHeader(http.StatusOK)
}

// refuse reports a scrape that found no free slot for its work, and answers 503 unless
// the exporter's own metrics are to be served anyway (then it reports true).
func (h *Handler) refuse(w http.ResponseWriter, logger log.Logger) (serveOwn bool) {
	if h.Metrics != nil {
		h.Metrics.rejectedScrapes.WithLabelValues("too_many_requests").Inc()
	}
	if h.Own != nil {
		level.Warn(logger).Log("msg", "not listing the default cloud: all work slots are taken; serving the exporter's own metrics and nova_up 0", "limit", h.Limiter.Size())
		return true
	}
	level.Warn(logger).Log("msg", "rejected a scrape: all work slots are taken", "limit", h.Limiter.Size())
	http.Error(w, fmt.Sprintf("too many listings and renderings at once (--web.max-requests=%d)", h.Limiter.Size()), http.StatusServiceUnavailable)
	return false
}

// setWriteDeadline bounds how long a slow scraper can hold the connection and the listing
// it is sent; the context returned ends then, or when the scraper goes away.
func (h *Handler) setWriteDeadline(w http.ResponseWriter, r *http.Request, logger log.Logger, deadline time.Time) (context.Context, context.CancelFunc) {
	if h.WriteMargin <= 0 {
		return context.WithCancel(r.Context())
	}
	err := http.NewResponseController(w).SetWriteDeadline(deadline)
	if err != nil && !errors.Is(err, http.ErrNotSupported) {
		level.Debug(logger).Log("msg", "setting the write deadline", "err", err)
	}
	return context.WithDeadline(r.Context(), deadline)
}

// write answers in the text format, into body, which writes to w: the exporter's own
// metrics first (gathered after the listing, so that they count it), then the scrape's
// (none when served.scrape is nil). A gzip answer is one gzip member, the listing's shared
// rendering (if any) ending it (writeMember).
func (h *Handler) write(w http.ResponseWriter, body io.Writer, logger log.Logger, gzipped bool, served answer) {
	w.Header().Set("Content-Type", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	if !gzipped {
		if err := h.writeText(body, logger, served); err != nil {
			level.Debug(logger).Log("msg", "writing the scrape's answer", "err", err)
		}
		return
	}
	w.Header().Set("Content-Encoding", "gzip")
	var err error
	if served.shared != nil {
		err = writeMember(body, func(out io.Writer) error { return h.writeText(out, logger, served) }, served.shared.part)
	} else {
		gz := takeGzip(body)
		defer putGzip(gz)
		if err = h.writeText(gz, logger, served); err == nil {
			err = gz.Close()
		}
	}
	if err != nil {
		level.Debug(logger).Log("msg", "writing the scrape's answer", "err", err)
	}
}

// writeText writes the exporter's own metrics and the scrape's head, and its image part
// unless that is shared.
func (h *Handler) writeText(out io.Writer, logger log.Logger, served answer) error {
	buffered := bufio.NewWriterSize(out, 64<<10)
	if h.Own != nil {
		families, err := h.Own.Gather()
		if err != nil {
			level.Error(logger).Log("msg", "gathering the exporter's own metrics", "err", err)
		}
		for _, mf := range families {
			if _, err := expfmt.MetricFamilyToText(buffered, mf); err != nil {
				break // the scraper went away; Flush reports it
			}
		}
	}
	if served.scrape != nil {
		exposition.WriteHead(buffered, served.scrape)
		if served.shared == nil {
			exposition.WriteImages(buffered, served.scrape)
		}
	}
	return buffered.Flush()
}
