package client

import (
	"cmp"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/config/clouds"
	"go.yaml.in/yaml/v2"
)

// Auth types of clouds.yaml that the exporter accepts.
const (
	AuthPassword = "password"
	AuthToken    = "token"
)

// CloudConfig is one clouds.yaml entry, checked and resolved.
type CloudConfig struct {
	Name     string // the entry's name under clouds:
	File     string // the clouds.yaml it came from
	AuthType string
	// AuthOptions and Endpoint come from gophercloud's clouds.yaml parser, secure.yaml and
	// the OS_REGION_NAME/OS_INTERFACE overrides included.
	AuthOptions             gophercloud.AuthOptions
	Endpoint                gophercloud.EndpointOpts
	ComputeEndpointOverride string
	TLS                     *tls.Config
}

// extraKeys are the keys of a clouds.yaml entry that gophercloud's parser does not return.
type extraKeys struct {
	AuthType                string `yaml:"auth_type"`
	ComputeEndpointOverride string `yaml:"compute_endpoint_override"`
}

// CloudsFile finds clouds.yaml as OpenStack tools do: OS_CLIENT_CONFIG_FILE, else
// ./clouds.yaml, $XDG_CONFIG_HOME/openstack (default ~/.config/openstack), /etc/openstack.
func CloudsFile() (string, error) {
	if path := os.Getenv("OS_CLIENT_CONFIG_FILE"); path != "" {
		return path, nil
	}
	configHome := os.Getenv("XDG_CONFIG_HOME")
	if configHome == "" {
		if home, err := os.UserHomeDir(); err == nil {
			configHome = filepath.Join(home, ".config")
		}
	}
	candidates := []string{"clouds.yaml", filepath.Join(configHome, "openstack", "clouds.yaml"), "/etc/openstack/clouds.yaml"}
	for _, path := range candidates {
		if _, err := os.Stat(path); err == nil {
			return path, nil
		}
	}
	return "", fmt.Errorf("no clouds.yaml found (set OS_CLIENT_CONFIG_FILE, or create one of %s)", strings.Join(candidates, ", "))
}

// LoadCloud reads the entry name of the clouds.yaml at file, with the secure.yaml beside
// it, and checks that it holds everything its auth_type needs. Errors name the file, the
// cloud and the field, never a secret's value.
func LoadCloud(file, name string) (*CloudConfig, error) {
	if name == "" {
		return nil, fmt.Errorf("%s: no cloud chosen (--cloud or OS_CLOUD)", file)
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading clouds.yaml: %w", err)
	}
	var doc struct {
		Clouds map[string]extraKeys `yaml:"clouds"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	extra, ok := doc.Clouds[name]
	if !ok {
		return nil, fmt.Errorf("%s: no cloud %q under clouds: (have %s)", file, name, cloudNames(doc.Clouds))
	}
	authOptions, endpoint, tlsConfig, err := clouds.Parse(clouds.WithCloudName(name), clouds.WithLocations(file))
	if err != nil {
		return nil, fmt.Errorf("%s: cloud %q: %w", file, name, err)
	}
	cfg := &CloudConfig{
		Name:                    name,
		File:                    file,
		AuthType:                extra.AuthType,
		AuthOptions:             authOptions,
		Endpoint:                endpoint,
		ComputeEndpointOverride: extra.ComputeEndpointOverride,
		TLS:                     tlsConfig,
	}
	if err := cfg.check(); err != nil {
		return nil, fmt.Errorf("%s: cloud %q: %w", file, name, err)
	}
	return cfg, nil
}

func cloudNames(m map[string]extraKeys) string {
	if len(m) == 0 {
		return "none"
	}
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, fmt.Sprintf("%q", n))
	}
	return strings.Join(names, ", ")
}

// check reports the first field that the auth type needs and the entry lacks.
func (c *CloudConfig) check() error {
	a := c.AuthOptions
	switch c.AuthType {
	case "", AuthPassword, "v3password":
		c.AuthType = AuthPassword
		return firstMissing(
			required{"auth.auth_url", a.IdentityEndpoint != ""},
			required{"auth.username or auth.user_id", a.Username != "" || a.UserID != ""},
			required{"auth.password", a.Password != ""},
			required{"auth.user_domain_name or auth.user_domain_id", a.UserID != "" || a.DomainName != "" || a.DomainID != ""},
			required{"auth.project_name or auth.project_id", a.TenantName != "" || a.TenantID != ""},
			required{"auth.project_domain_name or auth.project_domain_id",
				a.TenantID != "" || a.Scope != nil && (a.Scope.DomainName != "" || a.Scope.DomainID != "")},
		)
	case AuthToken, "v3token", "admin_token":
		c.AuthType = AuthToken
		return firstMissing(
			required{"auth.token", a.TokenID != ""},
			required{"compute_endpoint_override", c.ComputeEndpointOverride != ""},
		)
	default:
		return fmt.Errorf("auth_type %q is not supported (want %s or %s)", c.AuthType, AuthPassword, AuthToken)
	}
}

type required struct {
	field   string
	present bool
}

func firstMissing(fields ...required) error {
	for _, f := range fields {
		if !f.present {
			return fmt.Errorf("%s is required", f.field)
		}
	}
	return nil
}

// Authenticator returns the authenticator for the entry's auth type, sending its requests
// with httpClient.
func (c *CloudConfig) Authenticator(httpClient *http.Client) (Authenticator, error) {
	switch c.AuthType {
	case AuthPassword:
		return NewKeystone(c.AuthOptions, c.Endpoint, c.ComputeEndpointOverride, httpClient), nil
	case AuthToken:
		return &StaticToken{Token: c.AuthOptions.TokenID, ComputeEndpoint: expandProjectID(c.ComputeEndpointOverride, c.AuthOptions.TenantID)}, nil
	}
	return nil, errors.New("unchecked cloud config")
}

// NewClient builds the cloud's Client: one http.Client with the entry's TLS settings and
// opts.RequestTimeout, shared by authentication and listing.
func (c *CloudConfig) NewClient(opts Options) (*Client, error) {
	if opts.HTTPClient == nil {
		transport := http.DefaultTransport.(*http.Transport).Clone()
		transport.TLSClientConfig = c.TLS
		opts.HTTPClient = NewHTTPClient(cmp.Or(opts.RequestTimeout, DefaultRequestTimeout), transport)
	}
	auth, err := c.Authenticator(opts.HTTPClient)
	if err != nil {
		return nil, err
	}
	return New(auth, opts), nil
}
