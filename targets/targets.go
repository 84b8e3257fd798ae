// Package targets keeps the clouds the exporter can list: every entry of clouds.yaml (and
// the environment's or the demo's cloud), each with one client built once and reused by
// every scrape, so that tokens and connections live across scrapes. A reload re-reads
// clouds.yaml and rebuilds only the clouds whose configuration changed.
package targets

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/collector"
)

// Builder makes a cloud's target (client and shared listings) from its configuration.
type Builder func(cfg *client.CloudConfig) (collector.Target, error)

// Options configure a Set.
type Options struct {
	// File is the clouds.yaml whose every entry can be probed; empty for none.
	File string
	// Fixed are clouds that do not come from File: the environment's or the demo's.
	Fixed []*client.CloudConfig
	// Default is the cloud /metrics lists; empty for none. It must load, at start and
	// at every reload.
	Default string
	// Defaults is the selection of every listing unless a probe overrides it.
	Defaults client.Selection
	Build    Builder
	// Forget, when set, is called with each cloud a reload removes.
	Forget func(cloud string)
	Logger log.Logger
	// Registerer receives the reload metrics.
	Registerer prometheus.Registerer
}

type cloud struct {
	config *client.CloudConfig
	target collector.Target
}

// Set is the configured clouds. It is safe for concurrent use.
type Set struct {
	opts          Options
	reloadOK      prometheus.Gauge
	reloadSuccess prometheus.Gauge
	reloadMu      sync.Mutex // one reload at a time
	mu            sync.RWMutex
	clouds        map[string]*cloud
	broken        map[string]error // entries of File that do not load, and why
}

// New loads every cloud. It fails if File cannot be read or the default cloud does not
// load; other entries that do not load are logged and answer /probe with their error.
func New(opts Options) (*Set, error) {
	s := &Set{
		opts: opts,
		reloadOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "nova", Subsystem: "image_exporter", Name: "config_last_reload_successful",
			Help: "1 if the last load of clouds.yaml succeeded (a failed reload keeps the previous configuration), else 0.",
		}),
		reloadSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "nova", Subsystem: "image_exporter", Name: "config_last_reload_success_timestamp_seconds",
			Help: "When clouds.yaml was last loaded successfully, in Unix seconds.",
		}),
		clouds: map[string]*cloud{},
	}
	if err := s.Reload(); err != nil {
		return nil, err
	}
	if opts.Registerer != nil {
		opts.Registerer.MustRegister(s.reloadOK, s.reloadSuccess)
	}
	return s, nil
}

// Reload re-reads clouds.yaml. On failure the previous configuration stays in force.
func (s *Set) Reload() error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	clouds, broken, err := s.load()
	if err != nil {
		s.reloadOK.Set(0)
		return err
	}
	for name, err := range broken {
		level.Warn(s.opts.Logger).Log("msg", "cloud cannot be probed", "cloud", name, "err", err)
	}
	s.mu.Lock()
	for name := range s.clouds {
		if _, kept := clouds[name]; !kept && s.opts.Forget != nil {
			s.opts.Forget(name)
		}
	}
	s.clouds, s.broken = clouds, broken
	s.mu.Unlock()
	s.reloadOK.Set(1)
	s.reloadSuccess.SetToCurrentTime()
	return nil
}

// load reads the configuration and builds the targets of new or changed clouds, reusing
// the others.
func (s *Set) load() (map[string]*cloud, map[string]error, error) {
	configs := map[string]*client.CloudConfig{}
	broken := map[string]error{}
	for _, cfg := range s.opts.Fixed {
		configs[cfg.Name] = cfg
	}
	if s.opts.File != "" {
		names, err := client.CloudNames(s.opts.File)
		if err != nil {
			return nil, nil, err
		}
		for _, name := range names {
			if cfg, err := client.LoadCloud(s.opts.File, name); err != nil {
				broken[name] = err
			} else {
				configs[name] = cfg
			}
		}
	}
	if err := broken[s.opts.Default]; err != nil {
		return nil, nil, err
	}
	if s.opts.Default != "" && configs[s.opts.Default] == nil {
		return nil, nil, fmt.Errorf("%s: no cloud %q", s.opts.File, s.opts.Default)
	}
	s.mu.RLock()
	old := s.clouds
	s.mu.RUnlock()
	clouds := map[string]*cloud{}
	for name, cfg := range configs {
		if previous, ok := old[name]; ok && previous.config.Fingerprint == cfg.Fingerprint {
			clouds[name] = previous
			continue
		}
		target, err := s.opts.Build(cfg)
		if err != nil {
			if name == s.opts.Default {
				return nil, nil, err
			}
			broken[name] = err
			continue
		}
		clouds[name] = &cloud{config: cfg, target: target}
	}
	return clouds, broken, nil
}

// Problems returns, sorted by cloud, why the entries of clouds.yaml that do not load fail.
func (s *Set) Problems() []error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	names := sortedKeys(s.broken)
	problems := make([]error, len(names))
	for i, name := range names {
		problems[i] = s.broken[name]
	}
	return problems
}

// Names lists the clouds that can be probed.
func (s *Set) Names() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return sortedKeys(s.clouds)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Get returns the target of a configured cloud, with the default selection.
func (s *Set) Get(name string) (collector.Target, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if c, ok := s.clouds[name]; ok {
		target := c.target
		target.Selection = s.opts.Defaults
		return target, nil
	}
	if err, ok := s.broken[name]; ok {
		return collector.Target{}, fmt.Errorf("cloud %q cannot be probed: %w", name, err)
	}
	return collector.Target{}, fmt.Errorf("unknown cloud %s (configured: %s)", client.QuoteTruncated(name, 64), s.namesLocked())
}

func (s *Set) namesLocked() string {
	names := sortedKeys(s.clouds)
	if len(names) > 10 {
		names = append(names[:10], "...")
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// ResolveDefault is /metrics's resolver: the default cloud, if one is set.
func (s *Set) ResolveDefault(*http.Request) (collector.Target, bool, error) {
	if s.opts.Default == "" {
		return collector.Target{}, false, nil
	}
	target, err := s.Get(s.opts.Default)
	return target, err == nil, err
}

// ResolveProbe is /probe's resolver: ?cloud=NAME chooses a configured cloud, and the
// listing options (name, status, changes-since, min-ram, min-disk, type, server,
// page-size) override the flags' defaults for this scrape. Nothing from the request is
// used as an address.
func (s *Set) ResolveProbe(r *http.Request) (collector.Target, bool, error) {
	query := r.URL.Query()
	for key := range query {
		if key != "cloud" && !slices.Contains(client.SelectionParams, key) {
			return collector.Target{}, false, fmt.Errorf("unknown parameter %s (want cloud and any of %s)",
				client.QuoteTruncated(key, 64), strings.Join(client.SelectionParams, ", "))
		}
	}
	if n := len(query["cloud"]); n > 1 {
		return collector.Target{}, false, fmt.Errorf("cloud: given %d times, want once", n)
	}
	name := query.Get("cloud")
	if name == "" {
		return collector.Target{}, false, errors.New("missing ?cloud=NAME: the clouds.yaml entry to list")
	}
	target, err := s.Get(name)
	if err != nil {
		return collector.Target{}, false, err
	}
	selection, err := client.ParseSelection(s.opts.Defaults, query)
	if err != nil {
		return collector.Target{}, false, err
	}
	target.Selection = selection
	return target, true, nil
}

// ReloadHandler re-reads clouds.yaml on POST /-/reload.
func (s *Set) ReloadHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost && r.Method != http.MethodPut {
			w.Header().Set("Allow", "POST, PUT")
			http.Error(w, "use POST to reload", http.StatusMethodNotAllowed)
			return
		}
		if err := s.ReloadAndLog(); err != nil {
			http.Error(w, "reload failed, previous configuration kept: "+err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = fmt.Fprintln(w, "reloaded")
	})
}

// ReloadAndLog reloads and logs the outcome in one line.
func (s *Set) ReloadAndLog() error {
	err := s.Reload()
	if err != nil {
		level.Error(s.opts.Logger).Log("msg", "reloading clouds.yaml failed; the previous configuration stays", "err", err)
		return err
	}
	level.Info(s.opts.Logger).Log("msg", "reloaded clouds.yaml", "clouds", strings.Join(s.Names(), ","))
	return nil
}
