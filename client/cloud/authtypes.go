package cloud

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/nova-image-exporter/nova_image_exporter/client"
)

// Auth types of clouds.yaml that the exporter accepts.
const (
	AuthPassword              = "password"
	AuthToken                 = "token"
	AuthApplicationCredential = "v3applicationcredential"
	AuthAKSK                  = "aksk"
)

// authType is one auth_type of clouds.yaml: the keys it requires, the environment
// variables that stand for its keys, and the authenticator it builds. Adding an auth type
// is adding an entry to authTypes.
type authType struct {
	name    string
	aliases []string // other auth_type values meaning the same, as the OpenStack CLI takes them
	// variables maps the type's own keys to environment variables, over commonVariables.
	variables map[string]string
	// selectedBy are keys of which one, set from the environment, chooses this type when
	// OS_AUTH_TYPE is not set; of several types so chosen, the lowest envRank wins.
	selectedBy []string
	envRank    int
	// requires lists what a configuration of this type must hold.
	requires func(c *Config) []required
	// authKeys are the keys under auth: that this type reads and gophercloud does not; they
	// reach Config.Auth.
	authKeys []string
	// resolve adjusts a new configuration of this type, from its clouds.yaml entry, before
	// it is checked; nil for none.
	resolve func(c *Config, e entry)
	// hosts lists the services whose endpoint, without an override, this type builds from
	// region_name and cloud_domain (hosts.go); nil for a type that reads a catalog.
	hosts func(c *Config) []string
	// authenticator builds the authenticator of a checked configuration, sending its
	// requests, if any, with opts.HTTPClient and opts.UserAgent.
	authenticator func(c *Config, opts client.Options) client.Authenticator
}

// authTypes, in the order in which errors list them.
var authTypes = []authType{
	{
		name:       AuthPassword,
		aliases:    []string{"", "v3password"},
		selectedBy: []string{"auth.auth_url"},
		envRank:    3,
		requires: func(c *Config) []required {
			a := c.AuthOptions
			return []required{
				{[]string{"auth.auth_url"}, a.IdentityEndpoint != ""},
				{[]string{"auth.username", "auth.user_id"}, a.Username != "" || a.UserID != ""},
				{[]string{"auth.password"}, a.Password != ""},
				{[]string{"auth.user_domain_name", "auth.user_domain_id"}, a.UserID != "" || a.DomainName != "" || a.DomainID != ""},
				{[]string{"auth.project_name", "auth.project_id"}, a.TenantName != "" || a.TenantID != ""},
				{[]string{"auth.project_domain_name", "auth.project_domain_id"},
					a.TenantID != "" || a.Scope != nil && (a.Scope.DomainName != "" || a.Scope.DomainID != "")},
			}
		},
		authenticator: keystone,
	},
	{
		name:       AuthApplicationCredential,
		selectedBy: []string{"auth.application_credential_id", "auth.application_credential_name"},
		envRank:    1,
		requires: func(c *Config) []required {
			a := c.AuthOptions
			byName := a.ApplicationCredentialID == ""
			return []required{
				{[]string{"auth.auth_url"}, a.IdentityEndpoint != ""},
				{[]string{"auth.application_credential_id", "auth.application_credential_name"}, a.ApplicationCredentialID != "" || a.ApplicationCredentialName != ""},
				{[]string{"auth.application_credential_secret"}, a.ApplicationCredentialSecret != ""},
				{[]string{"auth.username", "auth.user_id"}, !byName || a.Username != "" || a.UserID != ""},
				{[]string{"auth.user_domain_name", "auth.user_domain_id"}, !byName || a.UserID != "" || a.DomainName != "" || a.DomainID != ""},
			}
		},
		// An application credential carries its project: Keystone refuses a scope, and it
		// must not fall back to the password method.
		resolve: func(c *Config, _ entry) {
			c.AuthOptions.Scope, c.AuthOptions.TenantID, c.AuthOptions.TenantName, c.AuthOptions.Password = nil, "", "", ""
		},
		authenticator: keystone,
	},
	{
		name:       AuthToken,
		aliases:    []string{"v3token", "admin_token"},
		selectedBy: []string{"auth.token"},
		envRank:    2,
		requires: func(c *Config) []required {
			return []required{
				{[]string{"auth.token"}, c.AuthOptions.TokenID != ""},
				c.imageAPIEndpointRequired(tokenHosts(c)),
				{[]string{"auth.project_id (" + c.endpointKey() + " has a project placeholder)"},
					c.AuthOptions.TenantID != "" || !hasProjectPlaceholder(c.ComputeEndpointOverride) && !hasProjectPlaceholder(c.ImageEndpointOverride)},
			}
		},
		hosts: tokenHosts,
		authenticator: func(c *Config, _ client.Options) client.Authenticator {
			return &StaticToken{Token: c.AuthOptions.TokenID, ComputeEndpoint: expandProjectID(c.ComputeEndpointOverride, c.AuthOptions.TenantID),
				ImageEndpoint: expandProjectID(c.ImageEndpointOverride, c.AuthOptions.TenantID)}
		},
	},
	{
		name: AuthAKSK,
		// Huawei's SDKs read these, instead of OS_*.
		variables:  map[string]string{"auth.ak": "HUAWEICLOUD_SDK_AK", "auth.sk": "HUAWEICLOUD_SDK_SK", "auth.project_id": "HUAWEICLOUD_SDK_PROJECT_ID"},
		selectedBy: []string{"auth.ak"},
		envRank:    0,
		authKeys:   []string{"ak", "sk", "security_token"},
		hosts:      akskHosts,
		requires: func(c *Config) []required {
			return []required{
				{[]string{"auth.ak"}, c.Auth["ak"] != ""},
				{[]string{"auth.sk"}, c.Auth["sk"] != ""},
				{[]string{"auth.project_id"}, c.AuthOptions.TenantID != ""},
				c.imageAPIEndpointRequired(akskHosts(c)),
			}
		},
		authenticator: func(c *Config, opts client.Options) client.Authenticator {
			projectID := c.AuthOptions.TenantID
			return &AKSK{
				AccessKey: c.Auth["ak"], SecretKey: c.Auth["sk"], SecurityToken: c.Auth["security_token"], ProjectID: projectID,
				ComputeEndpoint: expandProjectID(c.ComputeEndpointOverride, projectID),
				ImageEndpoint:   expandProjectID(c.ImageEndpointOverride, projectID),
				Now:             opts.Now,
			}
		},
	},
}

// endpointKey is the clouds.yaml key of the endpoint that the image API reads from.
func (c *Config) endpointKey() string {
	if c.listsCompute() {
		return overrideKey(client.ServiceCompute)
	}
	return overrideKey(client.ServiceImage)
}

// listsCompute reports whether the image API lists the compute service's endpoint.
func (c *Config) listsCompute() bool {
	api, err := client.LookupImageAPI(c.ImageAPI)
	return err == nil && api.Service == client.ServiceCompute
}

// imageAPIEndpointRequired is the requirement of an auth type without a service catalog: the
// endpoint the image API reads from, configured, or built from region_name if the service
// is one of builds.
func (c *Config) imageAPIEndpointRequired(builds []string) required {
	service, endpoint := client.ServiceCompute, c.ComputeEndpointOverride
	if !c.listsCompute() {
		service, endpoint = client.ServiceImage, c.ImageEndpointOverride
	}
	fields := []string{c.endpointKey()}
	if slices.Contains(builds, service) {
		fields = []string{"region_name", c.endpointKey()}
	}
	return required{fields, endpoint != ""}
}

// akskHosts are the services whose hosts AK/SK builds: both, as its signature is
// Huawei's alone.
func akskHosts(*Config) []string { return []string{client.ServiceCompute, client.ServiceImage} }

// tokenHosts are the services whose hosts a pre-issued token builds: IMS's, which only a
// Huawei-stack cloud has; a compute endpoint may be any OpenStack's, and is never guessed.
func tokenHosts(c *Config) []string {
	if c.ImageAPI == client.APIIMS {
		return []string{client.ServiceImage}
	}
	return nil
}

// hasProjectPlaceholder reports whether an endpoint holds a project id placeholder.
func hasProjectPlaceholder(endpoint string) bool {
	return expandProjectID(endpoint, "x") != endpoint
}

// isOwnAuthKey reports whether some auth type of the exporter reads key under auth: and
// gophercloud does not.
func isOwnAuthKey(key string) bool {
	return slices.ContainsFunc(authTypes, func(t authType) bool { return slices.Contains(t.authKeys, key) })
}

// keystone builds the Keystone/IAM authenticator of a password or application credential
// configuration.
func keystone(c *Config, opts client.Options) client.Authenticator {
	k := NewKeystone(c.AuthOptions, c.Endpoint, map[string]string{
		client.ServiceCompute: c.ComputeEndpointOverride, client.ServiceImage: c.ImageEndpointOverride,
	}, opts.HTTPClient)
	k.UserAgent, k.now = opts.UserAgent, opts.Now
	return k
}

// commonVariables maps clouds.yaml keys to the environment variables that stand for them
// when no clouds.yaml entry is chosen, as the OpenStack CLI reads them, for every auth type.
var commonVariables = map[string]string{
	"auth.auth_url":                      "OS_AUTH_URL",
	"auth.username":                      "OS_USERNAME",
	"auth.user_id":                       "OS_USER_ID",
	"auth.password":                      "OS_PASSWORD",
	"auth.user_domain_name":              "OS_USER_DOMAIN_NAME",
	"auth.user_domain_id":                "OS_USER_DOMAIN_ID",
	"auth.project_name":                  "OS_PROJECT_NAME",
	"auth.project_id":                    "OS_PROJECT_ID",
	"auth.project_domain_name":           "OS_PROJECT_DOMAIN_NAME",
	"auth.project_domain_id":             "OS_PROJECT_DOMAIN_ID",
	"auth.application_credential_id":     "OS_APPLICATION_CREDENTIAL_ID",
	"auth.application_credential_name":   "OS_APPLICATION_CREDENTIAL_NAME",
	"auth.application_credential_secret": "OS_APPLICATION_CREDENTIAL_SECRET",
	"auth.token":                         "OS_AUTH_TOKEN",
	"region_name":                        "OS_REGION_NAME",
	"interface":                          "OS_INTERFACE",
	"compute_endpoint_override":          "OS_COMPUTE_ENDPOINT_OVERRIDE",
	"image_endpoint_override":            "OS_IMAGE_ENDPOINT_OVERRIDE",
	"cacert":                             "OS_CACERT",
	"cert":                               "OS_CERT",
	"key":                                "OS_KEY",
	"auth_type":                          "OS_AUTH_TYPE",
}

// lookupAuthType finds the auth type that name (an auth_type value) means.
func lookupAuthType(name string) (*authType, bool) {
	for i := range authTypes {
		t := &authTypes[i]
		if t.name == name || slices.Contains(t.aliases, name) {
			return t, true
		}
	}
	return nil, false
}

// unsupported is the error for an auth_type no entry of authTypes means.
func unsupported(field func(string) string, name string) error {
	names := make([]string, len(authTypes))
	for i, t := range authTypes {
		names[i] = t.name
	}
	return fmt.Errorf("%s %q is not supported (want %s or %s)", field("auth_type"), name,
		strings.Join(names[:len(names)-1], ", "), names[len(names)-1])
}

// variable is the environment variable that stands for key in a configuration of type t
// (nil for none): the type's own, else the common one, else key itself.
func (t *authType) variable(key string) string {
	if t != nil {
		if v, ok := t.variables[key]; ok {
			return v
		}
	}
	if v, ok := commonVariables[key]; ok {
		return v
	}
	return key
}

// readVariables adds to keys, by clouds.yaml key, the environment variables of variables
// that are set and not empty.
func readVariables(keys, variables map[string]string) map[string]string {
	for key, variable := range variables {
		if v := os.Getenv(variable); v != "" {
			keys[key] = v
		}
	}
	return keys
}

// envAuthType chooses the auth type of the environment's cloud: OS_AUTH_TYPE's, else the
// one of lowest envRank whose selecting key the environment sets. It returns the keys read
// for it, and nil keys when the environment configures no cloud. An unknown OS_AUTH_TYPE
// gives a nil type with the common keys, for the check to report.
func envAuthType() (*authType, map[string]string) {
	common := readVariables(map[string]string{}, commonVariables)
	if name := common["auth_type"]; name != "" {
		t, ok := lookupAuthType(name)
		if ok {
			readVariables(common, t.variables)
		}
		return t, common
	}
	var chosen *authType
	var chosenKeys map[string]string
	for i := range authTypes {
		t := &authTypes[i]
		keys := readVariables(maps.Clone(common), t.variables)
		selected := slices.ContainsFunc(t.selectedBy, func(key string) bool { return keys[key] != "" })
		if selected && (chosen == nil || t.envRank < chosen.envRank) {
			chosen, chosenKeys = t, keys
		}
	}
	if chosen != nil {
		chosenKeys["auth_type"] = chosen.name
	}
	return chosen, chosenKeys
}
