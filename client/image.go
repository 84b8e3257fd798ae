package client

import (
	"fmt"
	"strings"
	"time"
)

// Int64 is an integer field of an image that the API may omit or send as null.
type Int64 struct {
	Value int64
	Valid bool
}

// Image is one image of the images-detail listing, reduced to the fields the exporter exports.
type Image struct {
	ID   string
	Name string // empty when the API sends null
	// Status is Nova's status, upper case: ACTIVE, SAVING, DELETED, ERROR, UNKNOWN or whatever else the API sends.
	Status   string
	Size     Int64 // bytes, from OS-EXT-IMG-SIZE:size
	MinDisk  Int64 // GiB
	MinRAM   Int64 // MiB
	Progress Int64 // percent, 0 to 100
	Created  time.Time
	Updated  time.Time // zero when the API sends null
	ServerID string    // the instance a snapshot was taken from; empty for other images
	// Metadata holds the values of Options.MetadataKeys, in that order; nil when the
	// image has none of them.
	Metadata []string
	// Problems describe the fields the API sent in a form that could not be read (an
	// unparsable time), which are left zero; nil when every field was read.
	Problems []string
}

// absent marks an integer field that the response did not set: encoding/json leaves a field
// untouched both for a missing key and for null.
const absent = -1 << 63

// wireImage is the JSON of one image, holding only what Image needs: everything else
// (metadata, links) is skipped by the decoder without being kept.
type wireImage struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Status   string `json:"status"`
	Size     int64  `json:"OS-EXT-IMG-SIZE:size"`
	MinDisk  int64  `json:"minDisk"`
	MinRAM   int64  `json:"minRam"`
	Progress int64  `json:"progress"`
	Created  string `json:"created"`
	Updated  string `json:"updated"`
	Server   struct {
		ID string `json:"id"`
	} `json:"server"`
	Metadata metadataPicker `json:"metadata"`
}

func (w *wireImage) reset(metadataKeys []string) {
	*w = wireImage{Size: absent, MinDisk: absent, MinRAM: absent, Progress: absent, Metadata: metadataPicker{keys: metadataKeys}}
}

// image validates w and converts it; the error names the image and the field at fault.
func (w *wireImage) image() (Image, error) {
	if w.ID == "" {
		return Image{}, fmt.Errorf("image without an id")
	}
	img := Image{
		ID:       w.ID,
		Name:     w.Name,
		Status:   strings.ToUpper(w.Status),
		ServerID: w.Server.ID,
		Metadata: w.Metadata.values,
	}
	if img.Status == "" {
		return Image{}, fmt.Errorf("image %s: no status", w.ID)
	}
	var err error
	fields := []struct {
		name  string
		raw   int64
		max   int64
		value *Int64
	}{
		{"OS-EXT-IMG-SIZE:size", w.Size, maxSizeBytes, &img.Size},
		{"minDisk", w.MinDisk, maxMinDiskGiB, &img.MinDisk},
		{"minRam", w.MinRAM, maxMinRAMMiB, &img.MinRAM},
		{"progress", w.Progress, 100, &img.Progress},
	}
	for _, f := range fields {
		if *f.value, err = checkedInt(f.raw, f.max); err != nil {
			return Image{}, fmt.Errorf("image %s: %s %w", w.ID, f.name, err)
		}
	}
	// An unreadable time costs only its own sample, not the whole listing.
	if img.Created, err = parseTime(w.Created); err != nil {
		img.Problems = append(img.Problems, "created "+err.Error())
	}
	if img.Updated, err = parseTime(w.Updated); err != nil {
		img.Problems = append(img.Problems, "updated "+err.Error())
	}
	return img, nil
}

// Bounds beyond which a value is garbage rather than an image: 1 PiB of image data,
// 1 PiB of disk, 1 PiB of RAM.
const (
	maxSizeBytes  = 1 << 50
	maxMinDiskGiB = 1 << 20
	maxMinRAMMiB  = 1 << 30
)

func checkedInt(raw, limit int64) (Int64, error) {
	switch {
	case raw == absent:
		return Int64{}, nil
	case raw < 0:
		return Int64{}, fmt.Errorf("is negative (%d)", raw)
	case raw > limit:
		return Int64{}, fmt.Errorf("is out of range (%d > %d)", raw, limit)
	}
	return Int64{Value: raw, Valid: true}, nil
}

// timeLayouts are the forms Nova-compatible APIs use for created/updated: Nova's own
// (2014-02-10T17:05:01Z), with fractions or an offset (+02:00 or +0200), and without a
// zone (taken as UTC).
var timeLayouts = []string{
	time.RFC3339Nano, "2006-01-02T15:04:05.999999999Z0700", "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05",
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("is not an ISO 8601 time: %q", truncate(s, 64))
}
