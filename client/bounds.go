package client

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"time"
)

// What one answer of the cloud can make the exporter hold or do is bounded, whatever the
// answer (README, Failure modes). The bounds count bytes after decompression: Go's
// transport inflates a gzip body before any reader here sees it.
const (
	// maxIdentityResponseBytes bounds a Keystone or IAM answer, catalog included: real
	// token answers are tens to a few hundred KB. gophercloud reads all of it and decodes
	// it several times over, into maps and then into structs: 2 MiB of strings peak at
	// about 35 MiB of heap.
	maxIdentityResponseBytes = 2 << 20
	// maxIdentityValues bounds the JSON values (objects, arrays, elements, members) of an
	// identity answer, which is what gophercloud allocates for, up to some 800 bytes each
	// in all: a catalog has about one value per 20 bytes, 100 000 in 2 MiB. The worst shape
	// within this bound peaks at about 70 MiB of heap.
	maxIdentityValues = 100_000
	// MaxEndpointBytes bounds the compute endpoint taken from a catalog: it is in every
	// request, error and debug line.
	MaxEndpointBytes = 2048
	// maxResponseHeaderBytes bounds the headers of any answer (net/http's default is
	// 10 MiB, which a hostile server can make cost 80 MiB of heap); a large Keystone token
	// in X-Subject-Token is some 10 KB.
	maxResponseHeaderBytes = 1 << 20
)

// Bounds on the text of an image exported as label values. An id longer than MaxIDBytes
// fails the listing: cut short, two images could become one. The others are cut at a rune
// boundary.
const (
	MaxIDBytes     = 255  // image and server ids: UUIDs in Nova, Glance and Huawei ECS
	MaxLabelBytes  = 1024 // name and metadata values: a Glance name is at most 255 characters
	MaxStatusBytes = 64
)

// MaxNextLinkBytes bounds a page's next link (Glance's next) as a whole: its marker is an
// image id and the rest the listing's own filters, well under it. A longer one fails the
// listing rather than being followed, and sent back, page after page.
const MaxNextLinkBytes = 8 << 10

// identityTransport bounds the answers of Keystone or IAM before gophercloud, which reads
// whole bodies, sees them: an error answer is cut at MaxErrorBodyBytes (what CheckResponse
// reads of the compute API's), and a token answer larger than maxIdentityResponseBytes or
// with more than maxIdentityValues values is refused.
type identityTransport struct{ base http.RoundTripper }

// BoundIdentity returns a copy of c whose answers identityTransport bounds.
func BoundIdentity(c *http.Client) http.Client {
	bounded := *c
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	bounded.Transport = identityTransport{base: base}
	return bounded
}

// RoundTrip sends req and returns its answer with the body read, within the bounds.
func (t identityTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	defer DrainAndClose(resp.Body)
	failed := resp.StatusCode < 200 || resp.StatusCode > 299
	limit := int64(maxIdentityResponseBytes)
	if failed {
		limit = MaxErrorBodyBytes
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading the identity service's answer (HTTP %d): %w", resp.StatusCode, err)
	}
	switch {
	case failed && int64(len(body)) > limit:
		body = body[:limit] // read as an error body cut short, "65536 bytes or more"
	case int64(len(body)) > limit:
		return nil, fmt.Errorf("the identity service's answer (HTTP %d) is larger than %d bytes (a fixed bound)", resp.StatusCode, limit)
	case !failed:
		if n := jsonValues(body); n > maxIdentityValues {
			return nil, fmt.Errorf("the identity service's answer (HTTP %d) holds more than %d JSON values (a fixed bound)", resp.StatusCode, maxIdentityValues)
		}
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	return resp, nil
}

// jsonValues counts, a little over, the values of the JSON text b: one for the text, and
// one more for each opening bracket and each comma outside strings.
func jsonValues(b []byte) int {
	n, inString := 1, false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case ',', '[', '{':
			n++
		}
	}
	return n
}

// RefusalHold is how long an authenticator sends no credentials the cloud refused, for the
// listings already under way when the refusal came: new listings are held back by the
// collector's back-off, which starts at the same refusal and lasts at least as long.
const RefusalHold = time.Minute

// Bounds of the project names read from Keystone or IAM (GET /v3/projects), which does not
// page: it answers every project at once, or as many as its list_limit, saying truncated.
const (
	// MaxProjectsResponseBytes bounds the answer: a Keystone project is some 300 bytes,
	// links included, so MaxProjects of them with short descriptions fit. The answer is
	// decoded a project at a time, but a project is held whole: the worst answer, one
	// project of 8 MiB, allocates some 32 MiB in all (TestProjectsAnswerAllocations).
	MaxProjectsResponseBytes = 8 << 20
	// MaxProjects bounds the projects read: the names kept are some 100 bytes each, 2.5 MB
	// at most, charged to the exporter's memory bound.
	MaxProjects = 25_000
)
