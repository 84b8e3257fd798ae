// Package cloud reads a cloud's configuration (clouds.yaml, secure.yaml, OS_* and
// HUAWEICLOUD_SDK_* variables) and builds its authenticator: Keystone or IAM (password,
// application credential), a pre-issued token, or a Huawei AK/SK signature.
package cloud

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/config/clouds"
	"github.com/nova-image-exporter/nova_image_exporter/client"
	"go.yaml.in/yaml/v2"
)

// EnvCloudName is the name of the cloud configured by environment variables alone.
const EnvCloudName = "env"

// ErrNoEnvCloud says that no environment variable configures a cloud.
var ErrNoEnvCloud = errors.New("no cloud configured: choose a clouds.yaml entry with --cloud or OS_CLOUD, or set OS_AUTH_URL (Keystone), OS_AUTH_TOKEN with OS_COMPUTE_ENDPOINT_OVERRIDE, or HUAWEICLOUD_SDK_AK (Huawei AK/SK)")

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
	// ImageEndpointOverride is the Glance or IMS endpoint instead of the catalog's; for IMS
	// without one, https://ims.{region_name}.myhuaweicloud.com.
	ImageEndpointOverride string
	// EnterpriseProjectID is Huawei IMS's enterprise_project_id filter; empty for none.
	EnterpriseProjectID string
	// ImageQuota is clouds.yaml's image_quota: false turns the quota metrics off for the
	// cloud; nil leaves them to --images.quota (on where the image API reports quotas).
	ImageQuota *bool
	TLS        *tls.Config
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

// entry holds the keys of a clouds.yaml entry that gophercloud's parser does not return.
type entry struct {
	AuthType                string `yaml:"auth_type"`
	RegionName              string `yaml:"region_name"`
	ComputeEndpointOverride string `yaml:"compute_endpoint_override"`
	ImageAPI                string `yaml:"image_api"`
	ImageEndpointOverride   string `yaml:"image_endpoint_override"`
	EnterpriseProjectID     string `yaml:"enterprise_project_id"`
	ImageQuota              *bool  `yaml:"image_quota"`
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
	if e.ImageQuota == nil {
		e.ImageQuota = other.ImageQuota
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
func LoadCloud(file, name string) (*Config, error) {
	if name == "" {
		return nil, fmt.Errorf("%s: no cloud chosen (--cloud or OS_CLOUD)", file)
	}
	clouds, err := ReadClouds(file, nil)
	if err != nil {
		return nil, err
	}
	return clouds.Load(name)
}

// Clouds are the entries of a clouds.yaml and of the secure.yaml beside it, each file read
// once: every cloud of one load comes from the same version of both files.
type Clouds struct {
	File       string // the clouds.yaml
	secureFile string
	// DefaultImageAPI is the image API of entries without image_api (--images.api); empty
	// for nova.
	DefaultImageAPI string
	entries         map[string]any // under clouds: of File, each as generic YAML
	secure          map[string]any // under clouds: of secureFile; nil without one
	// mistakes are, by cloud, the first key given twice or of the wrong type of its entry
	// in File, else in secureFile.
	mistakes map[string]error
}

// ReadClouds reads the clouds.yaml at file and the secure.yaml beside it, if any, with
// readFile (nil for os.ReadFile), once each.
func ReadClouds(file string, readFile func(name string) ([]byte, error)) (*Clouds, error) {
	if readFile == nil {
		readFile = os.ReadFile
	}
	entries, nodes, err := readEntries(file, readFile)
	if err != nil {
		return nil, err
	}
	secureFile := filepath.Join(filepath.Dir(file), "secure.yaml")
	secure, secureNodes, err := readEntries(secureFile, readFile)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	mistakes := checkEntries(nodes, secureNodes)
	return &Clouds{File: file, secureFile: secureFile, entries: entries, secure: secure, mistakes: mistakes}, nil
}

// regionPattern is what a region name that goes into a host name may be.
var regionPattern = regexp.MustCompile(`^[A-Za-z0-9-]{1,63}$`)

// Names lists the entries under clouds:, sorted.
func (c *Clouds) Names() []string {
	return slices.Sorted(maps.Keys(c.entries))
}

// Load checks the entry name, merged with its secure.yaml part, and resolves it. Errors
// name the file, the cloud and the field, never a secret's value.
func (c *Clouds) Load(name string) (*Config, error) {
	file, secureFile := c.File, c.secureFile
	raw, ok := c.entries[name]
	if !ok {
		return nil, fmt.Errorf("%s: no cloud %q under clouds: (have %s)", file, name, QuotedNames(c.Names()))
	}
	if err := c.mistakes[name]; err != nil {
		return nil, err
	}
	secureRaw := c.secure[name]
	// Each entry is decoded on its own: a mistake in one is that cloud's error only.
	var e, secure entry
	if err := decodeEntry(raw, &e); err != nil {
		return nil, fmt.Errorf("%s: cloud %q: %w", file, name, err)
	}
	if err := decodeEntry(secureRaw, &secure); err != nil {
		return nil, fmt.Errorf("%s: cloud %q: %w", secureFile, name, err)
	}
	e.merge(secure)
	if !e.hasAuth {
		return nil, fmt.Errorf("%s: cloud %q: auth: is required", file, name)
	}
	// The files' digests are taken before gophercloud reads the files: a file rotated in
	// between gives an old digest with the new content, which the next reload sees as a
	// change; the other way round, the new content would never be loaded.
	tlsDigests := tlsFileDigests(e.TLSFiles, secure.TLSFiles)
	authOptions, endpoint, tlsConfig, err := parseClouds(clouds.WithCloudName(name),
		clouds.WithCloudsYAML(singleEntry(name, raw)), clouds.WithSecureYAML(singleEntry(name, secureRaw)))
	if err != nil {
		return nil, fmt.Errorf("%s: cloud %q: %s", file, name, redactYAMLError(err))
	}
	cfg := newCloudConfig(name, file, e, authOptions, endpoint, tlsConfig, c.DefaultImageAPI)
	if err := cfg.check(yamlField); err != nil {
		return nil, fmt.Errorf("%s: cloud %q: %w", file, name, err)
	}
	cfg.Fingerprint = fingerprint(raw, secureRaw, tlsDigests)
	return cfg, nil
}

// readEntries reads the entries under clouds: of file, each as generic YAML and as
// parsed nodes, which know their lines.
func readEntries(file string, readFile func(string) ([]byte, error)) (map[string]any, entryNodes, error) {
	raw, err := readFile(file)
	if err != nil {
		return nil, entryNodes{}, fmt.Errorf("reading clouds configuration: %w", err)
	}
	var doc struct {
		Clouds map[string]any `yaml:"clouds"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, entryNodes{}, fmt.Errorf("%s: %s", file, redactYAMLError(err))
	}
	return doc.Clouds, parseEntryNodes(file, raw), nil
}

// decodeEntry decodes one entry's generic YAML into e; nil leaves e empty.
func decodeEntry(raw any, e any) error {
	if raw == nil {
		return nil
	}
	b, err := yaml.Marshal(raw)
	if err != nil {
		return errors.New("unreadable entry")
	}
	if err := yaml.Unmarshal(b, e); err != nil {
		return errors.New(redactYAMLError(err))
	}
	return nil
}

// singleEntry is a clouds.yaml holding only the entry name, for gophercloud's parser,
// which would otherwise fail on a mistake in any other entry.
func singleEntry(name string, raw any) io.Reader {
	clouds := map[string]any{}
	if raw != nil {
		clouds[name] = raw
	}
	b, _ := yaml.Marshal(map[string]any{"clouds": clouds})
	return bytes.NewReader(b)
}

// maxListedNames bounds the cloud names an error lists.
const maxListedNames = 20

// QuotedNames lists names quoted, the first 20 and how many more: "none" for none.
func QuotedNames(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	shown := make([]string, 0, min(len(names), maxListedNames)+1)
	for _, n := range names[:min(len(names), maxListedNames)] {
		shown = append(shown, strconv.Quote(n))
	}
	if more := len(names) - maxListedNames; more > 0 {
		shown = append(shown, fmt.Sprintf("and %d more", more))
	}
	return strings.Join(shown, ", ")
}

// TLSFiles are the paths of the CA bundle, client certificate and client key that a
// clouds.yaml entry names.
type TLSFiles struct {
	CACert string `yaml:"cacert"`
	Cert   string `yaml:"cert"`
	Key    string `yaml:"key"`
}

// tlsFileDigests are the SHA-256 digests of the files that sets name, and of those that
// OS_CACERT, OS_CERT and OS_KEY name (gophercloud prefers them), for the fingerprint: a
// rotated certificate is a changed configuration. A file that cannot be read has its
// error instead (the configuration then fails to load anyway).
func tlsFileDigests(sets ...TLSFiles) []string {
	paths := []string{os.Getenv("OS_CACERT"), os.Getenv("OS_CERT"), os.Getenv("OS_KEY")}
	for _, s := range sets {
		paths = append(paths, s.CACert, s.Cert, s.Key)
	}
	digests := make([]string, len(paths))
	for i, path := range paths {
		if path == "" {
			continue
		}
		content, err := os.ReadFile(expandHome(path))
		if err != nil {
			digests[i] = err.Error()
			continue
		}
		sum := sha256.Sum256(content)
		digests[i] = hex.EncodeToString(sum[:])
	}
	return digests
}

// expandHome resolves a leading ~/ as gophercloud does for these paths.
func expandHome(path string) string {
	if rest, ok := strings.CutPrefix(path, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, rest)
		}
	}
	return path
}

func fingerprint(parts ...any) string {
	h := sha256.New()
	for _, p := range parts {
		b, _ := yaml.Marshal(p)
		h.Write(b)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// parseClouds is gophercloud's clouds.yaml parser, which dereferences parts of an entry
// without checking them: a panic on odd input becomes an error.
func parseClouds(opts ...clouds.ParseOption) (ao gophercloud.AuthOptions, eo gophercloud.EndpointOpts, tlsConfig *tls.Config, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("unreadable entry (%v)", r)
		}
	}()
	return clouds.Parse(opts...)
}

// yamlErrorEntry starts each error of a YAML error list ("\n  line 3: cannot unmarshal
// !!str `value` into int"). A quoted value is at most 10 bytes, too short to hold this.
var yamlErrorEntry = regexp.MustCompile(`\n\s*line \d+: `)

// redactYAMLError keeps the line and what was wrong of a YAML error, not the value it
// quotes between backticks: it may be a password, and may hold backticks itself.
func redactYAMLError(err error) string {
	msg := err.Error()
	var b strings.Builder
	start := 0
	for _, entry := range yamlErrorEntry.FindAllStringIndex(msg, -1) {
		b.WriteString(redactQuoted(msg[start:entry[0]]))
		b.WriteString(msg[entry[0]:entry[1]])
		start = entry[1]
	}
	b.WriteString(redactQuoted(msg[start:]))
	return b.String()
}

// redactQuoted replaces everything from the first backtick of s to its last.
func redactQuoted(s string) string {
	first, last := strings.IndexByte(s, '`'), strings.LastIndexByte(s, '`')
	if first < 0 {
		return s
	}
	if first == last {
		return s[:first] + "a value"
	}
	return s[:first] + "a value" + s[last+1:]
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
		TLS:                     tlsConfig,
		Auth:                    maps.Clone(e.Auth),
	}
	if t, ok := lookupAuthType(cfg.AuthType); ok {
		cfg.AuthType = t.name
		if t.resolve != nil {
			t.resolve(cfg, e)
		}
	}
	region := cmp.Or(e.RegionName, endpoint.Region)
	if cfg.ImageAPI == client.APIIMS && cfg.ImageEndpointOverride == "" && region != "" {
		cfg.ImageEndpointOverride = "https://ims." + region + ".myhuaweicloud.com"
		cfg.hostRegion = region
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
	if c.hostRegion != "" && !regionPattern.MatchString(c.hostRegion) {
		return fmt.Errorf("%s %s: want letters, digits and dashes (it names the endpoint's host, e.g. cn-north-4)",
			field("region_name"), client.QuoteTruncated(c.hostRegion, 64))
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

// LoadEnvCloud builds the cloud configuration from environment variables alone, for when
// no clouds.yaml entry is chosen: HUAWEICLOUD_SDK_AK (AK/SK), else
// OS_APPLICATION_CREDENTIAL_ID/NAME, else OS_AUTH_TOKEN, else OS_AUTH_URL (password).
func LoadEnvCloud(defaultImageAPI string) (*Config, error) {
	authType, keys := envAuthType()
	if keys == nil {
		return nil, ErrNoEnvCloud
	}
	doc, err := yaml.Marshal(map[string]any{"clouds": map[string]any{EnvCloudName: nest(keys)}})
	if err != nil {
		return nil, err
	}
	var parsed struct {
		Clouds map[string]entry `yaml:"clouds"`
	}
	if err := yaml.Unmarshal(doc, &parsed); err != nil {
		return nil, err
	}
	authOptions, endpoint, tlsConfig, err := parseClouds(clouds.WithCloudName(EnvCloudName), clouds.WithCloudsYAML(bytes.NewReader(doc)))
	if err != nil {
		return nil, fmt.Errorf("environment: %w", err)
	}
	cfg := newCloudConfig(EnvCloudName, "environment", parsed.Clouds[EnvCloudName], authOptions, endpoint, tlsConfig, defaultImageAPI)
	if err := cfg.check(authType.variable); err != nil {
		return nil, fmt.Errorf("environment (no --cloud/OS_CLOUD): %w", err)
	}
	cfg.Fingerprint = fingerprint(keys, tlsFileDigests(parsed.Clouds[EnvCloudName].TLSFiles))
	return cfg, nil
}

// nest turns dotted keys ("auth.username") into the nested maps of a clouds.yaml entry.
func nest(keys map[string]string) map[string]any {
	out := map[string]any{}
	auth := map[string]any{}
	for k, v := range keys {
		if inner, ok := strings.CutPrefix(k, "auth."); ok {
			auth[inner] = v
		} else {
			out[k] = v
		}
	}
	out["auth"] = auth
	return out
}
