package ims

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/client/paging"
)

// wireImage is the JSON of one IMS image (ImageInfo in Huawei's SDK), holding only what
// Image needs; the wanted metadata keys are picked from the image's top-level keys.
type wireImage struct {
	ID          string        `json:"id"`
	Status      paging.Status `json:"status"`
	Name        string        `json:"name"`
	Visibility  string        `json:"visibility"`
	ImageSize   byteCount     `json:"__image_size"`
	VirtualSize int64         `json:"virtual_size"`
	MinDisk     int64         `json:"min_disk"`
	MinRAM      int64         `json:"min_ram"`
	Created     paging.Time   `json:"created_at"`
	Updated     paging.Time   `json:"updated_at"`
	DataOrigin  string        `json:"__data_origin"`
	Metadata    paging.Picker `json:"-"`
}

// Reset prepares w for the next image: encoding/json leaves a field untouched both for a
// missing key and for null, so untouched means Absent.
func (w *wireImage) Reset(metadataKeys []string) {
	*w = wireImage{
		ImageSize: byteCount{value: client.Absent}, VirtualSize: client.Absent, MinDisk: client.Absent, MinRAM: client.Absent,
		Created: paging.AbsentTime, Updated: paging.AbsentTime,
		Metadata: paging.NewPicker(metadataKeys),
	}
}

// UnmarshalJSON decodes the fields, then picks the wanted metadata keys among all the
// image's keys.
func (w *wireImage) UnmarshalJSON(data []byte) error {
	type fields wireImage // without this method
	if err := json.Unmarshal(data, (*fields)(w)); err != nil {
		return err
	}
	return w.Metadata.UnmarshalJSON(data)
}

// Image validates w and converts it; the error names the image and the field at fault.
func (w *wireImage) Image() (client.Image, error) {
	if err := paging.CheckID(w.ID, string(w.Status)); err != nil {
		return client.Image{}, err
	}
	if w.ImageSize.unreadable != "" {
		return client.Image{}, fmt.Errorf("image %s: __image_size is not a number of bytes: %q",
			client.Sanitize(w.ID, 64), client.Shorten(w.ImageSize.unreadable, 64))
	}
	err := paging.CheckFields(w.ID,
		paging.Field{Name: "__image_size", Value: w.ImageSize.value, Max: paging.MaxSizeBytes},
		paging.Field{Name: "virtual_size", Value: w.VirtualSize, Max: paging.MaxSizeBytes},
		paging.Field{Name: "min_disk", Value: w.MinDisk, Max: paging.MaxMinDiskGiB},
		paging.Field{Name: "min_ram", Value: w.MinRAM, Max: paging.MaxMinRAMMiB})
	if err != nil {
		return client.Image{}, err
	}
	status, progress := paging.NovaStatus(string(w.Status))
	return client.Image{
		ID: w.ID, ServerID: client.CutLabel(serverID(w.DataOrigin), client.MaxIDBytes),
		Name:      client.CutLabel(w.Name, client.MaxLabelBytes),
		Status:    status,
		APIStatus: client.CutLabel(string(w.Status), client.MaxStatusBytes),
		// Visibility is cut at the status bound, 64 bytes, as the contract says.
		Visibility: client.CutLabel(w.Visibility, client.MaxStatusBytes),
		Size:       w.ImageSize.value, VirtualSize: w.VirtualSize, MinDisk: w.MinDisk, MinRAM: w.MinRAM, Progress: progress,
		Created: w.Created.Millis(), Updated: w.Updated.Millis(),
		Metadata: w.Metadata.Values(),
		// An unreadable time costs only its own sample, not the whole listing.
		Problems: paging.TimeProblems(paging.NamedTime{Name: "created_at", Time: w.Created}, paging.NamedTime{Name: "updated_at", Time: w.Updated}),
	}, nil
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

// byteCount is __image_size: a string of decimal bytes as IMS documents it, or a number;
// an empty string or null is Absent, anything else is kept as unreadable.
type byteCount struct {
	value      int64
	unreadable string
}

// UnmarshalJSON reads the count; null leaves it Absent.
func (b *byteCount) UnmarshalJSON(data []byte) error {
	text := string(data)
	switch {
	case text == "null":
		return nil
	case data[0] == '"':
		if err := json.Unmarshal(data, &text); err != nil {
			return err
		}
		if text == "" {
			return nil
		}
	}
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		b.unreadable = text
		return nil
	}
	b.value = n
	return nil
}
