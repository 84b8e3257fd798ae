package paging

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/nova-image-exporter/nova_image_exporter/client"
)

// ImageSizeKey is Huawei's key for an image's size in bytes, which IMS and the Glance API on
// the IMS host both send; their size key is "unavailable currently" (0).
const ImageSizeKey = "__image_size"

// ImageSize is __image_size: a string of decimal bytes as Huawei documents it, or a number.
// An empty string or null is not sent; anything else not a whole number is kept as
// unreadable.
type ImageSize struct {
	value      Number
	unreadable string
}

// UnmarshalJSON reads the count; null and "" leave it not sent.
func (s *ImageSize) UnmarshalJSON(data []byte) error {
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
		s.unreadable = text
		return nil
	}
	s.value = Sent(n)
	return nil
}

// Sent reports whether a number of bytes was read.
func (s ImageSize) Sent() bool { return s.value.sent }

// Field is the size as the image's size field; it fails on an unreadable value, naming the
// image (id, without redact's secrets) and the field.
func (s ImageSize) Field(redact client.Redactor, id string) (Field, error) {
	if s.unreadable != "" {
		return Field{}, fmt.Errorf("image %s: %s is not a number of bytes: %s",
			redact.Text(id, 64), ImageSizeKey, redact.Quote(s.unreadable, 64))
	}
	return Field{Name: ImageSizeKey, Value: s.value}, nil
}
