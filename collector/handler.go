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

// Handler serves one cloud's image metrics together with the exporter's own metrics. Each
// request gets a fresh registry whose Collector lists images under the scrape's deadline.
type Handler struct {
	Target   Target
	Own      prometheus.Gatherer // the exporter's own metrics; may be nil
	Metrics  *ExporterMetrics    // may be nil
	Timeouts ScrapeTimeouts
	Logger   log.Logger
}

// ServeHTTP lists images and writes the exposition; a failed listing still answers 200
// with nova_up 0.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	timeout, err := h.Timeouts.Timeout(r)
	if err != nil {
		level.Warn(h.Logger).Log("msg", "ignoring scrape timeout header", "err", err, "timeout", timeout)
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()

	registry := prometheus.NewRegistry()
	registry.MustRegister(New(ctx, h.Target, h.Metrics, h.Logger))
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
