package targets

import (
	"fmt"
	"strings"
	"testing"

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/client/cloud"
	"github.com/nova-image-exporter/nova_image_exporter/collector"
)

// The registry of image APIs (client.ImageAPIs), the check of clouds.yaml's image_api and
// the clients built here agree: every API of the registry loads and is built as itself,
// reporting quotas exactly where the registry says so; there is no client the registry
// lacks; a name the registry lacks is refused by the check.
func TestEveryImageAPIHasItsClient(t *testing.T) {
	apis := client.ImageAPIs()
	if len(imageAPIClients) != len(apis) {
		t.Errorf("%d clients for the %d image APIs %v", len(imageAPIClients), len(apis), client.ImageAPINames(nil))
	}
	content := "clouds:\n"
	for _, api := range apis {
		content += tokenEntry(api.Name, fmt.Sprintf("    image_api: %s\n    image_endpoint_override: http://127.0.0.1:1/image\n", api.Name))
	}
	content += tokenEntry("unknown", "    image_api: cinder\n")
	built := map[string]client.ImageAPI{}
	set, _, _, _ := setWithoutDefault(t, content, Options{Build: func(cfg *cloud.Config) (collector.Target, error) {
		source, err := NewSource(cfg, client.Options{})
		built[cfg.Name] = source
		return collector.Target{Cloud: cfg.Name, API: source}, err
	}})
	for _, api := range apis {
		source := built[api.Name]
		if source == nil {
			t.Errorf("image_api %s: not built", api.Name)
			continue
		}
		if source.API() != api.Name {
			t.Errorf("image_api %s: built a client of %s", api.Name, source.API())
		}
		if _, quotas := source.(client.QuotaSource); quotas != api.Quotas {
			t.Errorf("image_api %s: client reports quotas %t, the registry says %t", api.Name, quotas, api.Quotas)
		}
	}
	if _, err := set.Get("unknown"); err == nil || !strings.Contains(err.Error(), `image_api "cinder" is not supported (want `+strings.Join(client.ImageAPINames(nil), ", ")+")") {
		t.Errorf("image_api cinder: %v", err)
	}
}
