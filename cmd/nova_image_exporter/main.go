// Command nova_image_exporter exports the image inventory of OpenStack and Huawei clouds
// to Prometheus, listing every image on every scrape through the API chosen per cloud:
// Nova's images/detail (OpenStack Nova up to microversion 2.35, Huawei Cloud ECS, Open
// Telekom Cloud), Glance v2's /v2/images or Huawei IMS's /v2/cloudimages.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
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
	err := run(ctx, time.Now, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.As(err, new(loggedError)) {
			fmt.Fprintf(os.Stderr, "%s: error: %v\n", exporterName, err) // a command line error, before there is a logger
		}
		os.Exit(1)
	}
}

// run starts the exporter and serves until ctx ends or the server fails; now is the clock
// of the clouds' tokens and signatures. Once the command line is parsed, an error that
// stops it is logged, and returned as a loggedError.
func run(ctx context.Context, now func() time.Time, args []string, stdout, stderr io.Writer) error {
	fillVersionFromBuild()
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	cfg.client.Now = now
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

	server := newServer(cfg, newMux(cfg, set, own, metrics, logger), logger)
	go func() {
		<-ctx.Done()
		level.Info(logger).Log("msg", "shutting down", "reason", context.Cause(ctx))
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := server.Shutdown(shutdownCtx); err != nil {
			level.Warn(logger).Log("msg", "scrapes still running at shutdown were cut off", "err", err)
		}
	}()
	err = web.ListenAndServe(server, cfg.web, slog.New(sloggokit.NewGoKitHandler(bareLogger, slogLevel(cfg.logLevel))))
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Bounds of the exporter's HTTP server, for every endpoint: a scrape sets a tighter write
// deadline of its own (its listing deadline plus --web.write-margin).
const (
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 2 * time.Minute // a keep-alive connection idle this long is closed
	maxHeaderBytes    = 64 << 10        // request line and headers; more answers 431
	// netHTTPHeaderSlack is what net/http reads past http.Server.MaxHeaderBytes before it
	// answers 431.
	netHTTPHeaderSlack = 4 << 10
)

// newServer is the exporter's HTTP server: no connection is held longer than the longest
// scrape may take plus --web.write-margin, and its errors (accept errors included) are
// logged through logger.
func newServer(cfg *config, handler http.Handler, logger log.Logger) *http.Server {
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: readHeaderTimeout,
		WriteTimeout:      cfg.timeouts.Default + cfg.writeMargin,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes - netHTTPHeaderSlack,
		ErrorLog:          stdlog.New(serverErrorWriter{logger}, "", 0),
	}
}

// serverErrorWriter logs each message of the HTTP server's error log as one warning.
type serverErrorWriter struct{ logger log.Logger }

func (w serverErrorWriter) Write(p []byte) (int, error) {
	level.Warn(w.logger).Log("msg", strings.TrimSpace(string(p)), "source", "http_server")
	return len(p), nil
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
			Timeouts: cfg.timeouts, Limiter: limiter, WriteMargin: cfg.writeMargin, Logger: logger,
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
