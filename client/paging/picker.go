package paging

import (
	"bytes"
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
	return EachMember(data, func(key, value []byte) error {
		m.Take(key, value)
		return nil
	})
}

// Take keeps value if key (unescaped, as EachMember gives it) is wanted.
func (m *Picker) Take(key, value []byte) {
	if k := m.wanted(key); k >= 0 {
		m.set(m.keys[k], metadataValue(value))
	}
}

// EachMember calls fn with the key, unescaped, and the value, as sent, of each member of
// the JSON object data, which encoding/json has already checked to be valid JSON; nothing
// when data is not an object (null). Keys match exactly, where encoding/json would also
// take a key that differs from a field's name only in case: an image's properties are
// keys beside its fields, named by whoever can edit the image.
func EachMember(data []byte, fn func(key, value []byte) error) error {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return nil
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
		key := unquote(data[i:keyEnd])
		i = skipSpace(data, keyEnd)
		if i >= len(data) || data[i] != ':' {
			return errMetadata
		}
		valueStart := skipSpace(data, i+1)
		valueEnd, err := skipValue(data, valueStart)
		if err != nil {
			return err
		}
		if valueEnd == valueStart {
			return errMetadata // no value: fn would get an empty one
		}
		if err := fn(key, data[valueStart:valueEnd]); err != nil {
			return err
		}
		i = valueEnd
	}
}

// unquote is the text of a quoted key: its bytes as they are, decoded only when it holds an
// escape; nil when it cannot be decoded.
func unquote(quoted []byte) []byte {
	raw := quoted[1 : len(quoted)-1]
	if bytes.IndexByte(raw, '\\') < 0 {
		return raw
	}
	var key string
	if json.Unmarshal(quoted, &key) != nil {
		return nil
	}
	return []byte(key)
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

// wanted returns the index of key among m.keys, or -1.
func (m *Picker) wanted(key []byte) int {
	for k, want := range m.keys {
		if string(key) == want {
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
	return s // cut by Listing.Hand once its secrets are removed
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
