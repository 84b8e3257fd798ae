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
}

// fields are the image's fields Image needs; everything else is skipped by the decoder.
type fields struct {
	ID          string        `json:"id"`
	Name        string        `json:"name"`
	Status      paging.Status `json:"status"`
	Visibility  string        `json:"visibility"`
	Size        int64         `json:"size"`
	VirtualSize int64         `json:"virtual_size"`
	MinDisk     int64         `json:"min_disk"`
	MinRAM      int64         `json:"min_ram"`
	Created     paging.Time   `json:"created_at"`
	Updated     paging.Time   `json:"updated_at"`
	// Server is the instance_uuid property of a snapshot.
	Server property `json:"instance_uuid"`
}

// Reset prepares w for the next image: encoding/json leaves a field untouched both for a
// missing key and for null, so untouched means Absent.
func (w *wireImage) Reset(metadataKeys []string) {
	*w = wireImage{
		fields: fields{
			Size: client.Absent, VirtualSize: client.Absent, MinDisk: client.Absent, MinRAM: client.Absent,
			Created: paging.AbsentTime, Updated: paging.AbsentTime,
		},
		properties: paging.NewPicker(metadataKeys),
	}
}

// UnmarshalJSON decodes the fields and picks the wanted properties from the same bytes:
// the image, which the page decoder has already read whole, is not copied.
func (w *wireImage) UnmarshalJSON(data []byte) error {
	if err := json.Unmarshal(data, &w.fields); err != nil {
		return err
	}
	return w.properties.UnmarshalJSON(data)
}

// Image validates w and converts it; the error names the image and the field at fault.
func (w *wireImage) Image() (client.Image, error) {
	if err := paging.CheckID(w.ID, string(w.Status)); err != nil {
		return client.Image{}, err
	}
	err := paging.CheckFields(w.ID,
		paging.Field{Name: "size", Value: w.Size, Max: paging.MaxSizeBytes},
		paging.Field{Name: "virtual_size", Value: w.VirtualSize, Max: paging.MaxSizeBytes},
		paging.Field{Name: "min_disk", Value: w.MinDisk, Max: paging.MaxMinDiskGiB},
		paging.Field{Name: "min_ram", Value: w.MinRAM, Max: paging.MaxMinRAMMiB})
	if err != nil {
		return client.Image{}, err
	}
	status, progress := paging.NovaStatus(string(w.Status))
	return client.Image{
		ID: w.ID, ServerID: client.CutLabel(string(w.Server), client.MaxIDBytes),
		Name:       client.CutLabel(w.Name, client.MaxLabelBytes),
		Status:     status,
		APIStatus:  client.CutLabel(string(w.Status), client.MaxStatusBytes),
		Visibility: client.CutLabel(w.Visibility, client.MaxStatusBytes),
		Size:       w.Size, VirtualSize: w.VirtualSize, MinDisk: w.MinDisk, MinRAM: w.MinRAM, Progress: progress,
		Created: w.Created.Millis(), Updated: w.Updated.Millis(),
		Metadata: w.properties.Values(),
		// An unreadable time costs only its own sample, not the whole listing.
		Problems: paging.TimeProblems(paging.NamedTime{Name: "created_at", Time: w.Created}, paging.NamedTime{Name: "updated_at", Time: w.Updated}),
	}, nil
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
