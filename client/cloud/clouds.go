package cloud

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/config/clouds"
	"go.yaml.in/yaml/v2"
)

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
