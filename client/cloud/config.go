// Package cloud reads a cloud's configuration (clouds.yaml, secure.yaml, OS_* and
// HUAWEICLOUD_SDK_* variables) and builds its authenticator: Keystone or IAM (password,
// application credential), a pre-issued token, or a Huawei AK/SK signature.
package cloud

import (
	"cmp"
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/nova-image-exporter/nova_image_exporter/client"
)

// Config is one cloud's configuration, checked and resolved, from a clouds.yaml entry
// or from environment variables.
type Config struct {
	Name     string // the entry's name under clouds:, or EnvCloudName
	File     string // the clouds.yaml it came from, or "environment"
	AuthType string
	// AuthOptions and Endpoint come from gophercloud's clouds.yaml parser, secure.yaml and
	// the OS_REGION_NAME/OS_INTERFACE overrides included.
	AuthOptions             gophercloud.AuthOptions
	Endpoint                gophercloud.EndpointOpts
	ComputeEndpointOverride string
	// ImageAPI is the API the cloud's images are read through, nova, glance or ims:
	// clouds.yaml's image_api, else the default given to the load (--images.api), else nova.
	ImageAPI string
	// ImageEndpointOverride is the Glance or IMS endpoint instead of the catalog's; for an
	// auth type without a catalog, built from region_name and CloudDomain (hosts.go).
	ImageEndpointOverride string
	// CloudDomain is clouds.yaml's cloud_domain: the domain under which an auth type without
	// a catalog builds its hosts, {service}.{region}.{domain}; empty for DefaultCloudDomain.
	CloudDomain string
	// EnterpriseProjectID is Huawei IMS's enterprise_project_id filter; empty for none.
	EnterpriseProjectID string
	// ImageQuota is clouds.yaml's image_quota: false turns the quota metrics off for the
	// cloud; nil leaves them to --images.quota (on where the image API reports quotas).
	ImageQuota *bool
	// ProjectMetrics is clouds.yaml's project_metrics: false turns the per-project families
	// off for the cloud; nil leaves them to --images.project-metrics.
	ProjectMetrics *bool
	// OrphanedSnapshots is clouds.yaml's orphaned_snapshots: true lists the cloud's servers
	// beside its images to find the snapshots whose server is gone; nil leaves it to
	// --images.orphaned-snapshots.
	OrphanedSnapshots *bool
	TLS               *tls.Config
	// hostRegion is the region_name that an endpoint's host was built from; empty if none.
	hostRegion string
	// Auth holds the keys under auth: that the exporter's own auth types read and
	// gophercloud does not (authType.authKeys: AK/SK's ak, sk, security_token), by key.
	Auth map[string]string
	// Fingerprint changes when the configuration does (secure.yaml and the content of the
	// CA, certificate and key files it names included): a reload keeps the client, and its
	// token, of a cloud whose fingerprint is unchanged.
	Fingerprint string
}

func newCloudConfig(name, file string, e entry, authOptions gophercloud.AuthOptions, endpoint gophercloud.EndpointOpts, tlsConfig *tls.Config, defaultImageAPI string) *Config {
	cfg := &Config{
		Name:                    name,
		File:                    file,
		AuthType:                e.AuthType,
		AuthOptions:             authOptions,
		Endpoint:                endpoint,
		ComputeEndpointOverride: e.ComputeEndpointOverride,
		ImageAPI:                cmp.Or(e.ImageAPI, defaultImageAPI, client.APINova),
		ImageEndpointOverride:   e.ImageEndpointOverride,
		EnterpriseProjectID:     e.EnterpriseProjectID,
		ImageQuota:              e.ImageQuota,
		ProjectMetrics:          e.ProjectMetrics,
		OrphanedSnapshots:       e.OrphanedSnapshots,
		CloudDomain:             e.CloudDomain,
		TLS:                     tlsConfig,
		Auth:                    maps.Clone(e.Auth),
	}
	if t, ok := lookupAuthType(cfg.AuthType); ok {
		cfg.AuthType = t.name
		if t.resolve != nil {
			t.resolve(cfg, e)
		}
		if t.hosts != nil {
			cfg.buildEndpoints(cmp.Or(e.RegionName, endpoint.Region), t.hosts(cfg))
		}
	}
	return cfg
}

// check reports the first field that the auth type needs and the configuration lacks;
// field names a field in the configuration's own terms (a clouds.yaml key or a variable).
// It changes nothing.
func (c *Config) check(field func(string) string) error {
	api, err := client.LookupImageAPI(c.ImageAPI)
	if err != nil {
		return fmt.Errorf("%s %w", field("image_api"), err)
	}
	t, ok := lookupAuthType(c.AuthType)
	if !ok {
		return unsupported(field, c.AuthType)
	}
	for _, r := range t.requires(c) {
		if !r.present {
			names := make([]string, len(r.fields))
			for i, f := range r.fields {
				names[i] = field(f)
			}
			return fmt.Errorf("%s is required", strings.Join(names, " or "))
		}
	}
	if err := c.checkHosts(t, field); err != nil {
		return err
	}
	return checkImageAPIKeys(c, api, field)
}

// checkImageAPIKeys reports the first key set that the cloud's image API does not read.
func checkImageAPIKeys(c *Config, api client.ImageAPISpec, field func(string) string) error {
	if c.ImageQuota != nil && *c.ImageQuota && !api.Quotas {
		return fmt.Errorf("%s: the %s image API reports no quota (image_api %s do)", field("image_quota"), api.Name,
			strings.Join(client.ImageAPINames(func(a client.ImageAPISpec) bool { return a.Quotas }), " and "))
	}
	if c.EnterpriseProjectID != "" && !api.EnterpriseProjects {
		return fmt.Errorf("%s is a filter of image_api %s only, and this cloud reads images through %s", field("enterprise_project_id"),
			strings.Join(client.ImageAPINames(func(a client.ImageAPISpec) bool { return a.EnterpriseProjects }), " and "), api.Name)
	}
	return nil
}

type required struct {
	fields  []string
	present bool
}

func yamlField(key string) string { return key }

// Authenticator returns the authenticator for the configuration's auth type, sending its
// requests with opts.HTTPClient and opts.UserAgent.
func (c *Config) Authenticator(opts client.Options) (client.Authenticator, error) {
	t, ok := lookupAuthType(c.AuthType)
	if !ok {
		return nil, errors.New("unchecked cloud config")
	}
	return t.authenticator(c, opts), nil
}

// QuotasOn reports whether the cloud's quota metrics are on, with --images.quota's
// default: clouds.yaml's image_quota: false turns them off.
func (c *Config) QuotasOn(byDefault bool) bool {
	if c.ImageQuota != nil {
		return *c.ImageQuota
	}
	return byDefault
}

// ProjectMetricsOn reports whether the cloud's per-project families are on, with
// --images.project-metrics' default: clouds.yaml's project_metrics overrides it.
func (c *Config) ProjectMetricsOn(byDefault bool) bool {
	if c.ProjectMetrics != nil {
		return *c.ProjectMetrics
	}
	return byDefault
}

// OrphanedSnapshotsOn reports whether the cloud's orphaned snapshots are looked for, with
// --images.orphaned-snapshots' default: clouds.yaml's orphaned_snapshots overrides it.
func (c *Config) OrphanedSnapshotsOn(byDefault bool) bool {
	if c.OrphanedSnapshots != nil {
		return *c.OrphanedSnapshots
	}
	return byDefault
}

// Connect returns the cloud's authenticator and opts with the http.Client that
// authentication and listing share: the configuration's TLS settings and
// opts.RequestTimeout, HTTPS_PROXY and NO_PROXY honoured.
func (c *Config) Connect(opts client.Options) (client.Authenticator, client.Options, error) {
	if opts.HTTPClient == nil {
		opts.HTTPClient = opts.BuildHTTPClient(c.TLS)
	}
	auth, err := c.Authenticator(opts)
	if err != nil {
		return nil, opts, err
	}
	return auth, opts, nil
}
