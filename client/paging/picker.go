package paging

import (
	"encoding/json"
	"errors"
	"strings"

	"github.com/nova-image-exporter/nova_image_exporter/client"
)

// Picker decodes only the wanted keys of an object (Nova's metadata of an image, or a
// Glance or IMS image, whose properties are top-level keys), scanning the rest without
// allocating: an image holds 10 to 40 keys, and a listing can hold 100 000 images.
type Picker struct {
	keys   []string        // the wanted keys; none means metadata is skipped
	values client.Metadata // the wanted keys' values found; nil until one is found
}

// UnmarshalJSON receives the metadata object, already checked by encoding/json to be valid
// JSON. A string value is taken as is; a number, boolean, object or array as its JSON text;
// null as empty.
func (m *Picker) UnmarshalJSON(data []byte) error {
	if len(m.keys) == 0 {
		return nil
	}
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return nil // null or not an object: no metadata
	}
	i++
	for {
		i = skipSpace(data, i)
		if i >= len(data) || data[i] == '}' {
			return nil
		}
		if data[i] == ',' {
			i++
			continue
		}
		keyEnd, err := skipString(data, i)
		if err != nil {
			return err
		}
		key := data[i:keyEnd]
		i = skipSpace(data, keyEnd)
		if i >= len(data) || data[i] != ':' {
			return errMetadata
		}
		valueStart := skipSpace(data, i+1)
		valueEnd, err := skipValue(data, valueStart)
		if err != nil {
			return err
		}
		if k := m.wanted(key); k >= 0 {
			m.set(m.keys[k], metadataValue(data[valueStart:valueEnd]))
		}
		i = valueEnd
	}
}

var errMetadata = errors.New("metadata: malformed object")

// NewPicker returns a Picker of keys; none means the object is skipped.
func NewPicker(keys []string) Picker { return Picker{keys: keys} }

// Values are the wanted keys' values found; nil when none was.
func (m *Picker) Values() client.Metadata { return m.values }

// set keeps the value of key, the last one of a key the object holds twice. The key is the
// wanted key itself, shared by every image rather than copied from the page.
func (m *Picker) set(key, value string) {
	for i := range m.values {
		if m.values[i].Key == key {
			m.values[i].Value = value
			return
		}
	}
	if m.values == nil {
		m.values = make(client.Metadata, 0, len(m.keys))
	}
	m.values = append(m.values, client.MetadataValue{Key: key, Value: value})
}

// wanted returns the index of the quoted key among m.keys, or -1.
func (m *Picker) wanted(quoted []byte) int {
	raw := quoted[1 : len(quoted)-1]
	for _, b := range raw {
		if b == '\\' { // an escaped key: compare it decoded
			var key string
			if json.Unmarshal(quoted, &key) != nil {
				return -1
			}
			raw = []byte(key)
			break
		}
	}
	for k, want := range m.keys {
		if string(raw) == want {
			return k
		}
	}
	return -1
}

func metadataValue(raw []byte) string {
	var s string
	switch raw[0] {
	case '"':
		_ = json.Unmarshal(raw, &s) // repairs invalid UTF-8
	case 'n':
		return ""
	default: // the JSON text of a number, boolean, object or array, whose strings may hold any bytes
		s = strings.ToValidUTF8(string(raw), "\uFFFD")
	}
	return client.CutLabel(s, client.MaxLabelBytes)
}

func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at data[i].
func skipString(data []byte, i int) (int, error) {
	if i >= len(data) || data[i] != '"' {
		return 0, errMetadata
	}
	for i++; i < len(data); i++ {
		switch data[i] {
		case '\\':
			i++
		case '"':
			return i + 1, nil
		}
	}
	return 0, errMetadata
}

// skipValue returns the index after the JSON value starting at data[i].
func skipValue(data []byte, i int) (int, error) {
	if i >= len(data) {
		return 0, errMetadata
	}
	switch data[i] {
	case '"':
		return skipString(data, i)
	case '{', '[':
		depth := 0
		for ; i < len(data); i++ {
			switch data[i] {
			case '"':
				end, err := skipString(data, i)
				if err != nil {
					return 0, err
				}
				i = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1, nil
				}
			}
		}
		return 0, errMetadata
	default: // number, true, false, null
		for i < len(data) && data[i] != ',' && data[i] != '}' && data[i] != ']' &&
			data[i] != ' ' && data[i] != '\t' && data[i] != '\n' && data[i] != '\r' {
			i++
		}
		return i, nil
	}
}
