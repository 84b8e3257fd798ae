package client

import (
	"net/http"
	"time"

	"github.com/go-kit/log"
)

// Defaults for Options.
const (
	DefaultMaxPages = 10000
	// DefaultMaxResponseBytes is some 6 times a page of 1 000 real images (Nova's largest
	// page by default). Each image costs about 250 bytes however few bytes it takes on the
	// wire: a page of 8 MiB of the smallest images peaks at about 85 MiB of heap.
	DefaultMaxResponseBytes = 8 << 20
	// DefaultMaxListingBytes bounds what one listing hands over, some 3 times a listing of
	// 100 000 real images: a server answering page after page of small images would
	// otherwise fill memory 8 MiB at a time.
	DefaultMaxListingBytes = 128 << 20
	DefaultRequestTimeout  = time.Minute
	DefaultMaxRetries      = 3
	DefaultRetryBackoff    = 500 * time.Millisecond
	// MaxRetries bounds Options.MaxRetries: beyond a few retries a listing is better
	// reported failed than kept waiting.
	MaxRetries = 10
)

// DefaultUserAgent is the User-Agent of a client whose Options set none.
const DefaultUserAgent = "nova_image_exporter"

// Options tune a cloud's image source and its HTTP client; the zero value takes the
// defaults above.
type Options struct {
	// HTTPClient sends every request, authentication included; nil builds one with
	// connection, TLS and response-header timeouts and RequestTimeout overall.
	HTTPClient *http.Client
	// RequestTimeout bounds one HTTP request when HTTPClient is nil.
	RequestTimeout time.Duration
	// MaxResponseBytes cuts off a page larger than this, counted after decompression.
	MaxResponseBytes int64
	// MaxPages stops a listing that would need more pages than this.
	MaxPages int
	// MaxListingBytes stops a listing whose images, counted by ImageBytes, pass this.
	MaxListingBytes int64
	// UserAgent is sent with every request.
	UserAgent string
	// Logger receives a debug line per request; nil logs nothing.
	Logger log.Logger
	// MaxRetries is how often a throttled or transiently failing request is retried
	// (0 takes DefaultMaxRetries; negative never retries).
	MaxRetries int
	// RetryBackoff is the first retry's backoff, doubled for each further retry.
	RetryBackoff time.Duration
	// MetadataKeys are the metadata keys whose values Image.Metadata holds; other
	// metadata is skipped while decoding.
	MetadataKeys []string
	// WrapTransport, when set, wraps the transport of the http.Client built when HTTPClient
	// is nil, e.g. to count requests.
	WrapTransport func(http.RoundTripper) http.RoundTripper
	// Now is the authenticator's clock, of token expiry and request signatures; nil means
	// time.Now.
	Now func() time.Time
}

// WithDefaults returns o with the defaults in place of its zero fields.
func (o Options) WithDefaults() Options {
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	if o.HTTPClient == nil {
		o.HTTPClient = o.BuildHTTPClient(nil)
	}
	if o.MaxRetries == 0 {
		o.MaxRetries = DefaultMaxRetries
	}
	if o.RetryBackoff <= 0 {
		o.RetryBackoff = DefaultRetryBackoff
	}
	if o.MaxResponseBytes <= 0 {
		o.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if o.MaxListingBytes <= 0 {
		o.MaxListingBytes = DefaultMaxListingBytes
	}
	if o.MaxPages <= 0 {
		o.MaxPages = DefaultMaxPages
	}
	if o.UserAgent == "" {
		o.UserAgent = DefaultUserAgent
	}
	if o.Logger == nil {
		o.Logger = log.NewNopLogger()
	}
	return o
}
