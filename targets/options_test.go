package targets

import (
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/client/cloud"
	"github.com/nova-image-exporter/nova_image_exporter/collector"
)

// newSourceSet loads content with targets built by NewSource, and defaults as the flags.
func newSourceSet(t *testing.T, content string, defaults url.Values) (*Set, error) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "clouds.yaml")
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	selection, err := client.ParseSelection(client.Selection{}, defaults)
	if err != nil {
		t.Fatal(err)
	}
	return New(Options{
		File: file, Defaults: selection,
		Build: func(cfg *cloud.Config) (collector.Target, error) {
			source, err := NewSource(cfg, client.Options{})
			if err != nil {
				return collector.Target{}, err
			}
			return collector.Target{Cloud: cfg.Name, API: source}, nil
		},
	})
}

// An option the cloud's image API cannot express is refused, never silently dropped: a
// flag stops the start, a /probe parameter answers 400 (an error of the resolver).
func TestOptionsAnAPICannotExpressAreRefused(t *testing.T) {
	if _, err := newSourceSet(t, entries, url.Values{"imagetype": {"private"}}); err == nil ||
		!strings.Contains(err.Error(), `cloud "a": --images.imagetype: the nova image API has no such filter`) {
		t.Errorf("start with --images.imagetype on a nova cloud: error %v", err)
	}
	set, err := newSourceSet(t, entries, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = set.ResolveProbe(httptest.NewRequest("GET", "/probe?cloud=a&imagetype=gold", nil))
	if err == nil || !strings.Contains(err.Error(), "imagetype: the nova image API has no such filter (image_api nova)") {
		t.Errorf("/probe?imagetype=gold on a nova cloud: error %v", err)
	}
	if _, _, err := set.ResolveProbe(httptest.NewRequest("GET", "/probe?cloud=a&type=snapshot", nil)); err != nil {
		t.Errorf("/probe?type=snapshot on a nova cloud: %v", err)
	}
}
