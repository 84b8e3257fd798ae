package glance

import (
	"encoding/json"

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/client/paging"
)

// wireImage is the JSON of one Glance image, holding only what Image needs. An image's
// properties are top-level keys beside its fields, so the wanted ones are picked from the
// whole image.
type wireImage struct {
	fields
	properties paging.Picker
	// imsHost says that the page comes from Huawei's IMS host (Client.onIMSHost).
	imsHost bool
}

// fields are the image's fields Image needs; everything else is skipped by the decoder.
type fields struct {
	paging.GlanceFields
	Size paging.Number
	// ImageSize is the size where Glance is served on Huawei's IMS host (Huawei Cloud, Open
	// Telekom Cloud), whose size is "unavailable currently" and sent as 0.
	ImageSize paging.ImageSize
	// Server is the instance_uuid property of a snapshot, ServerOwner its instance_owner.
	Server, ServerOwner property
}

// Reset prepares w for the next image: a field is left untouched both for a missing key and
// for null, so untouched means not sent.
func (w *wireImage) Reset(metadataKeys []string) {
	*w = wireImage{properties: paging.NewPicker(metadataKeys), imsHost: w.imsHost}
}

// UnmarshalJSON decodes the fields and picks the wanted properties from the same bytes:
// the image, which the page decoder has already read whole, is not copied. Only keys that
// name a field exactly are the field: a property "Size" is a property.
func (w *wireImage) UnmarshalJSON(data []byte) error {
	return paging.EachMember(data, func(key, value []byte) error {
		w.properties.Take(key, value)
		if found, err := w.DecodeField(key, value); found {
			return err
		}
		switch string(key) {
		case "size":
			return paging.DecodeNumber("size", value, &w.Size)
		case "instance_uuid":
			return w.Server.UnmarshalJSON(value)
		case "instance_owner":
			return w.ServerOwner.UnmarshalJSON(value)
		case paging.ImageSizeKey:
			if w.imsHost { // elsewhere a property like any other
				return w.ImageSize.UnmarshalJSON(value)
			}
		}
		return nil
	})
}

// Image validates w and converts it; the error names the image and the field at fault,
// without redact's secrets. On Huawei's IMS host the size is __image_size, and an image
// without one (a public image) has no known size: the size key beside it is not the size;
// a virtual_size of 0 there is none.
func (w *wireImage) Image(redact client.Redactor) (client.Image, error) {
	size := paging.Field{Name: "size", Value: w.Size}
	if w.imsHost {
		var err error
		if size, err = w.ImageSize.Field(redact, w.ID); err != nil {
			return client.Image{}, err
		}
		w.VirtualSize = w.VirtualSize.NonZero() // "unavailable currently", 0 in an example
	}
	img, err := w.GlanceFields.Image(redact, size, string(w.Server), w.properties.Values())
	img.ServerOwner = string(w.ServerOwner)
	return img, err
}

// property is an image property read as a string: any other JSON value leaves it empty.
type property string

// UnmarshalJSON keeps a string value and ignores the rest.
func (p *property) UnmarshalJSON(data []byte) error {
	if data[0] != '"' {
		return nil
	}
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	*p = property(s)
	return nil
}
