package paging

import "github.com/nova-image-exporter/nova_image_exporter/client"

// GlanceFields are the fields of an image that Glance v2 and Huawei IMS (whose images are
// Glance's, with more keys) share by name and meaning; each API adds its size and server.
// DecodeField decodes them from an image's top-level keys.
type GlanceFields struct {
	ID, Name, Visibility, Owner  string
	Status                       Status
	VirtualSize, MinDisk, MinRAM Number
	Created, Updated             Time
}

// DecodeField decodes value into the field named exactly key (as EachMember gives it); it
// reports whether key names one. null leaves the field as it is.
func (f *GlanceFields) DecodeField(key, value []byte) (bool, error) {
	var err error
	switch string(key) {
	case "id":
		err = DecodeString("id", value, &f.ID)
	case "name":
		err = DecodeString("name", value, &f.Name)
	case "status":
		err = f.Status.UnmarshalJSON(value)
	case "visibility":
		err = DecodeString("visibility", value, &f.Visibility)
	case "owner":
		err = DecodeString("owner", value, &f.Owner)
	case "virtual_size":
		err = DecodeNumber("virtual_size", value, &f.VirtualSize)
	case "min_disk":
		err = DecodeNumber("min_disk", value, &f.MinDisk)
	case "min_ram":
		err = DecodeNumber("min_ram", value, &f.MinRAM)
	case "created_at":
		err = f.Created.UnmarshalJSON(value)
	case "updated_at":
		err = f.Updated.UnmarshalJSON(value)
	default:
		return false, nil
	}
	return true, err
}

// Image validates the fields with size (the API's own size field) and converts them, with
// the server id and metadata the API found; the error names the image and the field at
// fault, without redact's secrets. Status and progress are Nova's, as its images proxy
// derives them; APIStatus is the status as sent.
func (f *GlanceFields) Image(redact client.Redactor, size Field, serverID string, metadata client.Metadata) (client.Image, error) {
	if err := CheckID(redact, f.ID, string(f.Status)); err != nil {
		return client.Image{}, err
	}
	size.Max, size.Of = MaxSizeBytes, client.FieldSize
	missing, err := CheckFields(redact, f.ID, size,
		Field{Name: "virtual_size", Value: f.VirtualSize, Max: MaxSizeBytes, Of: client.FieldVirtualSize},
		Field{Name: "min_disk", Value: f.MinDisk, Max: MaxMinDiskGiB, Of: client.FieldMinDisk},
		Field{Name: "min_ram", Value: f.MinRAM, Max: MaxMinRAMMiB, Of: client.FieldMinRAM})
	if err != nil {
		return client.Image{}, err
	}
	status, progress := NovaStatus(string(f.Status))
	return client.Image{
		ID: f.ID, ServerID: serverID, Name: f.Name, Status: status, APIStatus: string(f.Status), Visibility: f.Visibility, Owner: f.Owner,
		Size: size.Value.Int(), VirtualSize: f.VirtualSize.Int(), MinDisk: f.MinDisk.Int(), MinRAM: f.MinRAM.Int(), Progress: progress,
		Created: f.Created.Millis(), Updated: f.Updated.Millis(),
		Missing:  missing | f.Created.Missing(client.FieldCreated) | f.Updated.Missing(client.FieldUpdated),
		Metadata: metadata,
		// An unreadable time costs only its own sample, not the whole listing.
		Problems: TimeProblems(redact, NamedTime{Name: "created_at", Time: f.Created}, NamedTime{Name: "updated_at", Time: f.Updated}),
	}, nil
}
