// Command nova_image_exporter exports the image inventory of a Nova-compatible cloud
// (OpenStack Nova up to microversion 2.35, Huawei Cloud ECS, Open Telekom Cloud) to
// Prometheus, listing GET /v2.1/{project_id}/images/detail on every scrape.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"
	sloggokit "github.com/tjhop/slog-gokit"

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/collector"
	"github.com/nova-image-exporter/nova_image_exporter/simulator"
)

const exporterName = "nova_image_exporter"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// config holds the parsed command line.
type config struct {
	cloud       string
	demo        bool
	metricsPath string
	logLevel    string
	logFormat   string
	timeouts    collector.ScrapeTimeouts
	list        client.ListOptions
	client      client.Options
	web         *web.FlagConfig
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	var cfg config
	app := kingpin.New(exporterName, "Prometheus exporter for the image inventory of Nova-compatible clouds (images/detail).")
	app.UsageWriter(stderr)
	app.ErrorWriter(stderr)
	app.Version(version.Print(exporterName))
	app.HelpFlag.Short('h')
	app.Flag("cloud", "Entry of clouds.yaml to list images of (the file: OS_CLIENT_CONFIG_FILE, else ./clouds.yaml, ~/.config/openstack/clouds.yaml, /etc/openstack/clouds.yaml); without it, OS_* or HUAWEICLOUD_SDK_* variables configure the cloud.").
		Envar("OS_CLOUD").StringVar(&cfg.cloud)
	app.Flag("demo", "Serve the metrics of a built-in simulated cloud instead of a real one.").BoolVar(&cfg.demo)
	app.Flag("web.telemetry-path", "Path under which to expose metrics.").Default("/metrics").StringVar(&cfg.metricsPath)
	app.Flag("log.level", "Only log messages with the given severity or above. One of: [debug, info, warn, error]").
		Default("info").EnumVar(&cfg.logLevel, "debug", "info", "warn", "error")
	app.Flag("log.format", "Output format of log messages. One of: [logfmt, json]").
		Default("logfmt").EnumVar(&cfg.logFormat, "logfmt", "json")
	app.Flag("scrape.timeout", "Longest a listing may take; the deadline when a scrape sends no X-Prometheus-Scrape-Timeout-Seconds.").
		Default("60s").DurationVar(&cfg.timeouts.Default)
	app.Flag("scrape.timeout-offset", "Subtracted from X-Prometheus-Scrape-Timeout-Seconds to leave time for sending the answer.").
		Default("500ms").DurationVar(&cfg.timeouts.Offset)
	app.Flag("images.page-size", "Images per request (the API's limit); 0 lets the server choose.").
		Default("0").IntVar(&cfg.list.PageSize)
	app.Flag("client.timeout", "Longest one HTTP request to the cloud may take.").
		Default(client.DefaultRequestTimeout.String()).DurationVar(&cfg.client.RequestTimeout)
	app.Flag("client.max-response-bytes", "A response body larger than this is cut off and the listing fails.").
		Default(fmt.Sprint(client.DefaultMaxResponseBytes)).Int64Var(&cfg.client.MaxResponseBytes)
	app.Flag("client.max-pages", "A listing that needs more pages than this fails.").
		Default(fmt.Sprint(client.DefaultMaxPages)).IntVar(&cfg.client.MaxPages)
	cfg.web = kingpinflag.AddFlags(app, ":9879")
	if _, err := app.Parse(args); err != nil {
		return nil, err
	}
	if cfg.list.PageSize < 0 {
		return nil, fmt.Errorf("--images.page-size must be 0 or more, not %d", cfg.list.PageSize)
	}
	if cfg.timeouts.Default <= 0 {
		return nil, fmt.Errorf("--scrape.timeout must be positive, not %s", cfg.timeouts.Default)
	}
	return &cfg, nil
}

// run starts the exporter and serves until ctx ends or the server fails.
func run(ctx context.Context, args []string, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil || cfg == nil {
		return err
	}
	logger, bareLogger := newLogger(stderr, cfg.logLevel, cfg.logFormat)
	level.Info(logger).Log("msg", "starting "+exporterName, "version", version.Info())
	level.Info(logger).Log("msg", "build context", "build_context", version.BuildContext())

	cfg.client.UserAgent = exporterName + "/" + version.Version
	cloud, err := loadCloud(ctx, cfg, logger)
	if err != nil {
		return err
	}
	cloudLogger := log.With(logger, "cloud", cloud.Name)
	cfg.client.Logger = cloudLogger
	lister, err := cloud.NewClient(cfg.client)
	if err != nil {
		return err
	}
	handler, err := newHandler(cfg, collector.Target{Cloud: cloud.Name, Lister: lister, Options: cfg.list}, cloudLogger)
	if err != nil {
		return err
	}
	server := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = server.Shutdown(shutdownCtx)
	}()
	err = web.ListenAndServe(server, cfg.web, slog.New(sloggokit.NewGoKitHandler(bareLogger, slogLevel(cfg.logLevel))))
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// loadCloud returns the configuration of the cloud to list: the simulator started
// in-process for --demo, the clouds.yaml entry chosen by --cloud/OS_CLOUD, or else the
// OS_*/HUAWEICLOUD_SDK_* environment variables.
func loadCloud(ctx context.Context, cfg *config, logger log.Logger) (*client.CloudConfig, error) {
	var cloud *client.CloudConfig
	switch {
	case cfg.demo:
		url, err := startDemo(ctx, logger)
		if err != nil {
			return nil, err
		}
		cloud = demoCloud(url)
	case cfg.cloud != "":
		file, err := client.CloudsFile()
		if err != nil {
			return nil, err
		}
		if cloud, err = client.LoadCloud(file, cfg.cloud); err != nil {
			return nil, err
		}
	default:
		var err error
		if cloud, err = client.LoadEnvCloud(); err != nil {
			return nil, err
		}
	}
	level.Info(logger).Log("msg", "loaded cloud", "source", cloud.File, "cloud", cloud.Name, "auth_type", cloud.AuthType)
	if cloud.TLS != nil && cloud.TLS.InsecureSkipVerify {
		level.Warn(logger).Log("msg", "TLS certificates of the cloud are not verified (verify: false); anyone on the path can read the credentials", "cloud", cloud.Name)
	}
	return cloud, nil
}

// startDemo serves a simulated cloud on a loopback port until ctx ends.
func startDemo(ctx context.Context, logger log.Logger) (string, error) {
	listener, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("starting the demo cloud: %w", err)
	}
	server := &http.Server{Handler: simulator.New(simulator.Options{}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = server.Serve(listener) }()
	context.AfterFunc(ctx, func() { _ = server.Close() })
	url := "http://" + listener.Addr().String()
	level.Info(logger).Log("msg", "demo: serving a simulated cloud", "url", url)
	return url, nil
}

func newHandler(cfg *config, target collector.Target, logger log.Logger) (http.Handler, error) {
	own := prometheus.NewRegistry()
	own.MustRegister(
		versioncollector.NewCollector(exporterName),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	metrics := collector.NewExporterMetrics(own)
	metrics.InitCloud(target.Cloud)
	mux := http.NewServeMux()
	mux.Handle(cfg.metricsPath, &collector.Handler{
		Target:   target,
		Own:      own,
		Metrics:  metrics,
		Timeouts: cfg.timeouts,
		Logger:   logger,
	})
	if cfg.metricsPath != "/" && cfg.metricsPath != "" {
		landing, err := web.NewLandingPage(web.LandingConfig{
			Name:        "Nova Image Exporter",
			Description: "Prometheus exporter for the image inventory of Nova-compatible clouds",
			Version:     version.Info(),
			Links:       []web.LandingLinks{{Address: cfg.metricsPath, Text: "Metrics"}},
			Profiling:   "false",
		})
		if err != nil {
			return nil, err
		}
		mux.Handle("/", landing)
	}
	return mux, nil
}
