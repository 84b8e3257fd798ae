package cloud

import (
	"cmp"
	"fmt"
	"regexp"

	"github.com/nova-image-exporter/nova_image_exporter/client"
)

// DefaultCloudDomain is the domain of Huawei Cloud's hosts, under which an auth type
// without a catalog builds them when clouds.yaml's cloud_domain is not set.
const DefaultCloudDomain = "myhuaweicloud.com"

// maxDomainBytes bounds cloud_domain, as DNS bounds a name.
const maxDomainBytes = 253

var (
	// regionPattern is what a region name that goes into a host name may be.
	regionPattern = regexp.MustCompile(`^[A-Za-z0-9-]{1,63}$`)
	// domainPattern is a plain DNS name of two labels or more, without a final dot.
	// numericLabel is a last label of digits alone: an IP address, not a domain.
	numericLabel  = regexp.MustCompile(`(?:^|\.)[0-9]+$`)
	domainPattern = regexp.MustCompile(`^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)
)

// serviceHosts are, by service, the first label of the Huawei-stack host that serves it:
// ECS's Nova-compatible API, and IMS, which serves Glance's API too.
var serviceHosts = map[string]string{client.ServiceCompute: "ecs", client.ServiceImage: "ims"}

// buildEndpoints gives each of services that has no override the endpoint on
// {service}.{region}.{cloud_domain}, as the Huawei SDKs and Terraform providers build them
// for a region; nothing without a region.
func (c *Config) buildEndpoints(region string, services []string) {
	if region == "" {
		return
	}
	for _, service := range services {
		host := serviceHosts[service] + "." + region + "." + cmp.Or(c.CloudDomain, DefaultCloudDomain)
		switch {
		case service == client.ServiceCompute && c.ComputeEndpointOverride == "":
			c.ComputeEndpointOverride = "https://" + host + "/v2.1/{project_id}"
		case service == client.ServiceImage && c.ImageEndpointOverride == "":
			c.ImageEndpointOverride = "https://" + host
		default:
			continue
		}
		c.hostRegion = region
	}
}

// checkHosts reports a region_name or cloud_domain that cannot name a host, and a
// cloud_domain on an auth type that builds no host (it would be ignored).
func (c *Config) checkHosts(t *authType, field func(string) string) error {
	if c.hostRegion != "" && !regionPattern.MatchString(c.hostRegion) {
		return fmt.Errorf("%s %s: want letters, digits and dashes (it names the endpoint's host, e.g. cn-north-4)",
			field("region_name"), c.redactor().Quote(c.hostRegion, 64))
	}
	if c.CloudDomain == "" {
		return nil
	}
	if t.hosts == nil || len(t.hosts(c)) == 0 {
		return fmt.Errorf("%s names the hosts that auth_type aksk builds, and token with image_api ims; this cloud builds none: it takes its endpoints from the catalog or from compute_endpoint_override and image_endpoint_override",
			field("cloud_domain"))
	}
	if len(c.CloudDomain) > maxDomainBytes || !domainPattern.MatchString(c.CloudDomain) || numericLabel.MatchString(c.CloudDomain) {
		return fmt.Errorf("%s %s: want a DNS name such as otc.t-systems.com (dot-separated labels of letters, digits and dashes; no scheme, path or port)",
			field("cloud_domain"), c.redactor().Quote(c.CloudDomain, 64))
	}
	return nil
}

// redactor removes the cloud's configured secrets from a value quoted in an error: a secret
// pasted under the wrong key must not be printed.
func (c *Config) redactor() client.Redactor {
	return client.NewRedactor(c.AuthOptions.Password, c.AuthOptions.ApplicationCredentialSecret, c.AuthOptions.TokenID,
		c.Auth["sk"], c.Auth["security_token"])
}
