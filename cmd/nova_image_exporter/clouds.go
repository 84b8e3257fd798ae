package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/nova-image-exporter/nova_image_exporter/client/cloud"
	"github.com/nova-image-exporter/nova_image_exporter/collector"
	"github.com/nova-image-exporter/nova_image_exporter/simulator"
	"github.com/nova-image-exporter/nova_image_exporter/targets"
)

// cloudSources decides where the clouds come from: the simulator for --demo; otherwise
// every entry of clouds.yaml, the default being --cloud/OS_CLOUD, or, without it, the
// cloud the environment variables describe.
func cloudSources(ctx context.Context, cfg *config, logger log.Logger) (targets.Options, error) {
	if cfg.demo {
		url, err := startDemo(ctx, cfg.demoAddress, logger)
		if err != nil {
			return targets.Options{}, err
		}
		demo := demoCloud(url, cfg.imageAPI)
		return targets.Options{Fixed: []*cloud.Config{demo}, Default: demo.Name}, nil
	}
	file, fileErr := cloud.CloudsFile()
	if cfg.cloud != "" {
		if fileErr != nil {
			return targets.Options{}, fileErr
		}
		return targets.Options{File: file, Default: cfg.cloud}, nil
	}
	opts := targets.Options{}
	if fileErr == nil {
		opts.File = file
	}
	env, err := cloud.LoadEnvCloud(cfg.imageAPI)
	switch {
	case err == nil:
		opts.Fixed, opts.Default = []*cloud.Config{env}, env.Name
	case !errors.Is(err, cloud.ErrNoEnvCloud) || opts.File == "":
		return targets.Options{}, err
	default:
		level.Info(logger).Log("msg", "no default cloud: /metrics serves the exporter's own metrics, /probe?cloud=NAME lists a cloud", "file", file)
	}
	return opts, nil
}

// loadClouds loads every cloud, each with its pipeline built once (targets.Pipeline), the
// exporter's metrics registered with reg; reg and metrics are nil for --config.check.
func loadClouds(ctx context.Context, cfg *config, reg prometheus.Registerer, metrics *collector.ExporterMetrics, logger log.Logger) (*targets.Set, error) {
	opts, err := cloudSources(ctx, cfg, logger)
	if err != nil {
		return nil, err
	}
	memory := collector.NewMemory(cfg.maxListingsBytes, cfg.maxCacheBytes)
	if reg != nil {
		reg.MustRegister(memory)
	}
	pipeline := targets.Pipeline{
		Client: cfg.client, CacheTTL: cfg.cacheTTL, ListingTimeout: cfg.listingTimeout, Memory: memory, Metrics: metrics,
		Quotas: cfg.quotas, ProjectMetrics: cfg.projectMetrics, OrphanedSnapshots: cfg.orphanedSnapshots, Logger: logger,
	}
	opts.Build, opts.Forget = pipeline.Build, pipeline.Forget
	opts.Defaults, opts.ImageAPI, opts.Check, opts.Logger, opts.Registerer = cfg.selection, cfg.imageAPI, cfg.check, logger, reg
	set, err := targets.New(opts)
	if err == nil && reg != nil {
		reg.MustRegister(collector.NewAuthBackoffCollector(set.Targets))
	}
	return set, err
}

// checkConfig is --config.check: load every cloud without calling any, and report.
func checkConfig(ctx context.Context, cfg *config, stdout io.Writer) error {
	set, err := loadClouds(ctx, cfg, nil, nil, log.NewNopLogger())
	if err != nil {
		return fmt.Errorf("configuration check failed: %w", err)
	}
	var report strings.Builder
	for _, name := range set.Names() {
		fmt.Fprintf(&report, "ok      %s\n", name)
	}
	problems := set.Problems()
	for _, p := range problems {
		fmt.Fprintf(&report, "FAILED  %v\n", p)
	}
	unknownKeys := set.UnknownKeys()
	for _, k := range unknownKeys {
		fmt.Fprintf(&report, "warning %v\n", k)
	}
	if len(problems) == 0 {
		fmt.Fprintf(&report, "configuration OK: %d clouds", len(set.Names()))
		if len(unknownKeys) > 0 {
			fmt.Fprintf(&report, ", %d unknown keys ignored", len(unknownKeys))
		}
		report.WriteString("\n")
	}
	if _, err := io.WriteString(stdout, report.String()); err != nil {
		return err
	}
	if len(problems) > 0 {
		return fmt.Errorf("configuration check failed: %d of %d clouds do not load", len(problems), len(problems)+len(set.Names()))
	}
	return nil
}

// demoGlanceQuotas are the demo Glance's unified limits (IMS has the simulator's default
// quotas).
var demoGlanceQuotas = map[string]int64{
	simulator.GlanceImageCountTotal: 12, simulator.GlanceImageCountUploading: 4,
	simulator.GlanceImageSizeTotal: 4096, simulator.GlanceImageStageTotal: 2048,
}

// startDemo serves a simulated cloud on address until ctx ends: Keystone, Nova, Glance and
// IMS over one image set with every status, a hidden image and an importing one, and their
// quotas, so that --images.api shows what each API gives; its user is an admin, who reads
// the project names.
func startDemo(ctx context.Context, address string, logger log.Logger) (string, error) {
	listener, err := (&net.ListenConfig{}).Listen(ctx, "tcp", address)
	if err != nil {
		return "", fmt.Errorf("starting the demo cloud: %w", err)
	}
	sim := simulator.New(simulator.Options{Images: simulator.FullImages(time.Now()), GlanceQuotas: demoGlanceQuotas, Admin: true})
	server := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := server.Serve(listener); !errors.Is(err, http.ErrServerClosed) {
			level.Error(logger).Log("msg", "the demo cloud stopped", "err", err)
		}
	}()
	context.AfterFunc(ctx, func() { _ = server.Close() })
	url := "http://" + listener.Addr().String()
	level.Info(logger).Log("msg", "demo: serving a simulated cloud", "url", url)
	return url, nil
}
