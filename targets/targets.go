// Package targets keeps the clouds the exporter can list: every entry of clouds.yaml (and
// the environment's or the demo's cloud), each with one client built once and reused by
// every scrape, so that tokens and connections live across scrapes. A reload re-reads
// clouds.yaml and rebuilds only the clouds whose configuration changed.
package targets

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/client/cloud"
	"github.com/nova-image-exporter/nova_image_exporter/collector"
	"github.com/nova-image-exporter/nova_image_exporter/collector/exposition"
)

// Builder makes a cloud's target (client and shared listings) from its configuration, as
// Pipeline.Build does.
type Builder func(cfg *cloud.Config) (collector.Target, error)

// Options configure a Set.
type Options struct {
	// File is the clouds.yaml whose every entry can be probed; empty for none.
	File string
	// Fixed are clouds that do not come from File: the environment's or the demo's.
	Fixed []*cloud.Config
	// Default is the cloud /metrics lists; empty for none. It must load, at start and
	// at every reload.
	Default string
	// Defaults is the selection of every listing unless a probe overrides it.
	Defaults client.Selection
	// ImageAPI is the image API of the clouds of File that set no image_api
	// (--images.api); empty for nova.
	ImageAPI string
	// Build makes the target of each new or changed cloud: a Pipeline's Build.
	Build Builder
	// Forget, when set, is called with each cloud a reload removes, and with each cloud a
	// refused reload built but the configuration in force does not have.
	Forget func(cloud string)
	// Check is for --config.check: a file with entries none of which loads is not refused,
	// so that Problems lists each with its reason.
	Check bool
	// ReadFile reads File and the secure.yaml beside it; nil for os.ReadFile.
	ReadFile func(name string) ([]byte, error)
	Logger   log.Logger
	// Registerer receives the reload metrics.
	Registerer prometheus.Registerer
}

// member is one configured cloud: its configuration and, once built, its target.
type member struct {
	config   *cloud.Config
	target   collector.Target
	fromFile bool // an entry of File, not one of Fixed
}

// Set is the configured clouds. It is safe for concurrent use.
type Set struct {
	opts          Options
	reloadOK      prometheus.Gauge
	reloadSuccess prometheus.Gauge
	reloadMu      sync.Mutex // one reload at a time
	mu            sync.RWMutex
	clouds        map[string]*member
	broken        map[string]error // entries of File that do not load, and why
	unknownKeys   []cloud.UnknownKey
}

// New loads every cloud. It fails if File cannot be read, holds entries none of which
// loads, holds none and no other cloud is configured, or the default cloud does not load;
// other entries that do not load are logged and answer /probe with their error.
func New(opts Options) (*Set, error) {
	if opts.Logger == nil {
		opts.Logger = log.NewNopLogger()
	}
	s := &Set{
		opts: opts,
		reloadOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: exposition.Namespace, Subsystem: collector.ExporterSubsystem, Name: "config_last_reload_successful",
			Help: "1 if the last load of clouds.yaml loaded every cloud; 0 if it was refused (the previous configuration stays) or left entries that do not load (those clouds answer /probe with their error, the others are loaded).",
		}),
		reloadSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: exposition.Namespace, Subsystem: collector.ExporterSubsystem, Name: "config_last_reload_success_timestamp_seconds",
			Help: "When clouds.yaml last loaded with every cloud, in Unix seconds.",
		}),
	}
	if err := s.Reload(); err != nil {
		return nil, err
	}
	if opts.Registerer != nil {
		opts.Registerer.MustRegister(s.reloadOK, s.reloadSuccess)
	}
	return s, nil
}

// loaded is the outcome of one load.
type loaded struct {
	clouds      map[string]*member // with a target once built
	broken      map[string]error
	unknownKeys []cloud.UnknownKey
	names       []string // entries under clouds: of File, sorted
	toBuild     []string // new or changed clouds, sorted
	built       []string // clouds whose targets this load built
}

// Reload re-reads clouds.yaml. An entry that does not load fails alone; the load is
// refused, and the previous configuration stays in force, when the default cloud does not
// load or no cloud of a file with entries does. It is checked before any target is built,
// and again after. The listings of a cloud it changes or removes are closed.
func (s *Set) Reload() error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	s.mu.RLock()
	old := s.clouds // replaced only here, under reloadMu
	s.mu.RUnlock()
	next, err := s.read(old)
	if err == nil {
		err = s.check(old, next)
	}
	if err == nil {
		s.build(next)
		err = s.check(old, next)
	}
	if err != nil {
		s.forgetBuilt(old, next)
		s.reloadOK.Set(0)
		return err
	}
	s.logProblems(next)
	s.mu.Lock()
	s.forgetDropped(old, next)
	s.clouds, s.broken, s.unknownKeys = next.clouds, next.broken, next.unknownKeys
	s.mu.Unlock()
	closeReplaced(old, next)
	if len(next.broken) > 0 {
		s.reloadOK.Set(0)
		return nil
	}
	s.reloadOK.Set(1)
	s.reloadSuccess.SetToCurrentTime()
	return nil
}

// forgetDropped forgets the clouds of old, and those that next built, that next does not
// keep.
func (s *Set) forgetDropped(old map[string]*member, next *loaded) {
	if s.opts.Forget == nil {
		return
	}
	for _, name := range append(slices.Collect(maps.Keys(old)), next.built...) {
		if _, kept := next.clouds[name]; !kept {
			s.opts.Forget(name)
		}
	}
}

// closeReplaced closes the listings of the clouds of old that next changed or removed.
func closeReplaced(old map[string]*member, next *loaded) {
	for name, c := range old {
		if kept := next.clouds[name]; c.target.Listings != nil && (kept == nil || kept.target.Listings != c.target.Listings) {
			c.target.Listings.Close()
		}
	}
}

// read reads clouds.yaml and secure.yaml once each, and keeps the clouds of old whose
// configuration is unchanged.
func (s *Set) read(old map[string]*member) (*loaded, error) {
	next := &loaded{clouds: map[string]*member{}, broken: map[string]error{}}
	configs := map[string]*cloud.Config{}
	for _, cfg := range s.opts.Fixed {
		configs[cfg.Name] = cfg
	}
	fromFile := map[string]bool{}
	if s.opts.File != "" {
		file, err := cloud.ReadClouds(s.opts.File, s.opts.ReadFile)
		if err != nil {
			return nil, err
		}
		file.DefaultImageAPI = s.opts.ImageAPI
		next.names, next.unknownKeys = file.Names(), file.UnknownKeys()
		for _, name := range next.names {
			fromFile[name] = true
			if cfg, err := file.Load(name); err != nil {
				next.broken[name] = err
			} else {
				configs[name] = cfg
			}
		}
	}
	for name, cfg := range configs {
		c := &member{config: cfg, fromFile: fromFile[name]}
		if previous, ok := old[name]; ok && previous.config.Fingerprint == cfg.Fingerprint {
			c.config, c.target = previous.config, previous.target
		} else {
			next.toBuild = append(next.toBuild, name)
		}
		next.clouds[name] = c
	}
	slices.Sort(next.toBuild)
	return next, nil
}

// build makes the targets of new or changed clouds; a cloud whose target cannot be made,
// or whose image API cannot express an option of the default selection (the --images.*
// flags, which would otherwise be dropped or fail every scrape of it), moves to broken.
func (s *Set) build(next *loaded) {
	for _, name := range next.toBuild {
		next.built = append(next.built, name)
		target, err := s.opts.Build(next.clouds[name].config)
		if err == nil {
			if err = checkOptions(target, s.opts.Defaults); err != nil {
				err = fmt.Errorf("cloud %q: --images.%w", name, err)
			}
		}
		if err != nil {
			delete(next.clouds, name)
			next.broken[name] = err
			continue
		}
		next.clouds[name].target = target
	}
}

// check refuses a load that would lose the default cloud, or leave nothing to probe where
// clouds.yaml has entries (none of which loads) or had clouds (a file emptied or
// truncated while being rewritten in place).
func (s *Set) check(old map[string]*member, next *loaded) error {
	return cmp.Or(s.checkDefault(next), s.checkNotEmptied(old, next))
}

func (s *Set) checkDefault(next *loaded) error {
	name := s.opts.Default
	if name == "" || next.clouds[name] != nil {
		return nil
	}
	if err := next.broken[name]; err != nil {
		return err
	}
	return fmt.Errorf("%s: no cloud %q under clouds: (have %s)", s.opts.File, name, cloud.QuotedNames(next.names))
}

// checkNotEmptied refuses a clouds.yaml with entries none of which loads; and one with no
// entry where the configuration in force has clouds from it, or, at start-up, where it is
// the only source of clouds.
func (s *Set) checkNotEmptied(old map[string]*member, next *loaded) error {
	if s.opts.File == "" || countFromFile(next.clouds) > 0 {
		return nil
	}
	if len(next.names) > 0 {
		if s.opts.Check {
			return nil
		}
		return fmt.Errorf("%s: none of its %d clouds loads; %w", s.opts.File, len(next.names), next.broken[next.names[0]])
	}
	startingWithFileOnly := old == nil && len(s.opts.Fixed) == 0
	if countFromFile(old) > 0 || startingWithFileOnly {
		return fmt.Errorf("%s: no cloud under clouds: (an empty or truncated file?)", s.opts.File)
	}
	return nil
}

func countFromFile(clouds map[string]*member) int {
	n := 0
	for _, c := range clouds {
		if c.fromFile {
			n++
		}
	}
	return n
}

// forgetBuilt undoes what building the targets of a refused load registered for clouds
// that the configuration in force does not have.
func (s *Set) forgetBuilt(old map[string]*member, next *loaded) {
	if next == nil || s.opts.Forget == nil {
		return
	}
	for _, name := range next.built {
		if _, inForce := old[name]; !inForce {
			s.opts.Forget(name)
		}
	}
}

// maxKeyWarnings bounds the log lines about unknown keys of one load.
const maxKeyWarnings = 20

// logProblems logs, once per load, the entries that do not load and the keys nothing reads.
func (s *Set) logProblems(next *loaded) {
	for name, err := range next.broken {
		level.Warn(s.opts.Logger).Log("msg", "cloud cannot be probed", "cloud", name, "err", err)
	}
	for i, k := range next.unknownKeys {
		if i == maxKeyWarnings {
			level.Warn(s.opts.Logger).Log("msg", fmt.Sprintf("and %d more unknown keys; --config.check lists them all", len(next.unknownKeys)-i))
			break
		}
		level.Warn(s.opts.Logger).Log("msg", "clouds.yaml key that neither the exporter nor gophercloud reads is ignored: a typo?",
			"file", k.File, "cloud", k.Cloud, "key", k.Key)
	}
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

// UnknownKeys lists the keys of clouds.yaml and secure.yaml entries in force that neither
// the exporter nor gophercloud reads.
func (s *Set) UnknownKeys() []cloud.UnknownKey {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Clone(s.unknownKeys)
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

// Targets returns the target of every cloud that can be probed, sorted by cloud.
func (s *Set) Targets() []collector.Target {
	s.mu.RLock()
	defer s.mu.RUnlock()
	targets := make([]collector.Target, 0, len(s.clouds))
	for _, name := range sortedKeys(s.clouds) {
		targets = append(targets, s.clouds[name].target)
	}
	return targets
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
	return cloud.QuotedNames(sortedKeys(s.clouds))
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
	if err := checkOptions(target, selection); err != nil {
		return collector.Target{}, false, err
	}
	target.Selection = selection
	return target, true, nil
}

// checkOptions fails when the target's image API cannot express an option of selection.
func checkOptions(target collector.Target, selection client.Selection) error {
	if target.API == nil {
		return nil
	}
	return target.API.CheckOptions(selection.ListOptions(time.Now()))
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
		if n := len(s.Problems()); n > 0 {
			_, _ = fmt.Fprintf(w, "reloaded; %d clouds do not load (the log says why; /probe of each answers its error)\n", n)
			return
		}
		_, _ = fmt.Fprintln(w, "reloaded")
	})
}

// ReloadAndLog reloads and logs the outcome in one line.
func (s *Set) ReloadAndLog() error {
	err := s.Reload()
	if err != nil {
		level.Error(s.opts.Logger).Log("msg", "reloading clouds.yaml failed; the previous configuration stays", "file", s.opts.File, "err", err)
		return err
	}
	level.Info(s.opts.Logger).Log("msg", "reloaded clouds.yaml", "clouds", strings.Join(s.Names(), ","))
	return nil
}
