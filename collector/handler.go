package collector

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/nova-image-exporter/nova_image_exporter/client"
)

// ScrapeTimeouts decide how long one scrape may list images.
type ScrapeTimeouts struct {
	// Default applies when Prometheus sends no X-Prometheus-Scrape-Timeout-Seconds, and
	// caps the header's value when it does: no scrape waits longer, and a listing shared
	// by several scrapes runs at most this long.
	Default time.Duration
	// Offset is subtracted from the header's value, leaving time to encode and send.
	Offset time.Duration
}

// Timeout returns the listing deadline for r: Prometheus's scrape timeout minus Offset,
// capped by Default. A malformed header is reported as an error and Default used.
func (t ScrapeTimeouts) Timeout(r *http.Request) (time.Duration, error) {
	header := r.Header.Get("X-Prometheus-Scrape-Timeout-Seconds")
	if header == "" {
		return t.Default, nil
	}
	seconds, err := strconv.ParseFloat(header, 64)
	if err != nil || math.IsNaN(seconds) || seconds <= 0 || seconds > 1e6 {
		return t.Default, fmt.Errorf("X-Prometheus-Scrape-Timeout-Seconds %s is not a positive number of seconds", client.QuoteTruncated(header, 32))
	}
	timeout := time.Duration(seconds * float64(time.Second))
	if timeout > t.Offset {
		timeout -= t.Offset
	}
	return min(timeout, t.Default), nil
}

// Handler serves image metrics of the target a request asks for, together with the
// exporter's own metrics if Own is set. Each request gets a fresh registry whose Collector
// lists images under the scrape's deadline.
type Handler struct {
	// Resolve picks the request's target: found false serves no image metrics, an error
	// answers 400 with its text (and touches no network).
	Resolve  func(r *http.Request) (target Target, found bool, err error)
	Own      prometheus.Gatherer // the exporter's own metrics; may be nil
	Exports  *ImageExports       // nil takes DefaultImageExports
	Metrics  *ExporterMetrics    // may be nil
	Timeouts ScrapeTimeouts
	// Limiter bounds the work running at once, across every handler that shares it:
	// listings and renderings of image metrics. nil for no bound.
	Limiter Limiter
	// WriteMargin is how long past the listing deadline the answer may take to be
	// written; a scraper that reads slower is cut off. 0 sets no write deadline.
	WriteMargin time.Duration
	Logger      log.Logger
}

// StaticTarget resolves every request to target.
func StaticTarget(target Target) func(*http.Request) (Target, bool, error) {
	return func(*http.Request) (Target, bool, error) { return target, true, nil }
}

// Limiter bounds how much work runs at once: each listing in flight and each rendering of
// a listing takes a slot. Scrapes waiting for a listing in flight take none.
type Limiter chan struct{}

// NewLimiter allows n slots; n <= 0 means no bound (a nil Limiter).
func NewLimiter(n int) Limiter {
	if n <= 0 {
		return nil
	}
	return make(Limiter, n)
}

func (l Limiter) tryAcquire() bool {
	if l == nil {
		return true
	}
	select {
	case l <- struct{}{}:
		return true
	default:
		return false
	}
}

// acquire waits for a slot until ctx ends: ErrBusy if its deadline passed first.
func (l Limiter) acquire(ctx context.Context) error {
	if l == nil {
		return nil
	}
	select {
	case l <- struct{}{}:
		return nil
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return ErrBusy
		}
		return ctx.Err()
	}
}

func (l Limiter) release() {
	if l != nil {
		<-l
	}
}

// maxEchoBytes bounds the text of a 400 answer and its log line.
const maxEchoBytes = 1024

// ServeHTTP lists images and writes the exposition; a failed listing still answers 200
// with nova_up 0. When the Limiter has no slot for its work, a scrape with Own set serves
// the exporter's own metrics and nova_up 0; one without answers 503.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	target, found, err := h.Resolve(r)
	if err != nil {
		h.badRequest(w, err)
		return
	}
	timeout, err := h.Timeouts.Timeout(r)
	if err != nil {
		level.Warn(h.Logger).Log("msg", "ignoring scrape timeout header", "err", err, "timeout", timeout)
	}
	h.setWriteDeadline(w, start.Add(timeout+h.WriteMargin))
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()

	exports := h.Exports
	if exports == nil {
		exports = DefaultImageExports()
	}
	var result *scrapeResult
	if found {
		var release func()
		logger := log.With(h.Logger, "cloud", target.Cloud)
		result, release = scrapeBounded(ctx, target, exports, h.Metrics, logger, workBounds{slots: h.Limiter, maxDuration: h.Timeouts.Default})
		defer release()
		if result.refused && !h.refuse(w, logger) {
			return
		}
	}
	h.write(w, r, result, exports)
}

// badRequest answers 400 with err on one line, cut to maxEchoBytes, and logs and counts it.
func (h *Handler) badRequest(w http.ResponseWriter, err error) {
	message := client.Truncate(strings.ReplaceAll(err.Error(), "\n", " "), maxEchoBytes)
	level.Warn(h.Logger).Log("msg", "rejected a scrape: bad request", "err", message)
	if h.Metrics != nil {
		h.Metrics.rejectedScrapes.WithLabelValues("bad_request").Inc()
	}
	http.Error(w, message, http.StatusBadRequest)
}

// refuse reports a scrape that found no free slot for its work, and answers 503 unless
// the exporter's own metrics are to be served anyway (then it reports true).
func (h *Handler) refuse(w http.ResponseWriter, logger log.Logger) (serveOwn bool) {
	if h.Metrics != nil {
		h.Metrics.rejectedScrapes.WithLabelValues("too_many_requests").Inc()
	}
	if h.Own != nil {
		level.Warn(logger).Log("msg", "not listing the default cloud: all work slots are taken; serving the exporter's own metrics and nova_up 0", "limit", cap(h.Limiter))
		return true
	}
	level.Warn(logger).Log("msg", "rejected a scrape: all work slots are taken", "limit", cap(h.Limiter))
	http.Error(w, fmt.Sprintf("too many listings and renderings at once (--web.max-requests=%d)", cap(h.Limiter)), http.StatusServiceUnavailable)
	return false
}

// setWriteDeadline bounds how long a slow scraper can hold the connection and the work
// slot of its rendering.
func (h *Handler) setWriteDeadline(w http.ResponseWriter, deadline time.Time) {
	if h.WriteMargin <= 0 {
		return
	}
	err := http.NewResponseController(w).SetWriteDeadline(deadline)
	if err != nil && !errors.Is(err, http.ErrNotSupported) {
		level.Debug(h.Logger).Log("msg", "setting the write deadline", "err", err)
	}
}

// write answers in the text format, gzipped if the scraper accepts it: the exporter's own
// metrics first (gathered after the listing, so that they count it), then the scrape's.
func (h *Handler) write(w http.ResponseWriter, r *http.Request, result *scrapeResult, exports *ImageExports) {
	w.Header().Set("Content-Type", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	var out io.Writer = w
	if acceptsGzip(r.Header.Get("Accept-Encoding")) {
		w.Header().Set("Content-Encoding", "gzip")
		gz, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
		defer func() {
			if err := gz.Close(); err != nil {
				level.Debug(h.Logger).Log("msg", "finishing the gzip stream", "err", err)
			}
		}()
		out = gz
	}
	buffered := bufio.NewWriterSize(out, 64<<10)
	if h.Own != nil {
		families, err := h.Own.Gather()
		if err != nil {
			level.Error(h.Logger).Log("msg", "gathering the exporter's own metrics", "err", err)
		}
		for _, mf := range families {
			if _, err := expfmt.MetricFamilyToText(buffered, mf); err != nil {
				break // the scraper went away; Flush reports it
			}
		}
	}
	if result != nil {
		emit(newTextSink(buffered, result), result, exports)
	}
	if err := buffered.Flush(); err != nil {
		level.Debug(h.Logger).Log("msg", "writing the scrape's answer", "err", err)
	}
}

// acceptsGzip reports whether an Accept-Encoding header allows gzip.
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			return strings.ReplaceAll(strings.TrimSpace(params), " ", "") != "q=0"
		}
	}
	return false
}
