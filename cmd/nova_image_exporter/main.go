// Command nova_image_exporter exports the image inventory of Nova-compatible clouds
// (OpenStack Nova up to microversion 2.35, Huawei Cloud ECS, Open Telekom Cloud) to
// Prometheus, listing GET /v2.1/{project_id}/images/detail on every scrape.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	sloggokit "github.com/tjhop/slog-gokit"

	"github.com/nova-image-exporter/nova_image_exporter/collector"
	"github.com/nova-image-exporter/nova_image_exporter/targets"
)

const exporterName = "nova_image_exporter"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.As(err, new(loggedError)) {
			fmt.Fprintln(os.Stderr, err) // a command line error, before there is a logger
		}
		os.Exit(1)
	}
}

// run starts the exporter and serves until ctx ends or the server fails. Once the command
// line is parsed, an error that stops it is logged, and returned as a loggedError.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fillVersionFromBuild()
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	logger, bareLogger := newLogger(stderr, cfg.logLevel, cfg.logFormat)
	if cfg.check {
		err = checkConfig(ctx, cfg, stdout)
	} else {
		err = serve(ctx, cfg, logger, bareLogger)
	}
	if err != nil {
		level.Error(logger).Log("msg", "exiting", "err", err)
		return loggedError{err}
	}
	return nil
}

// serve loads the clouds and serves until ctx ends or the server fails.
func serve(ctx context.Context, cfg *config, logger, bareLogger log.Logger) error {
	level.Info(logger).Log("msg", "starting "+exporterName, "version", version.Info())
	level.Info(logger).Log("msg", "build context", "build_context", version.BuildContext())

	cfg.client.UserAgent = exporterName + "/" + version.Version
	own, metrics := newOwnRegistry()
	set, err := loadClouds(ctx, cfg, own, metrics, logger)
	if err != nil {
		return err
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go reloadOnSignal(ctx, hup, set)

	server := &http.Server{Handler: newMux(cfg, set, own, metrics, logger), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := server.Shutdown(shutdownCtx); err != nil {
			level.Warn(logger).Log("msg", "scrapes still running at shutdown were cut off", "err", err)
		}
	}()
	server.ErrorLog = newErrorLog(bareLogger)
	err = web.ListenAndServe(server, cfg.web, slog.New(sloggokit.NewGoKitHandler(bareLogger, slogLevel(cfg.logLevel))))
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// reloadOnSignal re-reads clouds.yaml on every signal from hup (SIGHUP) until ctx ends.
func reloadOnSignal(ctx context.Context, hup <-chan os.Signal, set *targets.Set) {
	for {
		select {
		case <-hup:
			_ = set.ReloadAndLog() // logged there
		case <-ctx.Done():
			return
		}
	}
}

// newOwnRegistry holds the exporter's own metrics: build info, Go runtime, process, and
// its dealings with the clouds.
func newOwnRegistry() (*prometheus.Registry, *collector.ExporterMetrics) {
	own := prometheus.NewRegistry()
	own.MustRegister(
		versioncollector.NewCollector(exporterName),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return own, collector.NewExporterMetrics(own)
}

// newMux serves /metrics (the exporter's own metrics and the default cloud's images),
// /probe?cloud=NAME (one cloud's images only), /-/reload and the landing page.
func newMux(cfg *config, set *targets.Set, own prometheus.Gatherer, metrics *collector.ExporterMetrics, logger log.Logger) http.Handler {
	limiter := collector.NewLimiter(cfg.maxRequests)
	handler := func(resolve func(*http.Request) (collector.Target, bool, error), own prometheus.Gatherer) http.Handler {
		return &collector.Handler{
			Resolve: resolve, Own: own, Exports: cfg.exports, Metrics: metrics,
			Timeouts: cfg.timeouts, Limiter: limiter, Logger: logger,
		}
	}
	mux := http.NewServeMux()
	mux.Handle(cfg.metricsPath, handler(set.ResolveDefault, own))
	mux.Handle("/probe", handler(set.ResolveProbe, nil))
	mux.Handle("/-/reload", set.ReloadHandler())
	if cfg.metricsPath != "/" {
		mux.Handle("/", newLandingPage(cfg.metricsPath, set.Names, logger))
	}
	return mux
}
