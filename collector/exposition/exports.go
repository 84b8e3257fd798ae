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
	keys     []string         // labels then filter keys, each once: client.Options.MetadataKeys
	info     *family          // nova_image_info, with a label per metadata key
}

// metadataFilter is KEY=VALUE or KEY!=VALUE; an absent key has the value "".
type metadataFilter struct {
	key, value string
	negate     bool
}

// DefaultImageExports exports per-image series for every image and the image_type label.
func DefaultImageExports() *ImageExports {
	e, err := NewImageExports(true, []string{"image_type"}, nil)
	if err != nil {
		panic(err) // the defaults are valid
	}
	return e
}

// NewImageExports checks the metadata labels (e.g. image_type, __imagetype) and the
// per-image filters (e.g. __imagetype!=gold, visibility=private).
func NewImageExports(perImage bool, labels, filters []string) (*ImageExports, error) {
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

// exportsImage reports whether the image with these metadata values gets per-image series.
func (e *ImageExports) exportsImage(metadata client.Metadata) bool {
	if !e.perImage {
		return false
	}
	for _, f := range e.filters {
		if (metadata.Get(f.key) == f.value) == f.negate {
			return false
		}
	}
	return true
}

// exported keeps, in place, the images that get per-image series, in the order listed.
func (e *ImageExports) exported(images []*client.Image) []*client.Image {
	kept := images[:0]
	for _, img := range images {
		if e.exportsImage(img.Metadata) {
			kept = append(kept, img)
		}
	}
	return kept
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
