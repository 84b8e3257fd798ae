package nova

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/nova-image-exporter/nova_image_exporter/client"
)

// wireImage is the JSON of one image, holding only what Image needs: everything else
// (links, the metadata not asked for) is skipped by the decoder without being kept.
type wireImage struct {
	ID       string     `json:"id"`
	Name     string     `json:"name"`
	Status   wireStatus `json:"status"`
	Size     int64      `json:"OS-EXT-IMG-SIZE:size"`
	MinDisk  int64      `json:"minDisk"`
	MinRAM   int64      `json:"minRam"`
	Progress int64      `json:"progress"`
	Created  wireTime   `json:"created"`
	Updated  wireTime   `json:"updated"`
	Server   struct {
		ID string `json:"id"`
	} `json:"server"`
	Metadata metadataPicker `json:"metadata"`
}

// reset prepares w for the next image: encoding/json leaves a field untouched both for a
// missing key and for null, so untouched means Absent.
func (w *wireImage) reset(metadataKeys []string) {
	*w = wireImage{
		Size: client.Absent, MinDisk: client.Absent, MinRAM: client.Absent, Progress: client.Absent,
		Created: wireTime{ms: client.Absent}, Updated: wireTime{ms: client.Absent},
		Metadata: metadataPicker{keys: metadataKeys},
	}
}

// image validates w and converts it; the error names the image and the field at fault.
func (w *wireImage) image() (client.Image, error) {
	if w.ID == "" {
		return client.Image{}, fmt.Errorf("image without an id")
	}
	id := client.Sanitize(w.ID, 64) // for messages: the API's text, bounded
	if w.Status == "" {
		return client.Image{}, fmt.Errorf("image %s: no status", id)
	}
	if len(w.ID) > client.MaxIDBytes {
		return client.Image{}, fmt.Errorf("image %s: id longer than %d bytes", id, client.MaxIDBytes)
	}
	img := client.Image{
		ID: w.ID, ServerID: client.CutLabel(w.Server.ID, client.MaxIDBytes),
		Name: client.CutLabel(w.Name, client.MaxLabelBytes), Status: client.CutLabel(string(w.Status), client.MaxStatusBytes),
		Size: w.Size, MinDisk: w.MinDisk, MinRAM: w.MinRAM, Progress: w.Progress,
		Created: w.Created.ms, Updated: w.Updated.ms,
		Metadata: w.Metadata.values,
	}
	for _, f := range []struct {
		name  string
		value int64
		max   int64
	}{
		{"OS-EXT-IMG-SIZE:size", w.Size, maxSizeBytes},
		{"minDisk", w.MinDisk, maxMinDiskGiB},
		{"minRam", w.MinRAM, maxMinRAMMiB},
		{"progress", w.Progress, 100},
	} {
		if err := checkInt(f.value, f.max); err != nil {
			return client.Image{}, fmt.Errorf("image %s: %s %w", id, f.name, err)
		}
	}
	// An unreadable time costs only its own sample, not the whole listing.
	for _, t := range []struct {
		name string
		time wireTime
	}{{"created", w.Created}, {"updated", w.Updated}} {
		if t.time.unreadable != "" {
			img.Problems = append(img.Problems, fmt.Sprintf("%s is not an ISO 8601 time: %q", t.name, client.Shorten(t.time.unreadable, 64)))
		}
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

func checkInt(value, limit int64) error {
	switch {
	case value == client.Absent:
		return nil
	case value < 0:
		return fmt.Errorf("is negative (%d)", value)
	case value > limit:
		return fmt.Errorf("is out of range (%d > %d)", value, limit)
	}
	return nil
}

// wireStatus is an image status, upper-cased, with Nova's five statuses shared rather than
// allocated for every image.
type wireStatus string

// UnmarshalJSON upper-cases the status; null leaves it empty.
func (s *wireStatus) UnmarshalJSON(data []byte) error {
	if data[0] != '"' {
		if string(data) == "null" {
			return nil
		}
		return &json.UnmarshalTypeError{Value: "non-string", Field: "status"}
	}
	for _, known := range client.NovaStatuses {
		if len(data) == len(known)+2 && bytes.EqualFold(data[1:len(data)-1], []byte(known)) {
			*s = wireStatus(known)
			return nil
		}
	}
	var raw string
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	*s = wireStatus(strings.ToUpper(raw))
	return nil
}

// wireTime is created or updated: Unix milliseconds, or the text that could not be read.
type wireTime struct {
	ms         int64
	unreadable string
}

// UnmarshalJSON reads Nova's form (2014-02-10T17:05:01Z) without allocating, and the other
// ISO 8601 forms the API family uses through timeLayouts; null leaves the time Absent.
func (t *wireTime) UnmarshalJSON(data []byte) error {
	if data[0] != '"' {
		if string(data) != "null" {
			t.unreadable = string(data) // a number or an object: unreadable, like a bad string
		}
		return nil
	}
	if ms, ok := parseNovaTime(data[1 : len(data)-1]); ok {
		t.ms = ms
		return nil
	}
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	if s == "" {
		return nil
	}
	for _, layout := range timeLayouts {
		if parsed, err := time.Parse(layout, s); err == nil {
			t.ms = parsed.UnixMilli()
			return nil
		}
	}
	t.unreadable = s
	return nil
}

// timeLayouts are the forms Nova-compatible APIs use for created/updated besides Nova's
// own: with fractions or an offset (+02:00 or +0200), and without a zone (taken as UTC).
var timeLayouts = []string{
	time.RFC3339Nano, "2006-01-02T15:04:05.999999999Z0700", "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05",
}

// parseNovaTime reads exactly YYYY-MM-DDTHH:MM:SSZ.
func parseNovaTime(b []byte) (int64, bool) {
	if len(b) != 20 || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' || b[19] != 'Z' {
		return 0, false
	}
	digits := func(i, n int) (int, bool) {
		v := 0
		for _, c := range b[i : i+n] {
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int(c-'0')
		}
		return v, true
	}
	year, ok1 := digits(0, 4)
	month, ok2 := digits(5, 2)
	day, ok3 := digits(8, 2)
	hour, ok4 := digits(11, 2)
	minute, ok5 := digits(14, 2)
	second, ok6 := digits(17, 2)
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 || month < 1 || month > 12 || day < 1 || day > 31 ||
		hour > 23 || minute > 59 || second > 60 {
		return 0, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, second, 0, time.UTC)
	if t.Day() != day { // February 30th and the like: let time.Parse reject it
		return 0, false
	}
	return t.UnixMilli(), true
}
