// Package nova lists images through the Nova-compatible images-detail API
// (GET {compute endpoint}/images/detail) of OpenStack Nova, Huawei Cloud ECS and
// Open Telekom Cloud: paging by marker and streaming decode.
//
// A Client is built once per cloud and reused: its authenticator keeps the token between
// listings, renewing it only when it is about to expire or is refused.
package nova

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-kit/log/level"
	"github.com/nova-image-exporter/nova_image_exporter/client"
)

// maxBackoff bounds the backoff between two retries.
const maxBackoff = 30 * time.Second

// Client lists images of one cloud project.
type Client struct {
	auth client.Authenticator
	opts client.Options
}

// New returns a Client that authenticates with auth.
func New(auth client.Authenticator, opts client.Options) *Client {
	return &Client{auth: auth, opts: opts.WithDefaults()}
}

// ListImages returns every image matching opts, following pagination by marker. It
// renews the credential once if the API answers 401, and fails when a page is malformed,
// pagination loops or exceeds Options.MaxPages, or ctx ends.
func (c *Client) ListImages(ctx context.Context, opts client.ListOptions) ([]client.Image, error) {
	// Pages are kept as they come and joined once: one growing slice would copy every
	// image several times over.
	var pages [][]client.Image
	var total int
	err := c.EachImage(ctx, opts, func(img client.Image) error {
		if len(pages) == 0 || len(pages[len(pages)-1]) == cap(pages[len(pages)-1]) {
			pages = append(pages, make([]client.Image, 0, 1024))
		}
		pages[len(pages)-1] = append(pages[len(pages)-1], img)
		total++
		return nil
	})
	if err != nil {
		return nil, err
	}
	images := make([]client.Image, 0, total)
	for _, page := range pages {
		images = append(images, page...)
	}
	return images, nil
}

// EachImage calls fn for every image matching opts, page by page, so that a caller that
// does not need them all at once never holds more than one page. An error from fn stops
// the listing and is returned.
func (c *Client) EachImage(ctx context.Context, opts client.ListOptions, fn func(client.Image) error) error {
	ctx = client.WithListing(ctx)
	endpoint, err := c.auth.Endpoint(ctx)
	if err != nil {
		return err
	}
	base, err := imagesURL(endpoint)
	if err != nil {
		return err
	}
	pager := pager{client: c, base: base, opts: opts, seen: map[string]bool{}, redact: client.NewRedactor(c.auth.Secrets()...)}
	// Every text a server sent (a status line, a Content-Type, an id used as a marker) may
	// quote a secret: the listing's error goes through the redactor as a whole.
	return pager.redact.Err(pager.all(ctx, fn))
}

// all walks every page.
func (p *pager) all(ctx context.Context, fn func(client.Image) error) error {
	for page := 1; ; page++ {
		if page > p.client.opts.MaxPages {
			return fmt.Errorf("listing images: more than %d pages (--client.max-pages); stopped at marker %s", p.client.opts.MaxPages, client.Sanitize(p.marker, 64))
		}
		more, err := p.next(ctx, page, fn)
		if err != nil || !more {
			return err
		}
	}
}

// imagesURL turns a compute endpoint into the images-detail URL.
func imagesURL(endpoint string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(endpoint))
	if err != nil {
		return nil, fmt.Errorf("compute endpoint: not a URL (%s)", client.RedactURLText(endpoint))
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("compute endpoint %q: want an http or https URL", u.Redacted())
	}
	u.User = nil
	u.RawQuery, u.Fragment = "", ""
	u.Path = strings.TrimRight(u.Path, "/") + "/images/detail"
	u.RawPath = ""
	return u, nil
}

// pager walks the pages of one listing.
type pager struct {
	client  *Client
	base    *url.URL
	opts    client.ListOptions
	marker  string
	seen    map[string]bool // markers already requested, to stop a pagination loop
	renewed bool            // the credential was renewed once in this listing
	redact  client.Redactor // the secrets of the last request: its credentials and the authenticator's
	listed  int64           // ImageBytes of the images handed over so far
}

// next fetches and hands over one page, and reports whether another page follows.
func (p *pager) next(ctx context.Context, page int, fn func(client.Image) error) (bool, error) {
	resp, err := p.get(ctx) //nolint:bodyclose // client.DrainAndClose closes it below.
	if err != nil {
		return false, err
	}
	defer client.DrainAndClose(resp.Body)
	var last string
	var count int
	hasNext, err := decodePage(resp, p.client.opts.MaxResponseBytes, p.client.opts.MetadataKeys, func(img client.Image) error {
		last = img.ID
		count++
		if p.listed += client.ImageBytes(img); p.listed > p.client.opts.MaxListingBytes {
			return fmt.Errorf("the listing holds more than %d bytes of images (--client.max-listing-bytes)", p.client.opts.MaxListingBytes)
		}
		return fn(p.redact.Image(img))
	})
	if err != nil {
		return false, fmt.Errorf("listing images, page %d: %w", page, err)
	}
	if !hasNext || count == 0 {
		return false, nil
	}
	if p.seen[last] {
		return false, fmt.Errorf("listing images, page %d: pagination loop: marker %s was already requested", page, client.Sanitize(last, 64))
	}
	p.seen[last] = true
	p.marker = last
	return true, nil
}

// get requests the current page. It renews the credential and retries once on a 401, and
// retries throttling (429, 413 overLimit) and transient gateway faults (502, 503, 504)
// with backoff, honouring Retry-After, as long as the retry fits before ctx's deadline.
func (p *pager) get(ctx context.Context) (*http.Response, error) {
	for retries := 0; ; {
		resp, credential, err := p.send(ctx)
		if err == nil {
			return resp, nil
		}
		var apiErr *client.APIError
		if !errors.As(err, &apiErr) {
			return nil, err
		}
		switch {
		case apiErr.StatusCode == http.StatusUnauthorized:
			if err := p.renew(ctx, credential, err); err != nil {
				return nil, err
			}
		case retryable(apiErr.StatusCode) && retries < p.client.opts.MaxRetries:
			if err := p.client.wait(ctx, retries, apiErr); err != nil {
				return nil, err
			}
			retries++
		case apiErr.StatusCode == http.StatusForbidden && p.opts.PageSize > 0:
			return nil, fmt.Errorf("%w (limit=%d may be above the cloud's largest page size: try a smaller page-size)", err, p.opts.PageSize)
		default:
			return nil, err
		}
	}
}

// send makes one request for the current page and returns the response if it is a 200.
func (p *pager) send(ctx context.Context) (*http.Response, string, error) {
	req, err := p.request(ctx)
	if err != nil {
		return nil, "", err
	}
	credential, err := p.client.auth.Authorize(ctx, req)
	if err != nil {
		return nil, "", err
	}
	start := time.Now()
	resp, err := p.client.opts.HTTPClient.Do(req)
	if err != nil {
		p.redact = client.RequestRedactor(p.client.auth, req)
		return nil, "", fmt.Errorf("GET %s: %w", client.RedactedURL(req), client.UnwrapURLError(err))
	}
	redact := client.RequestRedactor(p.client.auth, req)
	p.redact = redact
	level.Debug(p.client.opts.Logger).Log("msg", "images request", "url", redact.Text(client.RedactedURL(req), client.MaxErrorText), "status", resp.StatusCode,
		"seconds", time.Since(start).Seconds(), "request_id", client.RequestID(resp.Header, redact))
	if err := client.CheckResponse(resp, redact); err != nil {
		client.DrainAndClose(resp.Body)
		return nil, credential, err
	}
	return resp, credential, nil
}

// renew replaces a credential refused with 401, once per listing.
func (p *pager) renew(ctx context.Context, credential string, refusal error) error {
	if p.renewed {
		return client.AuthFailure(fmt.Errorf("refused again after renewal: %w", refusal))
	}
	p.renewed = true
	if err := p.client.auth.Renew(ctx, credential); err != nil {
		var identityErr *client.IdentityError
		if errors.As(err, &identityErr) {
			// The identity service failed: whether the credentials are good is unknown.
			return client.IdentityFailure(fmt.Errorf("%w; renewing the credential: %w", refusal, identityErr.Err))
		}
		var authErr *client.AuthError
		if errors.As(err, &authErr) {
			err = authErr.Err
		}
		return client.AuthFailure(fmt.Errorf("%w; renewing the credential: %w", refusal, err))
	}
	return nil
}

// retryable statuses: throttling (429; Nova's overLimit may also come as 413) and gateways
// or services that are briefly unavailable. Other 4xx are the request's fault and 500 is
// Nova's own failure (Glance unreachable): retrying them only adds load.
func retryable(status int) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusRequestEntityTooLarge,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// wait sleeps before retry number retries+1: the server's Retry-After if it gave one, else
// an exponential backoff with jitter. It fails at once if the wait would pass ctx's deadline.
func (c *Client) wait(ctx context.Context, retries int, apiErr *client.APIError) error {
	delay := apiErr.RetryAfter
	if delay == 0 {
		backoff := min(c.opts.RetryBackoff<<min(retries, 10), maxBackoff)
		delay = backoff/2 + rand.N(backoff/2+1)
	}
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < delay {
		return fmt.Errorf("%w; not retried: waiting %s would pass the scrape deadline", apiErr, delay.Round(time.Millisecond))
	}
	level.Debug(c.opts.Logger).Log("msg", "retrying", "status", apiErr.StatusCode, "fault", apiErr.Fault, "after", delay)
	timer := time.NewTimer(delay)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w; retry abandoned: %w", apiErr, ctx.Err())
	}
}

func (p *pager) request(ctx context.Context) (*http.Request, error) {
	u := *p.base
	query := filters(p.opts)
	if p.opts.PageSize > 0 {
		query.Set("limit", strconv.Itoa(p.opts.PageSize))
	}
	if p.marker != "" {
		query.Set("marker", p.marker)
	}
	u.RawQuery = client.EncodeQuery(query)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", p.client.opts.UserAgent)
	return req, nil
}

// decodePage streams one page: each image is decoded, validated and handed to fn before
// the next is read, and nothing else of the body is kept. It reports whether the page
// carries a next link.
func decodePage(resp *http.Response, maxBytes int64, metadataKeys []string, fn func(client.Image) error) (hasNext bool, err error) {
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		if mediaType, _, _ := mime.ParseMediaType(ct); !strings.HasSuffix(mediaType, "json") {
			return false, fmt.Errorf("response is %s, not JSON", client.Sanitize(ct, 64))
		}
	}
	body := &cappedReader{r: resp.Body, left: maxBytes}
	guard := &valueGuard{r: body}
	dec := json.NewDecoder(guard)
	var sawImages bool
	err = decodeObject(dec, guard, func(key string) error {
		switch key {
		case "images":
			sawImages = true
			return decodeImages(dec, guard, metadataKeys, fn)
		case "images_links":
			var links []struct {
				Rel string `json:"rel"`
			}
			if err := dec.Decode(&links); err != nil {
				return fmt.Errorf("images_links: %w", malformed(err))
			}
			for _, l := range links {
				hasNext = hasNext || l.Rel == "next"
			}
			return nil
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return fmt.Errorf("%q: %w", client.Sanitize(key, 64), malformed(err))
			}
			return nil
		}
	})
	if body.exceeded {
		return false, fmt.Errorf("response body larger than %d bytes (--client.max-response-bytes)", maxBytes)
	}
	if err == nil && !sawImages {
		// A 200 without the list (a gateway's error page in JSON, say) is no listing at all,
		// not an empty one: taking it as empty would drop every image and still say up.
		return false, errors.New(`the answer has no "images" list`)
	}
	return hasNext, err
}

// decodeObject reads a JSON object from dec, calling fn with dec positioned at each value.
// guard counts each key with its value.
func decodeObject(dec *json.Decoder, guard *valueGuard, fn func(key string) error) error {
	if err := expectDelim(dec, '{'); err != nil {
		return err
	}
	for guard.next(); dec.More(); guard.next() {
		tok, err := dec.Token()
		if err != nil {
			return malformed(err)
		}
		key, _ := tok.(string)
		if err := fn(key); err != nil {
			return err
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		if errors.Is(err, errValueTooLarge) {
			return err
		}
		return errors.New("malformed JSON: data after the top-level object")
	}
	return nil
}

// decodeImages decodes the images list, each image counted by guard on its own.
func decodeImages(dec *json.Decoder, guard *valueGuard, metadataKeys []string, fn func(client.Image) error) error {
	if err := expectDelim(dec, '['); err != nil {
		return fmt.Errorf("images: %w", err)
	}
	var w wireImage
	for i := 0; ; i++ {
		guard.next()
		if !dec.More() {
			break
		}
		w.reset(metadataKeys)
		if err := dec.Decode(&w); err != nil {
			return fmt.Errorf("images[%d]: %w", i, malformed(err))
		}
		img, err := w.image()
		if err != nil {
			return fmt.Errorf("images[%d]: %w", i, err)
		}
		if err := fn(img); err != nil {
			return err
		}
	}
	if err := expectDelim(dec, ']'); err != nil {
		return fmt.Errorf("images: %w", err)
	}
	return nil
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return malformed(err)
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

// malformed labels decoding errors so that a log line says what was wrong with the body.
func malformed(err error) error {
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &typeErr):
		return fmt.Errorf("wrong JSON type: field %s holds a %s", typeErr.Field, typeErr.Value)
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

// filters are opts in images-detail's query parameters. Nova hands them to Glance v2:
// minRam and minDisk become min_ram and min_disk (exact matches), changes-since becomes
// updated_at=gte:, type and server become the image_type and instance_uuid properties.
func filters(opts client.ListOptions) url.Values {
	query := url.Values{}
	for key, value := range map[string]string{"name": opts.Name, "status": opts.Status, "type": opts.Type, "server": opts.Server} {
		if value != "" {
			query.Set(key, value)
		}
	}
	for key, value := range map[string]*int{"minRam": opts.MinRAM, "minDisk": opts.MinDisk} {
		if value != nil {
			query.Set(key, strconv.Itoa(*value))
		}
	}
	if !opts.ChangesSince.IsZero() {
		query.Set("changes-since", opts.ChangesSince.UTC().Format(time.RFC3339))
	}
	return query
}
