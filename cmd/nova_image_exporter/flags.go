package main

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/alecthomas/units"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/collector"
	"github.com/nova-image-exporter/nova_image_exporter/collector/exposition"
)

// config holds the parsed command line.
type config struct {
	cloud       string
	demo        bool
	demoAddress string // --demo.listen-address: where --demo serves its simulated cloud
	check       bool
	metricsPath string
	logLevel    string
	logFormat   string
	timeouts    collector.ScrapeTimeouts
	cacheTTL    time.Duration
	// listingTimeout bounds a listing that goes on in the background, with cacheTTL.
	listingTimeout time.Duration
	maxRequests    int
	writeMargin    time.Duration
	selection      client.Selection
	imageAPI       string // --images.api: the image API of clouds that set no image_api
	quotas         bool   // --images.quota: quota metrics where the image API reports them
	// projectMetrics is --images.project-metrics: the families labelled by project_id.
	projectMetrics bool
	// orphanedSnapshots is --images.orphaned-snapshots: the servers listed beside the
	// images, for the snapshots whose server is gone.
	orphanedSnapshots bool
	exports           *exposition.ImageExports
	client            client.Options
	web               *web.FlagConfig
	flags             *kingpin.ApplicationModel // the command line as declared: --help's text

	// maxListingsBytes bounds what every listing held takes, maxCacheBytes the cached ones.
	maxListingsBytes, maxCacheBytes int64
}

// description says what the exporter does, in --help and on the landing page.
const description = "Prometheus exporter for the image inventory of OpenStack and Huawei clouds, listed through Nova's images/detail, Glance v2's /v2/images or Huawei IMS's /v2/cloudimages"

// selectionHelp documents the listing options, flags and /probe parameters alike.
var selectionHelp = map[string]string{
	"name":          "List only images with this name",
	"status":        "List only images in this Glance status, e.g. active",
	"changes-since": "List only images updated since an RFC 3339 time, or this long ago (720h)",
	"min-ram":       "List only images whose minimum RAM is exactly this many MiB",
	"min-disk":      "List only images whose minimum disk is exactly this many GiB",
	"type":          "List only images of this type (snapshot, backup); not with image_api ims",
	"server":        "List only snapshots of this server (instance id); not with image_api ims",
	"imagetype":     "List only Huawei IMS images of this type: gold, private, shared or market",
	"page-size":     "Images per request; 0 sends the API's default: 1000 (nova, glance), 500 (ims)",
}

// flagValues are the values of the flags as parsed, before they are checked and turned
// into a config.
type flagValues struct {
	cfg             config
	selection       map[string]*string
	metadataLabels  *[]string
	perImage        *bool
	perImageFilters *[]string
	perImagePolicy  exposition.PerImagePolicy
}

// parseFlags parses and checks the command line. Every error names the flag and points at
// --help.
func parseFlags(args []string, stderr io.Writer) (*config, error) {
	cfg, err := parseCommandLine(args, stderr)
	if err != nil {
		return nil, fmt.Errorf("%w; see --help", err)
	}
	return cfg, nil
}

func parseCommandLine(args []string, stderr io.Writer) (*config, error) {
	app, values := newApp(stderr)
	args, err := boolArgs(app, args)
	if err != nil {
		return nil, err
	}
	if _, err := app.Parse(args); err != nil {
		return nil, err
	}
	return values.config()
}

// newApp defines the command line: every flag, its value named in its errors
// (nameFlagErrors).
func newApp(stderr io.Writer) (*kingpin.Application, *flagValues) {
	values := &flagValues{selection: map[string]*string{}}
	cfg := &values.cfg
	app := kingpin.New(exporterName, description+".")
	app.UsageWriter(stderr)
	app.ErrorWriter(stderr)
	app.Version(version.Print(exporterName))
	app.HelpFlag.Short('h')
	app.Flag("cloud", "Entry of clouds.yaml that /metrics lists; without it, OS_* or HUAWEICLOUD_SDK_* variables describe the cloud.").
		Envar("OS_CLOUD").StringVar(&cfg.cloud)
	app.Flag("demo", "Serve the metrics of a built-in simulated cloud instead of a real one.").BoolVar(&cfg.demo)
	app.Flag("demo.listen-address", "Address of the --demo simulated cloud, for a clouds.yaml of one's own; port 0 takes a free port.").
		Default("127.0.0.1:0").StringVar(&cfg.demoAddress)
	app.Flag("config.check", "Load and check the configuration of every cloud, without calling any, and exit.").BoolVar(&cfg.check)
	app.Flag("web.telemetry-path", "Path under which to expose metrics.").Default("/metrics").StringVar(&cfg.metricsPath)
	enumFlag(app.Flag("log.level", "Only log messages with the given severity or above. One of: [debug, info, warn, error]").
		Default("info"), &cfg.logLevel, "debug", "info", "warn", "error")
	enumFlag(app.Flag("log.format", "Output format of log messages. One of: [logfmt, json]").
		Default("logfmt"), &cfg.logFormat, "logfmt", "json")
	durationFlag(app.Flag("scrape.timeout", "Longest a listing may take; the deadline when a scrape sends no X-Prometheus-Scrape-Timeout-Seconds.").
		Default("60s"), &cfg.timeouts.Default)
	durationFlag(app.Flag("scrape.timeout-offset", "Subtracted from X-Prometheus-Scrape-Timeout-Seconds to leave time for sending the answer.").
		Default("500ms"), &cfg.timeouts.Offset)
	enumFlag(app.Flag("images.api", "Image API of every cloud whose clouds.yaml entry sets no image_api: "+strings.Join(client.ImageAPINames(nil), ", ")+".").
		Default(client.APINova), &cfg.imageAPI, client.ImageAPINames(nil)...)
	app.Flag("images.quota", "Export the image quotas of every cloud whose image API reports them, unless its entry sets image_quota: false.").
		Default("true").BoolVar(&cfg.quotas)
	app.Flag("images.project-metrics", "Export images and bytes per owning project (nova_project_*), unless a cloud's entry sets project_metrics: false.").
		Default("true").BoolVar(&cfg.projectMetrics)
	app.Flag("images.orphaned-snapshots", "List every cloud's servers and export the snapshots whose server is gone; a cloud's orphaned_snapshots overrides it.").
		BoolVar(&cfg.orphanedSnapshots)
	for _, name := range client.SelectionParams {
		values.selection[name] = app.Flag("images."+name, selectionHelp[name]+"; /probe's "+name+" parameter overrides it.").String()
	}
	values.metadataLabels = app.Flag("images.metadata-label", "Metadata key exported as label metadata_KEY of nova_image_info; repeatable, empty for none.").
		Default("image_type").Strings()
	values.perImage = app.Flag("images.per-image-metrics", "Export per-image series; off, only nova_images{status} counts images.").Default("true").Bool()
	values.perImageFilters = app.Flag("images.per-image-filter", "Export per-image series only for images whose metadata match KEY=VALUE or KEY!=VALUE; repeatable.").Strings()
	app.Flag("images.per-image-status", "Export per-image series only for images in this Nova status, or not with !STATUS; repeatable: any STATUS, no !STATUS.").
		StringsVar(&values.perImagePolicy.Statuses)
	app.Flag("images.per-image-owner", "Export per-image series only for images of this owner (project id), or not with !ID; repeatable: any ID, no !ID.").
		StringsVar(&values.perImagePolicy.Owners)
	app.Flag("images.per-image-visibility", "Export per-image series only for images of this visibility (public, private, shared, community), or not with !VALUE.").
		StringsVar(&values.perImagePolicy.Visibilities)
	durationFlag(app.Flag("client.timeout", "Longest one HTTP request to the cloud may take.").
		Default(client.DefaultRequestTimeout.String()), &cfg.client.RequestTimeout)
	bytesFlag(app.Flag("client.max-response-bytes", "A page of images larger than this, after decompression, fails the listing (bytes, or 8MiB, 512KiB).").
		Default(units.Base2Bytes(client.DefaultMaxResponseBytes).String()), &cfg.client.MaxResponseBytes)
	bytesFlag(app.Flag("client.max-listing-bytes", "A listing whose images take more memory than this fails (bytes, or 128MiB, 1GiB).").
		Default(units.Base2Bytes(client.DefaultMaxListingBytes).String()), &cfg.client.MaxListingBytes)
	intFlag(app.Flag("client.max-pages", "A listing that needs more pages than this fails.").
		Default(fmt.Sprint(client.DefaultMaxPages)), &cfg.client.MaxPages)
	intFlag(app.Flag("client.max-retries", "Retries of a throttled or briefly failing request, within the scrape deadline; 0 never retries, at most 10.").
		Default(fmt.Sprint(client.DefaultMaxRetries)), &cfg.client.MaxRetries)
	durationFlag(app.Flag("cache.ttl", "Serve a listing younger than this without calling the API; 0 lists on every scrape.").
		Default("0s"), &cfg.cacheTTL)
	bytesFlag(app.Flag("cache.max-bytes", "Largest size of the --cache.ttl cache, across every cloud; the oldest entries are dropped to store a new one.").
		Default("48MiB"), &cfg.maxCacheBytes)
	durationFlag(app.Flag("listings.timeout", "With --cache.ttl, longest a listing may go on in the background after its scrapes' deadlines.").
		Default(collector.DefaultListingTimeout.String()), &cfg.listingTimeout)
	bytesFlag(app.Flag("listings.max-bytes", "Largest size of all listings held at once, across every cloud; a listing that would pass it fails.").
		Default("96MiB"), &cfg.maxListingsBytes)
	intFlag(app.Flag("web.max-requests", "Listings and renderings of image metrics running at once; past it, a scrape is refused. 0 means no limit.").
		Default("40"), &cfg.maxRequests)
	durationFlag(app.Flag("web.write-margin", "How long past its listing deadline a scrape's answer may take to be sent; a scraper reading slower is cut off.").
		Default("10s"), &cfg.writeMargin)
	cfg.web = kingpinflag.AddFlags(app, ":9879")
	nameFlagErrors(app)
	cfg.flags = app.Model()
	return app, values
}

// config checks the parsed flags and turns them into a config.
func (v *flagValues) config() (*config, error) {
	cfg := &v.cfg
	query := url.Values{}
	for name, value := range v.selection {
		if *value != "" {
			query.Set(name, *value)
		}
	}
	var err error
	if cfg.selection, err = client.ParseSelection(client.Selection{}, query); err != nil {
		return nil, fmt.Errorf("--images.%w", err)
	}
	if cfg.exports, err = exposition.NewImageExports(*v.perImage, *v.metadataLabels, *v.perImageFilters, v.perImagePolicy); err != nil {
		return nil, err
	}
	cfg.client.MetadataKeys = cfg.exports.MetadataKeys()
	if cfg.client.MaxRetries < 0 || cfg.client.MaxRetries > client.MaxRetries {
		return nil, fmt.Errorf("--client.max-retries must be from 0 to %d, not %d", client.MaxRetries, cfg.client.MaxRetries)
	}
	if cfg.cacheTTL < 0 || cfg.maxRequests < 0 || cfg.timeouts.Offset < 0 || cfg.client.RequestTimeout <= 0 {
		return nil, errors.New("--cache.ttl, --web.max-requests and --scrape.timeout-offset must not be negative, and --client.timeout must be positive")
	}
	if err := checkTelemetryPath(cfg.metricsPath); err != nil {
		return nil, err
	}
	if cfg.client.MaxRetries == 0 {
		cfg.client.MaxRetries = -1 // client.Options: 0 takes the default, negative never retries
	}
	if cfg.maxCacheBytes <= 0 {
		return nil, fmt.Errorf("--cache.max-bytes: must be positive, not %d", cfg.maxCacheBytes)
	}
	if cfg.maxListingsBytes <= 0 {
		return nil, fmt.Errorf("--listings.max-bytes: must be positive, not %d", cfg.maxListingsBytes)
	}
	if cfg.writeMargin <= 0 {
		return nil, fmt.Errorf("--web.write-margin must be positive, not %s", cfg.writeMargin)
	}
	if cfg.timeouts.Default <= 0 {
		return nil, fmt.Errorf("--scrape.timeout must be positive, not %s", cfg.timeouts.Default)
	}
	if cfg.listingTimeout <= 0 || cfg.cacheTTL > 0 && cfg.listingTimeout < cfg.timeouts.Default {
		return nil, fmt.Errorf("--listings.timeout must be positive, and with --cache.ttl at least --scrape.timeout (%s), not %s", cfg.timeouts.Default, cfg.listingTimeout)
	}
	return cfg, nil
}

// checkTelemetryPath refuses a --web.telemetry-path that the HTTP mux cannot serve or that
// another endpoint already uses.
func checkTelemetryPath(path string) error {
	switch {
	case !strings.HasPrefix(path, "/") || strings.ContainsAny(path, "{}? \t"):
		return fmt.Errorf("--web.telemetry-path %q: want an absolute path such as /metrics", path)
	case path == "/probe" || path == "/-/reload":
		return fmt.Errorf("--web.telemetry-path %q: taken by the exporter's own endpoint", path)
	}
	return nil
}
