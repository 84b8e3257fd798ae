package collector

import (
	"bufio"
	"compress/gzip"
	"context"
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
)

// ScrapeTimeouts decide how long one scrape may list images.
type ScrapeTimeouts struct {
	// Default applies when Prometheus sends no X-Prometheus-Scrape-Timeout-Seconds, and
	// caps the header's value when it does.
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
		return t.Default, fmt.Errorf("X-Prometheus-Scrape-Timeout-Seconds %q is not a positive number of seconds", header)
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
	Limiter  Limiter // bounds concurrent scrapes; nil for no bound
	Logger   log.Logger
}

// StaticTarget resolves every request to target.
func StaticTarget(target Target) func(*http.Request) (Target, bool, error) {
	return func(*http.Request) (Target, bool, error) { return target, true, nil }
}

// Limiter bounds how many scrapes run at once, across every handler that shares it.
type Limiter chan struct{}

// NewLimiter allows n concurrent scrapes; n <= 0 means no bound (a nil Limiter).
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

func (l Limiter) release() {
	if l != nil {
		<-l
	}
}

// ServeHTTP lists images and writes the exposition; a failed listing still answers 200
// with nova_up 0. Past the Limiter's bound it answers 503 at once.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.Limiter.tryAcquire() {
		level.Warn(h.Logger).Log("msg", "rejected a scrape: too many concurrent scrapes", "limit", cap(h.Limiter))
		if h.Metrics != nil {
			h.Metrics.rejectedScrapes.WithLabelValues("too_many_requests").Inc()
		}
		http.Error(w, fmt.Sprintf("too many concurrent scrapes (--web.max-requests=%d)", cap(h.Limiter)), http.StatusServiceUnavailable)
		return
	}
	defer h.Limiter.release()
	target, found, err := h.Resolve(r)
	if err != nil {
		level.Warn(h.Logger).Log("msg", "rejected a scrape: bad request", "err", err)
		if h.Metrics != nil {
			h.Metrics.rejectedScrapes.WithLabelValues("bad_request").Inc()
		}
		http.Error(w, strings.ReplaceAll(err.Error(), "\n", " "), http.StatusBadRequest)
		return
	}
	timeout, err := h.Timeouts.Timeout(r)
	if err != nil {
		level.Warn(h.Logger).Log("msg", "ignoring scrape timeout header", "err", err, "timeout", timeout)
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()

	exports := h.Exports
	if exports == nil {
		exports = DefaultImageExports()
	}
	var result *scrapeResult
	if found {
		result = scrapeTarget(ctx, target, exports, h.Metrics, log.With(h.Logger, "cloud", target.Cloud))
	}
	h.write(w, r, result, exports)
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
