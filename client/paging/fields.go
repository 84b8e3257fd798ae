package paging

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nova-image-exporter/nova_image_exporter/client"
)

// Bounds beyond which a value is garbage rather than an image: 1 PiB of image data,
// 1 PiB of disk, 1 PiB of RAM.
const (
	MaxSizeBytes  = 1 << 50
	MaxMinDiskGiB = 1 << 20
	MaxMinRAMMiB  = 1 << 30
)

// Number is a number of an image as the API sent it, and whether it did: a missing key and
// null leave the zero Number, not sent.
type Number struct {
	value int64
	sent  bool
}

// Sent is the number v, sent.
func Sent(v int64) Number { return Number{value: v, sent: true} }

// Int is the number; 0 when it was not sent.
func (n Number) Int() int64 { return n.value }

// UnmarshalJSON reads a JSON integer; null leaves n not sent.
func (n *Number) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		return nil
	}
	if v, ok := parseInt(data); ok {
		*n = Sent(v)
		return nil
	}
	return n.decode(data)
}

// decode reads what parseInt does not with encoding/json, apart so that the common case
// allocates nothing.
func (n *Number) decode(data []byte) error {
	var v int64
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	*n = Sent(v)
	return nil
}

// Field is a number of an image with its name in the API, its bound, and which of the
// image's numbers it is.
type Field struct {
	Name  string
	Value Number
	Max   int64
	Of    client.Fields
}

// CheckFields fails on the first field sent negative or beyond its bound; the error names
// the image (id as the API sent it, without redact's secrets) and the field. It returns the
// fields not sent.
func CheckFields(redact client.Redactor, id string, fields ...Field) (missing client.Fields, err error) {
	for _, f := range fields {
		if !f.Value.sent {
			missing |= f.Of
			continue
		}
		if err := checkInt(f.Value.value, f.Max); err != nil {
			return 0, fmt.Errorf("image %s: %s %w", redact.Text(id, 64), f.Name, err)
		}
	}
	return missing, nil
}

func checkInt(value, limit int64) error {
	switch {
	case value < 0:
		return fmt.Errorf("is negative (%d)", value)
	case value > limit:
		return fmt.Errorf("is out of range (%d > %d)", value, limit)
	}
	return nil
}

// CheckID fails on an image with no id, no status or an id too long to be a label; the
// error names the image without redact's secrets.
func CheckID(redact client.Redactor, id, status string) error {
	switch {
	case id == "":
		return fmt.Errorf("image without an id")
	case status == "":
		return fmt.Errorf("image %s: no status", redact.Text(id, 64))
	case len(id) > client.MaxIDBytes:
		return fmt.Errorf("image %s: id longer than %d bytes", redact.Text(id, 64), client.MaxIDBytes)
	}
	return nil
}

// NovaStatus is the status and progress Nova's images proxy shows for a Glance status
// (nova/api/openstack/compute/views/images.py: _get_status, _get_progress); Huawei IMS's
// statuses are Glance's. The progress is derived from the status alone.
func NovaStatus(glance string) (status string, progress int64) {
	switch glance {
	case "active":
		return "ACTIVE", 100
	case "queued":
		return "SAVING", 25
	case "saving":
		return "SAVING", 50
	case "deleted", "pending_delete":
		return "DELETED", 0
	case "killed":
		return "ERROR", 0
	}
	return "UNKNOWN", 0
}

// DecodeString decodes value, the JSON value of the field name, into s; null leaves s as
// it is.
func DecodeString(name string, value []byte, s *string) error {
	if len(value) >= 2 && value[0] == '"' {
		inner := value[1 : len(value)-1]
		if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
			*s = string(inner)
			return nil
		}
	}
	return decodeValue(name, value, s)
}

// DecodeNumber decodes value, the JSON value of the field name, into n; null leaves n as it
// is.
func DecodeNumber(name string, value []byte, n *Number) error {
	if err := n.UnmarshalJSON(value); err != nil {
		return fieldError(name, err)
	}
	return nil
}

// decodeValue decodes value, the JSON value of the field name, into v with encoding/json;
// a type error names the field.
func decodeValue(name string, value []byte, v any) error {
	return fieldError(name, json.Unmarshal(value, v))
}

// fieldError is err, naming the field name when it is a type error that names none.
func fieldError(name string, err error) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) && typeErr.Field == "" {
		typeErr.Field = name
	}
	return err
}

// parseInt reads a JSON integer of at most 18 digits; anything else is not ok.
func parseInt(b []byte) (int64, bool) {
	negative := len(b) > 0 && b[0] == '-'
	if negative {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if negative {
		n = -n
	}
	return n, true
}

// Status is an image status as the API sent it, with Nova's five statuses and Glance's
// shared rather than allocated for every image; null leaves it empty.
type Status string

// commonStatuses are the statuses most images have, in the forms the APIs send them.
var commonStatuses = append(slices.Clone(client.NovaStatuses), "active", "queued", "saving", "killed", "deleted", "deactivated", "importing", "uploading", "pending_delete")

// UnmarshalJSON keeps the status; null leaves it empty.
func (s *Status) UnmarshalJSON(data []byte) error {
	if data[0] != '"' {
		if string(data) == "null" {
			return nil
		}
		return &json.UnmarshalTypeError{Value: "non-string", Field: "status"}
	}
	for _, known := range commonStatuses {
		if len(data) == len(known)+2 && bytes.Equal(data[1:len(data)-1], []byte(known)) {
			*s = Status(known)
			return nil
		}
	}
	var raw string
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	*s = Status(raw)
	return nil
}

// Upper is the status upper-cased, sharing Nova's five statuses.
func (s Status) Upper() string {
	for _, known := range client.NovaStatuses {
		if strings.EqualFold(string(s), known) {
			return known
		}
	}
	return strings.ToUpper(string(s))
}

// Time is an image's time: Unix milliseconds if it was read, or the text that could not be
// read. The zero Time is not sent.
type Time struct {
	ms         int64
	read       bool
	unreadable string
}

// Millis is the time in Unix milliseconds; 0 when not sent, null or unreadable.
func (t Time) Millis() int64 { return t.ms }

// Missing is f when the time was not read (not sent, null or unreadable), else none.
func (t Time) Missing(f client.Fields) client.Fields {
	if t.read {
		return 0
	}
	return f
}

// Problem describes an unreadable time of the field name, quoting it without redact's
// secrets; "" when it was read.
func (t Time) Problem(redact client.Redactor, name string) string {
	if t.unreadable == "" {
		return ""
	}
	return fmt.Sprintf("%s is not an ISO 8601 time: %s", name, redact.Quote(t.unreadable, 64))
}

// UnmarshalJSON reads Nova's and Glance's form (2014-02-10T17:05:01Z) without allocating,
// and the other ISO 8601 forms the API family uses through timeLayouts; null leaves the
// time not sent.
func (t *Time) UnmarshalJSON(data []byte) error {
	if string(data) != "null" {
		*t = Time{} // a key sent twice: the last one counts
	}
	if data[0] != '"' {
		if string(data) != "null" {
			t.unreadable = string(data) // a number or an object: unreadable, like a bad string
		}
		return nil
	}
	if ms, ok := parseNovaTime(data[1 : len(data)-1]); ok {
		t.ms, t.read = ms, true
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
			t.ms, t.read = parsed.UnixMilli(), true
			return nil
		}
	}
	t.unreadable = s
	return nil
}

// timeLayouts are the forms the APIs use for their times besides Nova's own: with
// fractions or an offset (+02:00 or +0200), and without a zone (taken as UTC).
var timeLayouts = []string{
	time.RFC3339Nano, "2006-01-02T15:04:05.999999999Z0700", "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05",
}

// TimeProblems lists the unreadable ones of named times, without redact's secrets; nil
// when every one was read.
func TimeProblems(redact client.Redactor, times ...NamedTime) []string {
	var problems []string
	for _, t := range times {
		if p := t.Time.Problem(redact, t.Name); p != "" {
			problems = append(problems, p)
		}
	}
	return problems
}

// NamedTime is a Time with the API's name of its field.
type NamedTime struct {
	Name string
	Time Time
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

// NonZero is n, or not sent when it was sent as 0: for a field whose 0 means
// "unavailable". A negative n is kept, for CheckFields to refuse.
func (n Number) NonZero() Number {
	if n.value == 0 {
		return Number{}
	}
	return n
}
