package targets

import (
	"fmt"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/client/cloud"
	"github.com/nova-image-exporter/nova_image_exporter/client/compute"
	"github.com/nova-image-exporter/nova_image_exporter/client/glance"
	"github.com/nova-image-exporter/nova_image_exporter/client/ims"
	"github.com/nova-image-exporter/nova_image_exporter/client/nova"
	"github.com/nova-image-exporter/nova_image_exporter/collector"
)

// Pipeline is what every cloud's pipeline is built with: cloud configuration →
// authenticator → image source → shared listings. Its Build is a Builder, its Forget an
// Options.Forget.
type Pipeline struct {
	// Client are the options of every cloud's client; Build sets their Logger and
	// WrapTransport per cloud.
	Client client.Options
	// CacheTTL is how long a listing is served from the cache (--cache.ttl); 0 for none.
	CacheTTL time.Duration
	// ListingTimeout bounds a listing that goes on in the background, with CacheTTL
	// (--listings.timeout); 0 takes collector.DefaultListingTimeout.
	ListingTimeout time.Duration
	// Memory bounds the listings of every cloud held at once, and caches them; nil for no
	// bound.
	Memory *collector.Memory
	// Metrics count each cloud's requests; nil for none (--config.check).
	Metrics *collector.ExporterMetrics
	// Quotas is --images.quota: quota metrics for every cloud whose image API reports them,
	// unless its clouds.yaml entry turns them off.
	Quotas bool
	// ProjectMetrics is --images.project-metrics: the families labelled by project_id
	// (nova_project_images, ...) for every cloud, unless its clouds.yaml entry sets
	// project_metrics. Build turns them on or off in the cloud's Listings
	// (Listings.ProjectMetrics).
	ProjectMetrics bool
	// OrphanedSnapshots is --images.orphaned-snapshots: every cloud's servers listed beside
	// its images (Listings.WithServers), unless its clouds.yaml entry sets
	// orphaned_snapshots.
	OrphanedSnapshots bool
	// Logger receives the line of each cloud built, and the client's, with the cloud's
	// name; nil logs nothing.
	Logger log.Logger
}

// Build makes the pipeline of one cloud: its image source, with the exporter's metrics
// around its transport, under shared listings that ask its quotas when they are on.
func (p Pipeline) Build(cfg *cloud.Config) (collector.Target, error) {
	logger := p.Logger
	if logger == nil {
		logger = log.NewNopLogger()
	}
	clientOpts := p.Client
	clientOpts.Logger = log.With(logger, "cloud", cfg.Name)
	if p.Metrics != nil {
		clientOpts.WrapTransport = p.Metrics.InstrumentTransport(cfg.Name)
		p.Metrics.InitCloud(cfg.Name)
	}
	if cfg.TLS != nil && cfg.TLS.InsecureSkipVerify {
		level.Warn(logger).Log("msg", "TLS certificates of the cloud are not verified (verify: false); anyone on the path can read the credentials", "cloud", cfg.Name)
	}
	if clientOpts.HTTPClient == nil {
		// one client, its connections and the cloud's TLS, for the images and the servers
		clientOpts.HTTPClient = clientOpts.BuildHTTPClient(cfg.TLS)
	}
	source, auth, err := newSource(cfg, clientOpts)
	if err != nil {
		return collector.Target{}, fmt.Errorf("cloud %q: %w", cfg.Name, err)
	}
	projectsOn := cfg.ProjectMetricsOn(p.ProjectMetrics)
	listings := collector.NewListings(source, p.CacheTTL).WithProjectMetrics(projectsOn)
	if p.ListingTimeout > 0 {
		listings.WithTimeout(p.ListingTimeout)
	}
	if p.Memory != nil {
		listings.WithMemory(p.Memory)
	}
	quotas, hasQuotas := source.(client.QuotaSource)
	quotasOn := hasQuotas && cfg.QuotasOn(p.Quotas)
	if quotasOn {
		listings.WithQuotas(quotas)
	}
	projects, canRead := auth.(client.ProjectSource)
	api, _ := client.LookupImageAPI(cfg.ImageAPI)
	namesOn := projectsOn && canRead && api.Owners
	if namesOn {
		listings.WithProjects(projects)
	}
	orphansOn := cfg.OrphanedSnapshotsOn(p.OrphanedSnapshots)
	if orphansOn {
		servers, err := newServerSource(cfg, auth, clientOpts)
		if err != nil {
			return collector.Target{}, fmt.Errorf("cloud %q: %w", cfg.Name, err)
		}
		listings.WithServers(servers)
	}
	level.Info(logger).Log("msg", "loaded cloud", "cloud", cfg.Name, "source", cfg.File, "auth_type", cfg.AuthType,
		"image_api", cfg.ImageAPI, "quotas", quotasOn, "project_metrics", projectsOn, "project_names", namesOn,
		"orphaned_snapshots", orphansOn)
	return collector.Target{Cloud: cfg.Name, Listings: listings, API: source}, nil
}

// Forget drops the exporter's metrics of a cloud that the configuration no longer has.
func (p Pipeline) Forget(cloud string) {
	if p.Metrics != nil {
		p.Metrics.ForgetCloud(cloud)
	}
}

// NewSource builds a cloud's image source: its authenticator and the client of its image
// API (cfg.ImageAPI) listing through it, which share one http.Client.
func NewSource(cfg *cloud.Config, opts client.Options) (client.ImageAPI, error) {
	source, _, err := newSource(cfg, opts)
	return source, err
}

// newSource is NewSource, with the authenticator the source lists through: a
// client.ProjectSource where its auth type can read project names.
func newSource(cfg *cloud.Config, opts client.Options) (client.ImageAPI, client.Authenticator, error) {
	api, err := client.LookupImageAPI(cfg.ImageAPI)
	if err != nil {
		return nil, nil, fmt.Errorf("image_api %w", err)
	}
	newClient, ok := imageAPIClients[api.Name]
	if !ok {
		return nil, nil, fmt.Errorf("image_api %s: the exporter has no client for it", api.Name)
	}
	auth, opts, err := cfg.Connect(opts)
	if err != nil {
		return nil, nil, err
	}
	return newClient(cfg, auth, opts), auth, nil
}

// newServerSource builds the listing of the servers of a cloud whose orphaned snapshots are
// on, through the authenticator its images are listed with: the compute API of its image
// API's stack (serverClients).
func newServerSource(cfg *cloud.Config, auth client.Authenticator, opts client.Options) (client.ServerSource, error) {
	newServers, ok := serverClients[cfg.ImageAPI]
	if !ok {
		return nil, fmt.Errorf("orphaned_snapshots: the exporter has no server listing for image_api %s", cfg.ImageAPI)
	}
	return newServers(cfg, auth, opts), nil
}

// serverClients build the server listing of a cloud by its image API: Nova's compute API
// for nova and glance, Huawei ECS for ims.
var serverClients = map[string]func(cfg *cloud.Config, auth client.Authenticator, opts client.Options) client.ServerSource{
	client.APINova: newComputeServers, client.APIGlance: newComputeServers, client.APIIMS: newComputeServers,
}

// newComputeServers lists the servers of a cloud through its compute API: Huawei ECS's where
// the cloud is of Huawei's stack (auth_type aksk, image_api ims), Nova's otherwise.
func newComputeServers(cfg *cloud.Config, auth client.Authenticator, opts client.Options) client.ServerSource {
	flavour := compute.Nova
	if cfg.AuthType == cloud.AuthAKSK || cfg.ImageAPI == client.APIIMS {
		flavour = compute.ECS
	}
	return compute.New(auth, opts, flavour)
}

// imageAPIClients build the client of each image API of client.ImageAPIs, by its name
// (TestEveryImageAPIHasItsClient keeps them in step).
var imageAPIClients = map[string]func(cfg *cloud.Config, auth client.Authenticator, opts client.Options) client.ImageAPI{
	client.APINova: func(_ *cloud.Config, auth client.Authenticator, opts client.Options) client.ImageAPI {
		return nova.New(auth, opts)
	},
	client.APIGlance: func(_ *cloud.Config, auth client.Authenticator, opts client.Options) client.ImageAPI {
		return glance.New(auth, opts)
	},
	client.APIIMS: func(cfg *cloud.Config, auth client.Authenticator, opts client.Options) client.ImageAPI {
		return ims.New(auth, opts, cfg.EnterpriseProjectID)
	},
}
