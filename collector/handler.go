package collector

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
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
	if err != nil || seconds <= 0 || seconds > 1e6 {
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
			h.Metrics.rejectedScrapes.Inc()
		}
		http.Error(w, fmt.Sprintf("too many concurrent scrapes (--web.max-requests=%d)", cap(h.Limiter)), http.StatusServiceUnavailable)
		return
	}
	defer h.Limiter.release()
	target, found, err := h.Resolve(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	timeout, err := h.Timeouts.Timeout(r)
	if err != nil {
		level.Warn(h.Logger).Log("msg", "ignoring scrape timeout header", "err", err, "timeout", timeout)
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()

	registry := prometheus.NewRegistry()
	if found {
		registry.MustRegister(New(ctx, target, h.Exports, h.Metrics, log.With(h.Logger, "cloud", target.Cloud)))
	}
	gatherers := prometheus.Gatherers{registry}
	if h.Own != nil {
		gatherers = append(gatherers, h.Own)
	}
	promhttp.HandlerFor(gatherers, promhttp.HandlerOpts{
		ErrorLog:      promhttpLogger{h.Logger},
		ErrorHandling: promhttp.ContinueOnError,
	}).ServeHTTP(w, r)
}

// promhttpLogger passes promhttp's errors (a metric that could not be gathered or written)
// to the exporter's logger.
type promhttpLogger struct{ logger log.Logger }

func (l promhttpLogger) Println(v ...any) {
	level.Error(l.logger).Log("msg", "serving metrics", "err", fmt.Sprint(v...))
}
