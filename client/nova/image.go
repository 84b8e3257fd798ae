package nova

import (
	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/client/paging"
)

// wireImage is the JSON of one image, holding only what Image needs: everything else
// (links, the metadata not asked for) is skipped by the decoder without being kept.
type wireImage struct {
	ID       string        `json:"id"`
	Name     string        `json:"name"`
	Status   paging.Status `json:"status"`
	Size     paging.Number `json:"OS-EXT-IMG-SIZE:size"`
	MinDisk  paging.Number `json:"minDisk"`
	MinRAM   paging.Number `json:"minRam"`
	Progress paging.Number `json:"progress"`
	Created  paging.Time   `json:"created"`
	Updated  paging.Time   `json:"updated"`
	Server   struct {
		ID string `json:"id"`
	} `json:"server"`
	Metadata paging.Picker `json:"metadata"`
}

// Reset prepares w for the next image: encoding/json leaves a field untouched both for a
// missing key and for null, so untouched means not sent.
func (w *wireImage) Reset(metadataKeys []string) {
	*w = wireImage{Metadata: paging.NewPicker(metadataKeys)}
}

// Image validates w and converts it; the error names the image and the field at fault,
// without redact's secrets.
func (w *wireImage) Image(redact client.Redactor) (client.Image, error) {
	if err := paging.CheckID(redact, w.ID, string(w.Status)); err != nil {
		return client.Image{}, err
	}
	missing, err := paging.CheckFields(redact, w.ID,
		paging.Field{Name: "OS-EXT-IMG-SIZE:size", Value: w.Size, Max: paging.MaxSizeBytes, Of: client.FieldSize},
		paging.Field{Name: "minDisk", Value: w.MinDisk, Max: paging.MaxMinDiskGiB, Of: client.FieldMinDisk},
		paging.Field{Name: "minRam", Value: w.MinRAM, Max: paging.MaxMinRAMMiB, Of: client.FieldMinRAM},
		paging.Field{Name: "progress", Value: w.Progress, Max: 100, Of: client.FieldProgress})
	if err != nil {
		return client.Image{}, err
	}
	return client.Image{
		ID: w.ID, ServerID: w.Server.ID, Name: w.Name, Status: w.Status.Upper(), APIStatus: string(w.Status),
		Size: w.Size.Int(), MinDisk: w.MinDisk.Int(), MinRAM: w.MinRAM.Int(), Progress: w.Progress.Int(),
		Created: w.Created.Millis(), Updated: w.Updated.Millis(),
		// Nova has no virtual size.
		Missing:  missing | client.FieldVirtualSize | w.Created.Missing(client.FieldCreated) | w.Updated.Missing(client.FieldUpdated),
		Metadata: w.Metadata.Values(),
		// An unreadable time costs only its own sample, not the whole listing.
		Problems: paging.TimeProblems(redact, paging.NamedTime{Name: "created", Time: w.Created}, paging.NamedTime{Name: "updated", Time: w.Updated}),
	}, nil
}
