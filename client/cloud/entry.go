package cloud

import (
	"cmp"
	"fmt"
)

// entry holds the keys of a clouds.yaml entry that gophercloud's parser does not return.
type entry struct {
	AuthType                string `yaml:"auth_type"`
	RegionName              string `yaml:"region_name"`
	ComputeEndpointOverride string `yaml:"compute_endpoint_override"`
	ImageAPI                string `yaml:"image_api"`
	ImageEndpointOverride   string `yaml:"image_endpoint_override"`
	EnterpriseProjectID     string `yaml:"enterprise_project_id"`
	ImageQuota              *bool  `yaml:"image_quota"`
	ProjectMetrics          *bool  `yaml:"project_metrics"`
	OrphanedSnapshots       *bool  `yaml:"orphaned_snapshots"`
	CloudDomain             string `yaml:"cloud_domain"`
	TLSFiles                `yaml:",inline"`
	// Auth holds the values of ownAuthKeys under auth:, as text.
	Auth    map[string]string `yaml:"-"`
	hasAuth bool              // the entry, or secure.yaml's, has an auth: mapping
}

// UnmarshalYAML decodes the entry and notes whether it has an auth: mapping.
func (e *entry) UnmarshalYAML(unmarshal func(any) error) error {
	type plain entry
	if err := unmarshal((*plain)(e)); err != nil {
		return err
	}
	var probe struct {
		Auth map[string]any `yaml:"auth"`
	}
	if err := unmarshal(&probe); err != nil {
		return err
	}
	e.hasAuth = probe.Auth != nil
	for key, value := range probe.Auth {
		if isOwnAuthKey(key) && value != nil {
			if e.Auth == nil {
				e.Auth = map[string]string{}
			}
			e.Auth[key] = fmt.Sprint(value)
		}
	}
	return nil
}

// merge fills the fields of e that are empty from other (secure.yaml under clouds.yaml).
func (e *entry) merge(other entry) {
	e.AuthType = cmp.Or(e.AuthType, other.AuthType)
	e.RegionName = cmp.Or(e.RegionName, other.RegionName)
	e.ComputeEndpointOverride = cmp.Or(e.ComputeEndpointOverride, other.ComputeEndpointOverride)
	e.ImageAPI = cmp.Or(e.ImageAPI, other.ImageAPI)
	e.ImageEndpointOverride = cmp.Or(e.ImageEndpointOverride, other.ImageEndpointOverride)
	e.EnterpriseProjectID = cmp.Or(e.EnterpriseProjectID, other.EnterpriseProjectID)
	e.CloudDomain = cmp.Or(e.CloudDomain, other.CloudDomain)
	if e.ImageQuota == nil {
		e.ImageQuota = other.ImageQuota
	}
	if e.ProjectMetrics == nil {
		e.ProjectMetrics = other.ProjectMetrics
	}
	if e.OrphanedSnapshots == nil {
		e.OrphanedSnapshots = other.OrphanedSnapshots
	}
	for key, value := range other.Auth {
		if e.Auth[key] == "" {
			if e.Auth == nil {
				e.Auth = map[string]string{}
			}
			e.Auth[key] = value
		}
	}
	e.CACert, e.Cert, e.Key = cmp.Or(e.CACert, other.CACert), cmp.Or(e.Cert, other.Cert), cmp.Or(e.Key, other.Key)
	e.hasAuth = e.hasAuth || other.hasAuth
}
