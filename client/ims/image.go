package ims

import (
	"strings"

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/client/paging"
)

// wireImage is the JSON of one IMS image (ImageInfo in Huawei's SDK), holding only what
// Image needs; the wanted metadata keys are picked from the image's top-level keys.
type wireImage struct {
	paging.GlanceFields
	ImageSize  paging.ImageSize
	DataOrigin string // __data_origin
	Metadata   paging.Picker
}

// Reset prepares w for the next image: a field is left untouched both for a missing key and
// for null, so untouched means not sent.
func (w *wireImage) Reset(metadataKeys []string) {
	*w = wireImage{Metadata: paging.NewPicker(metadataKeys)}
}

// UnmarshalJSON decodes the fields and picks the wanted metadata keys among all the image's
// keys. Only keys that name a field exactly are the field: a property "Status" is a
// property.
func (w *wireImage) UnmarshalJSON(data []byte) error {
	return paging.EachMember(data, func(key, value []byte) error {
		w.Metadata.Take(key, value)
		if found, err := w.DecodeField(key, value); found {
			return err
		}
		switch string(key) {
		case paging.ImageSizeKey:
			return w.ImageSize.UnmarshalJSON(value)
		case "__data_origin":
			return paging.DecodeString("__data_origin", value, &w.DataOrigin)
		}
		return nil
	})
}

// Image validates w and converts it; the error names the image and the field at fault,
// without redact's secrets. IMS's size is __image_size; its size key is an unused 0. Its
// virtual_size is documented as "unavailable currently" (null in the examples): 0 is none,
// and a negative one fails as any negative number does.
func (w *wireImage) Image(redact client.Redactor) (client.Image, error) {
	if err := paging.CheckID(redact, w.ID, string(w.Status)); err != nil {
		return client.Image{}, err
	}
	size, err := w.ImageSize.Field(redact, w.ID)
	if err != nil {
		return client.Image{}, err
	}
	w.VirtualSize = w.VirtualSize.NonZero()
	return w.GlanceFields.Image(redact, size, serverID(w.DataOrigin), w.Metadata.Values())
}

// serverID is the instance an image was made from, by its __data_origin: "instance,<id>"
// for an image of an ECS (other forms: "volume,<id>", "file,<url>", "server_backup,<id>",
// "image,<region>,<id>"; empty for public images). "" for any other origin.
func serverID(dataOrigin string) string {
	id, ok := strings.CutPrefix(dataOrigin, "instance,")
	if !ok {
		return ""
	}
	return strings.TrimSpace(id)
}
