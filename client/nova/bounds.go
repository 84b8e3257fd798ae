package nova

import (
	"fmt"
	"io"
)

// The page decoder's bounds, counted after decompression.
const (
	// maxValueBytes bounds what the page decoder buffers at once: encoding/json holds a
	// whole value (one image, a string, a run of whitespace) before decoding it, several
	// times over. The largest real images are a few KB.
	maxValueBytes = 1 << 20
	// maxReadChunk bounds one read of a page body, so that the bytes counted for a value
	// overshoot it by at most this much.
	maxReadChunk = 32 << 10
)

// errValueTooLarge is what a page decoder gets when one value is larger than maxValueBytes.
var errValueTooLarge = fmt.Errorf("larger than %d bytes of JSON in one image, value or run of whitespace (a fixed bound)", maxValueBytes)

// valueGuard sits between a page body and the JSON decoder, and fails once the decoder has
// read more than maxValueBytes since next was last called: before each image and each
// top-level key, so that no single value makes the decoder's buffer grow past the bound.
type valueGuard struct {
	r    io.Reader
	read int
}

// next starts counting the decoder's next value.
func (g *valueGuard) next() { g.read = 0 }

func (g *valueGuard) Read(p []byte) (int, error) {
	if g.read > maxValueBytes {
		return 0, errValueTooLarge
	}
	if len(p) > maxReadChunk {
		p = p[:maxReadChunk]
	}
	n, err := g.r.Read(p)
	g.read += n
	return n, err
}
