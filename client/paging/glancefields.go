package paging

import "github.com/nova-image-exporter/nova_image_exporter/client"

// GlanceFields are the fields of an image that Glance v2 and Huawei IMS (whose images are
// Glance's, with more keys) share by name and meaning; each API adds its size and server.
// Embedded in an API's image type, encoding/json decodes them as top-level keys.
type GlanceFields struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Status      Status `json:"status"`
	Visibility  string `json:"visibility"`
	VirtualSize int64  `json:"virtual_size"`
	MinDisk     int64  `json:"min_disk"`
	MinRAM      int64  `json:"min_ram"`
	Created     Time   `json:"created_at"`
	Updated     Time   `json:"updated_at"`
}

// AbsentGlanceFields are GlanceFields before decoding: encoding/json leaves a field
// untouched both for a missing key and for null, so untouched means Absent.
var AbsentGlanceFields = GlanceFields{
	VirtualSize: client.Absent, MinDisk: client.Absent, MinRAM: client.Absent, Created: AbsentTime, Updated: AbsentTime,
}

// Image validates the fields with size (the API's own size field) and converts them, with
// the server id and metadata the API found; the error names the image and the field at
// fault. Status and progress are Nova's, as its images proxy derives them; APIStatus is
// the status as sent.
func (f *GlanceFields) Image(size Field, serverID string, metadata client.Metadata) (client.Image, error) {
	if err := CheckID(f.ID, string(f.Status)); err != nil {
		return client.Image{}, err
	}
	size.Max = MaxSizeBytes
	err := CheckFields(f.ID, size,
		Field{Name: "virtual_size", Value: f.VirtualSize, Max: MaxSizeBytes},
		Field{Name: "min_disk", Value: f.MinDisk, Max: MaxMinDiskGiB},
		Field{Name: "min_ram", Value: f.MinRAM, Max: MaxMinRAMMiB})
	if err != nil {
		return client.Image{}, err
	}
	status, progress := NovaStatus(string(f.Status))
	return client.Image{
		ID: f.ID, ServerID: client.CutLabel(serverID, client.MaxIDBytes),
		Name:       client.CutLabel(f.Name, client.MaxLabelBytes),
		Status:     status,
		APIStatus:  client.CutLabel(string(f.Status), client.MaxStatusBytes),
		Visibility: client.CutLabel(f.Visibility, client.MaxStatusBytes),
		Size:       size.Value, VirtualSize: f.VirtualSize, MinDisk: f.MinDisk, MinRAM: f.MinRAM, Progress: progress,
		Created: f.Created.Millis(), Updated: f.Updated.Millis(),
		Metadata: metadata,
		// An unreadable time costs only its own sample, not the whole listing.
		Problems: TimeProblems(NamedTime{Name: "created_at", Time: f.Created}, NamedTime{Name: "updated_at", Time: f.Updated}),
	}, nil
}
