package paging

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/nova-image-exporter/nova_image_exporter/client"
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

// Page is one answer of an images API being decoded, streaming: each image is decoded,
// checked and handed over before the next is read, and nothing else of the body is kept.
type Page struct {
	body   *cappedReader
	guard  *valueGuard
	dec    *json.Decoder
	redact client.Redactor
}

// Decoding is how a page is decoded: at most MaxBytes of it, the values of MetadataKeys
// picked, and Redact's secrets removed from every text of it that an error or a label
// quotes or cuts.
type Decoding struct {
	MaxBytes     int64
	MetadataKeys []string
	Redact       client.Redactor
}

// decodeImages decodes the page resp as d says: the object's "images" list
// goes image by image to image (which decodes one with Decode), every other key to other
// (which must consume its value, with Decode or Skip; nil skips them all). A page without
// an "images" list is an error, not an empty page.
func decodeImages(resp *http.Response, d Decoding, image func(p *Page, i int) error, other func(p *Page, key string) error) error {
	return DecodeList(resp, d, "images", image, other)
}

// DecodeList decodes the page resp as d says: the object's list at key goes item by item to
// item (which decodes one with Decode), every other key to other (which must consume its
// value, with Decode or Skip; nil skips them all). A page without the list is an error, not
// an empty page.
func DecodeList(resp *http.Response, d Decoding, key string, item func(p *Page, i int) error, other func(p *Page, key string) error) error {
	if err := checkJSON(resp, d.Redact); err != nil {
		return err
	}
	body := &cappedReader{r: resp.Body, left: d.MaxBytes}
	guard := &valueGuard{r: body}
	p := &Page{body: body, guard: guard, dec: json.NewDecoder(guard), redact: d.Redact}
	var sawList bool
	err := p.object(func(k string) error {
		switch {
		case k == key:
			sawList = true
			return p.list(key, item)
		case other != nil:
			return other(p, k)
		default:
			return p.Skip(k)
		}
	})
	if body.exceeded {
		return fmt.Errorf("response body larger than %d bytes (--client.max-response-bytes)", d.MaxBytes)
	}
	if err == nil && !sawList {
		// A 200 without the list (a gateway's error page in JSON, say) is no listing at all,
		// not an empty one: taking it as empty would drop every item and still say up.
		return fmt.Errorf("the answer has no %q list", key)
	}
	return err
}

// Wire is one image in an API's JSON, holding only what client.Image needs: a page
// decodes every image into the same Wire.
type Wire interface {
	// Reset prepares the Wire for the next image, whose metadataKeys are wanted.
	Reset(metadataKeys []string)
	// Image validates the image decoded and converts it; the error names the image and the
	// field at fault, and every text of the image it quotes or cuts is without redact's
	// secrets first. Label values are left whole, for Listing.Hand to redact and cut.
	Image(redact client.Redactor) (client.Image, error)
}

// DecodeWire is decodeImages with each image decoded into w and handed, converted, to fn.
func DecodeWire(resp *http.Response, d Decoding, w Wire, other func(p *Page, key string) error, fn func(client.Image) error) error {
	image := func(p *Page, i int) error {
		w.Reset(d.MetadataKeys)
		if err := p.Decode(w); err != nil {
			return fmt.Errorf("images[%d]: %w", i, err)
		}
		img, err := w.Image(d.Redact)
		if err != nil {
			return fmt.Errorf("images[%d]: %w", i, err)
		}
		return fn(img)
	}
	return decodeImages(resp, d, image, other)
}

// checkJSON fails on an answer that says it is not JSON (a proxy's HTML page, say).
func checkJSON(resp *http.Response, redact client.Redactor) error {
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		if mediaType, _, _ := mime.ParseMediaType(ct); !strings.HasSuffix(mediaType, "json") {
			return fmt.Errorf("response is %s, not JSON", redact.Text(ct, 64))
		}
	}
	return nil
}

// Decode decodes the next value into v.
func (p *Page) Decode(v any) error {
	if err := p.dec.Decode(v); err != nil {
		return Malformed(err)
	}
	return nil
}

// Skip reads past the value of key.
func (p *Page) Skip(key string) error {
	var skip json.RawMessage
	if err := p.dec.Decode(&skip); err != nil {
		return fmt.Errorf("%s: %w", p.redact.Quote(key, 64), Malformed(err))
	}
	return nil
}

// object reads the page's top-level JSON object, calling fn at each value; guard counts
// each key with its value.
func (p *Page) object(fn func(key string) error) error {
	if err := p.expectDelim('{'); err != nil {
		return err
	}
	for p.guard.next(); p.dec.More(); p.guard.next() {
		tok, err := p.dec.Token()
		if err != nil {
			return Malformed(err)
		}
		key, _ := tok.(string)
		if err := fn(key); err != nil {
			return err
		}
	}
	if err := p.expectDelim('}'); err != nil {
		return err
	}
	if _, err := p.dec.Token(); err != io.EOF {
		if errors.Is(err, errValueTooLarge) {
			return err
		}
		return errors.New("malformed JSON: data after the top-level object")
	}
	return nil
}

// list reads the list at key, each item counted by guard on its own.
func (p *Page) list(key string, item func(p *Page, i int) error) error {
	if err := p.expectDelim('['); err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	for i := 0; ; i++ {
		p.guard.next()
		if !p.dec.More() {
			break
		}
		if err := item(p, i); err != nil {
			return err
		}
	}
	if err := p.expectDelim(']'); err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	return nil
}

func (p *Page) expectDelim(want json.Delim) error {
	tok, err := p.dec.Token()
	if err != nil {
		return Malformed(err)
	}
	if tok != want {
		return fmt.Errorf("malformed JSON: want %q, got %s", want, describeToken(tok))
	}
	return nil
}

func describeToken(tok json.Token) string {
	switch v := tok.(type) {
	case json.Delim:
		return strconv.Quote(v.String())
	case string:
		return "a string"
	case nil:
		return "null"
	default:
		return fmt.Sprintf("a %T", v)
	}
}

// Malformed labels decoding errors so that a log line says what was wrong with the body.
func Malformed(err error) error {
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &typeErr):
		// The path of a field of an embedded GlanceFields starts with its Go name.
		field := strings.TrimPrefix(typeErr.Field, "GlanceFields.")
		return fmt.Errorf("wrong JSON type: field %s holds a %s", field, typeErr.Value)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("malformed JSON: body ends early")
	}
	var syntaxErr *json.SyntaxError
	if errors.As(err, &syntaxErr) {
		return fmt.Errorf("malformed JSON at byte %d: %w", syntaxErr.Offset, err)
	}
	return err
}

// cappedReader fails once more than left bytes were read.
type cappedReader struct {
	r        io.Reader
	left     int64
	exceeded bool
}

var errTooLarge = errors.New("response body too large")

func (c *cappedReader) Read(p []byte) (int, error) {
	if c.left < 0 {
		c.exceeded = true
		return 0, errTooLarge
	}
	// One byte past the cap tells a body of exactly the cap from a larger one.
	if int64(len(p)) > c.left+1 {
		p = p[:c.left+1]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

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
