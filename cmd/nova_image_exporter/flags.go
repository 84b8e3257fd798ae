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
	check       bool
	metricsPath string
	logLevel    string
	logFormat   string
	timeouts    collector.ScrapeTimeouts
	cacheTTL    time.Duration
	maxRequests int
	writeMargin time.Duration
	selection   client.Selection
	imageAPI    string // --images.api: the image API of clouds that set no image_api
	quotas      bool   // --images.quota: quota metrics where the image API reports them
	exports     *exposition.ImageExports
	client      client.Options
	web         *web.FlagConfig

	// maxListingsBytes bounds what every listing held takes, maxCacheBytes the cached ones.
	maxListingsBytes, maxCacheBytes units.Base2Bytes
}

// selectionHelp documents the listing options, flags and /probe parameters alike.
var selectionHelp = map[string]string{
	"name":          "List only images with this name.",
	"status":        "List only images in this Glance status (queued, saving, active, killed, deleted, pending_delete, deactivated, uploading, importing).",
	"changes-since": "List only images updated since: an RFC 3339 time, or a duration such as 720h meaning that long ago.",
	"min-ram":       "List only images whose minimum RAM is exactly this many MiB (Nova matches it exactly, not as a lower bound).",
	"min-disk":      "List only images whose minimum disk is exactly this many GiB (Nova matches it exactly, not as a lower bound).",
	"type":          "List only images of this type (snapshot, backup); not with image_api ims.",
	"server":        "List only snapshots of this server (instance id); not with image_api ims.",
	"imagetype":     "List only images of this Huawei IMS image type (gold, private, shared, market); image_api ims only.",
	"page-size":     "Images per request (the API's limit); 0 lets the server choose.",
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	var cfg config
	app := kingpin.New(exporterName, "Prometheus exporter for the image inventory of Nova-compatible clouds (images/detail).")
	app.UsageWriter(stderr)
	app.ErrorWriter(stderr)
	app.Version(version.Print(exporterName))
	app.HelpFlag.Short('h')
	app.Flag("cloud", "Entry of clouds.yaml that /metrics lists (the file: OS_CLIENT_CONFIG_FILE, else ./clouds.yaml, ~/.config/openstack/clouds.yaml, /etc/openstack/clouds.yaml); without it, OS_* or HUAWEICLOUD_SDK_* variables configure it. Every entry can be listed with /probe?cloud=NAME.").
		Envar("OS_CLOUD").StringVar(&cfg.cloud)
	app.Flag("demo", "Serve the metrics of a built-in simulated cloud instead of a real one.").BoolVar(&cfg.demo)
	app.Flag("config.check", "Load and check the configuration of every cloud, without calling any, and exit.").BoolVar(&cfg.check)
	app.Flag("web.telemetry-path", "Path under which to expose metrics.").Default("/metrics").StringVar(&cfg.metricsPath)
	app.Flag("log.level", "Only log messages with the given severity or above. One of: [debug, info, warn, error]").
		Default("info").EnumVar(&cfg.logLevel, "debug", "info", "warn", "error")
	app.Flag("log.format", "Output format of log messages. One of: [logfmt, json]").
		Default("logfmt").EnumVar(&cfg.logFormat, "logfmt", "json")
	app.Flag("scrape.timeout", "Longest a listing may take; the deadline when a scrape sends no X-Prometheus-Scrape-Timeout-Seconds.").
		Default("60s").DurationVar(&cfg.timeouts.Default)
	app.Flag("scrape.timeout-offset", "Subtracted from X-Prometheus-Scrape-Timeout-Seconds to leave time for sending the answer.").
		Default("500ms").DurationVar(&cfg.timeouts.Offset)
	app.Flag("images.api", "Image API of every cloud whose clouds.yaml entry sets no image_api: nova (images/detail of Nova, Huawei ECS, Open Telekom Cloud), glance (Glance v2 /v2/images) or ims (Huawei IMS /v2/cloudimages).").
		Default(client.APINova).EnumVar(&cfg.imageAPI, client.ImageAPIs...)
	app.Flag("images.quota", "Export the image quotas (nova_image_quota_*) of every cloud whose image API reports them (glance, ims), unless its clouds.yaml entry says image_quota: false; --no-images.quota turns them off for all.").
		Default("true").BoolVar(&cfg.quotas)
	selection := map[string]*string{}
	for _, name := range client.SelectionParams {
		selection[name] = app.Flag("images."+name, selectionHelp[name]+" A /probe parameter of the same name overrides it.").String()
	}
	metadataLabels := app.Flag("images.metadata-label", "Metadata key exported as a label of nova_image_info (metadata_KEY). Repeatable; --images.metadata-label= for none.").
		Default("image_type").Strings()
	perImage := app.Flag("images.per-image-metrics", "Export per-image series; off, only nova_images{status} counts images.").Default("true").Bool()
	perImageFilters := app.Flag("images.per-image-filter", "Export per-image series only for images whose metadata match KEY=VALUE or KEY!=VALUE (an absent key is empty). Repeatable; all must match.").Strings()
	app.Flag("client.timeout", "Longest one HTTP request to the cloud may take.").
		Default(client.DefaultRequestTimeout.String()).DurationVar(&cfg.client.RequestTimeout)
	app.Flag("client.max-response-bytes", "A page of images larger than this (after decompression) is cut off and the listing fails.").
		Default(fmt.Sprint(client.DefaultMaxResponseBytes)).Int64Var(&cfg.client.MaxResponseBytes)
	app.Flag("client.max-listing-bytes", "A listing whose images take more memory than this (their ids, names, statuses, server ids and metadata values, plus 256 bytes each) fails.").
		Default(fmt.Sprint(client.DefaultMaxListingBytes)).Int64Var(&cfg.client.MaxListingBytes)
	app.Flag("client.max-pages", "A listing that needs more pages than this fails.").
		Default(fmt.Sprint(client.DefaultMaxPages)).IntVar(&cfg.client.MaxPages)
	app.Flag("client.max-retries", "How often a throttled (429, 413) or briefly failing (502, 503, 504) request is retried, with backoff and within the scrape deadline; 0 never retries, at most 10.").
		Default(fmt.Sprint(client.DefaultMaxRetries)).IntVar(&cfg.client.MaxRetries)
	app.Flag("cache.ttl", "Serve a listing younger than this without calling the API (nova_listing_age_seconds tells its age); 0 lists on every scrape.").
		Default("0s").DurationVar(&cfg.cacheTTL)
	app.Flag("cache.max-bytes", "Largest size of the --cache.ttl cache, across every cloud: its listings' images, counted as --client.max-listing-bytes counts them, plus 512 bytes an entry. The oldest entries are dropped to store a new one; a larger listing is not cached. The default holds a listing of 100 000 images (34-40 MiB).").
		Default("48MiB").BytesVar(&cfg.maxCacheBytes)
	app.Flag("listings.max-bytes", "Largest size of all listings held at once, across every cloud: in flight, being answered or cached (counted as --client.max-listing-bytes counts them), with the renderings gzip scrapes share. A listing that would pass it fails, and a rendering is not kept. The default keeps the process within a 256 MiB memory limit: it takes about 1.8 times what is counted, plus some 20 MiB of its own (96 MiB x 1.8 + 20 MiB, about 195 MiB).").
		Default("96MiB").BytesVar(&cfg.maxListingsBytes)
	app.Flag("web.max-requests", "Maximum number of listings and renderings of image metrics running at once; scrapes waiting for a listing in flight, or for their scraper to read the answer, do not count. A /probe whose listing finds no free slot answers 503 at once; /metrics then serves the exporter's own metrics with nova_up 0. 0 means no limit.").
		Default("40").IntVar(&cfg.maxRequests)
	app.Flag("web.write-margin", "How long past its listing deadline a scrape's answer may take to be sent; a scraper reading slower is cut off.").
		Default("10s").DurationVar(&cfg.writeMargin)
	cfg.web = kingpinflag.AddFlags(app, ":9879")
	if _, err := app.Parse(args); err != nil {
		return nil, err
	}

	values := url.Values{}
	for name, value := range selection {
		if *value != "" {
			values.Set(name, *value)
		}
	}
	var err error
	if cfg.selection, err = client.ParseSelection(client.Selection{}, values); err != nil {
		return nil, fmt.Errorf("--images.%w", err)
	}
	if cfg.exports, err = exposition.NewImageExports(*perImage, *metadataLabels, *perImageFilters); err != nil {
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
	if cfg.maxCacheBytes <= 0 || cfg.maxListingsBytes <= 0 {
		return nil, fmt.Errorf("--cache.max-bytes and --listings.max-bytes must be positive, not %s and %s", cfg.maxCacheBytes, cfg.maxListingsBytes)
	}
	if cfg.writeMargin <= 0 {
		return nil, fmt.Errorf("--web.write-margin must be positive, not %s", cfg.writeMargin)
	}
	if cfg.timeouts.Default <= 0 {
		return nil, fmt.Errorf("--scrape.timeout must be positive, not %s", cfg.timeouts.Default)
	}
	return &cfg, nil
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
