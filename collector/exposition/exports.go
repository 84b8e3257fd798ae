package exposition

import (
	"fmt"
	"slices"
	"strings"

	"github.com/nova-image-exporter/nova_image_exporter/client"
)

// ImageExports decide what is exported per image: which metadata become labels of
// nova_image_info, and which images get per-image series at all. nova_images{status} counts
// every listed image whatever they say.
type ImageExports struct {
	perImage bool
	labels   []string         // metadata keys exported as labels, in flag order
	filters  []metadataFilter // an image gets per-image series only if it matches them all
	policy   []fieldFilter    // and if its status, owner and visibility pass these
	keys     []string         // labels then filter keys, each once: client.Options.MetadataKeys
	info     *family          // nova_image_info, with a label per metadata key
	key      string           // which images get per-image series (Key)
}

// metadataFilter is KEY=VALUE or KEY!=VALUE; an absent key has the value "".
type metadataFilter struct {
	key, value string
	negate     bool
}

// DefaultImageExports exports per-image series for every image and the image_type label.
func DefaultImageExports() *ImageExports {
	e, err := NewImageExports(true, []string{"image_type"}, nil, PerImagePolicy{})
	if err != nil {
		panic(err) // the defaults are valid
	}
	return e
}

// NewImageExports checks the metadata labels (e.g. image_type, __imagetype), the per-image
// filters on metadata (e.g. __imagetype!=gold, visibility=private) and the per-image policy.
func NewImageExports(perImage bool, labels, filters []string, policy PerImagePolicy) (*ImageExports, error) {
	e := &ImageExports{perImage: perImage}
	names := map[string]string{}
	for _, key := range labels {
		if key == "" {
			continue // --images.metadata-label= turns the default off
		}
		name := MetadataLabelName(key)
		if other, clash := names[name]; clash {
			return nil, fmt.Errorf("--images.metadata-label: %q and %q both become label %s", other, key, name)
		}
		names[name] = key
		e.labels = append(e.labels, key)
		e.addKey(key)
	}
	for _, expr := range filters {
		f, err := parseMetadataFilter(expr)
		if err != nil {
			return nil, err
		}
		e.addKey(f.key)
		e.filters = append(e.filters, f)
	}
	var err error
	if e.policy, err = policy.parse(); err != nil {
		return nil, err
	}
	e.key = exportsKey(perImage, filters, e.policy)
	infoLabels := []string{"id", "name", "server_id", "api_status", "visibility", "owner"}
	for _, key := range e.labels {
		infoLabels = append(infoLabels, MetadataLabelName(key))
	}
	e.info = newGauge("image", "info",
		"Always 1; server_id is the instance a snapshot was taken from, empty for other images; api_status is the status as the image API sent it (Glance's importing, which Nova calls UNKNOWN); visibility is public, private, shared or community, empty where the API has none (nova); owner is the id of the project that owns the image, empty where the API sends none (nova); metadata_* labels hold the image's metadata values (--images.metadata-label), empty when absent.",
		infoLabels...)
	return e, nil
}

func (e *ImageExports) addKey(key string) {
	if !slices.Contains(e.keys, key) {
		e.keys = append(e.keys, key)
	}
}

// MetadataKeys are the metadata keys the client must decode.
func (e *ImageExports) MetadataKeys() []string { return e.keys }

// MetadataLabelName turns a metadata key into a label name: metadata_ and the key with
// every character that a label name cannot hold replaced by _.
func MetadataLabelName(key string) string {
	var b strings.Builder
	b.WriteString("metadata_")
	for _, r := range key {
		if r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

func parseMetadataFilter(expr string) (metadataFilter, error) {
	f := metadataFilter{}
	if key, value, found := strings.Cut(expr, "!="); found {
		f.key, f.value, f.negate = key, value, true
	} else if key, value, found := strings.Cut(expr, "="); found {
		f.key, f.value = key, value
	} else {
		return f, fmt.Errorf("--images.per-image-filter %q: want KEY=VALUE or KEY!=VALUE", expr)
	}
	if f.key = strings.TrimSpace(f.key); f.key == "" {
		return f, fmt.Errorf("--images.per-image-filter %q: empty metadata key", expr)
	}
	return f, nil
}

// Exports reports whether img gets per-image series; nil exports every image.
func (e *ImageExports) Exports(img *client.Image) bool {
	if e == nil {
		return true
	}
	if !e.perImage {
		return false
	}
	for _, f := range e.filters {
		if (img.Metadata.Get(f.key) == f.value) == f.negate {
			return false
		}
	}
	for _, f := range e.policy {
		if !f.passes(img) {
			return false
		}
	}
	return true
}

// Key says which images get per-image series: two exports with the same key keep the same
// images of a listing, whatever labels they export. nil's is that of every image.
func (e *ImageExports) Key() string {
	if e == nil {
		return exportsKey(true, nil, nil)
	}
	return e.key
}

func exportsKey(perImage bool, filters []string, policy []fieldFilter) string {
	return fmt.Sprintf("per-image=%t filters=%q policy=%q", perImage, filters, policy)
}

// infoLabelValues are the values of nova_image_info's labels after id and name.
func (e *ImageExports) infoLabelValues(img *client.Image) []string {
	const fixed = 4 // server_id, api_status, visibility, owner
	values := make([]string, fixed+len(e.labels))
	values[0], values[1], values[2], values[3] = img.ServerID, img.APIStatus, img.Visibility, img.Owner
	for i, key := range e.labels {
		values[fixed+i] = img.Metadata.Get(key)
	}
	return values
}
