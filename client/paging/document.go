package paging

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/nova-image-exporter/nova_image_exporter/client"
)

// maxDocumentBytes bounds a small JSON document of an API (a quota answer is some
// hundreds of bytes).
const maxDocumentBytes = 1 << 20

// GetDocument requests one small JSON document of service's endpoint (path joined to it
// by locate) and decodes it into v, under the listing machinery's credentials, retries
// and redaction. It is sent beside a listing whose credential the cloud accepted, and
// never authenticates on its own: it renews no token, not even one about to expire, and
// a 401 is final (a client.AuthError). what names the document in errors ("quota
// usage"). It returns the redactor of the request's secrets, for the texts of v that
// become label values.
func (r *Requester) GetDocument(ctx context.Context, service, what string, locate func(endpoint *url.URL) *url.URL, v any) (client.Redactor, error) {
	var redact client.Redactor
	err := r.Run(ctx, PageSize{}, service, service+" endpoint", "", func(ctx context.Context, l *Listing, endpoint *url.URL) error {
		l.borrow()
		u := locate(endpoint)
		err := l.Fetch(ctx, u, func(resp *http.Response) error { return decodeDocument(resp, v, l.redact) })
		if err != nil {
			return fmt.Errorf("%s (GET %s): %w", what, l.redact.Text(u.Path, 256), err)
		}
		redact = l.redact
		return nil
	})
	return redact, err
}

// decodeDocument decodes a JSON answer of at most maxDocumentBytes into v; an error quotes
// none of it but without redact's secrets.
func decodeDocument(resp *http.Response, v any, redact client.Redactor) error {
	if err := checkJSON(resp, redact); err != nil {
		return err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocumentBytes+1))
	if err != nil {
		return fmt.Errorf("reading the answer: %w", err)
	}
	if len(body) > maxDocumentBytes {
		return fmt.Errorf("answer larger than %d bytes (a fixed bound)", maxDocumentBytes)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return Malformed(err)
	}
	return nil
}

// MaxQuotas bounds the quotas one answer may report: Glance has four, IMS three.
const MaxQuotas = 64

// MaxQuota bounds a quota's limit or usage as an API sends it: beyond it, in MiB, the bytes
// would not fit an int64.
const MaxQuota = 1 << 42

// QuotaNumber checks a quota's limit or usage as the API sent it: a whole number from 0 to
// MaxQuota, or -1 for a limit that is unlimited. One not sent, or sent as null, is an error:
// taken as unlimited or as nothing used, it would say what the API did not. An error names
// the resource without redact's secrets.
func QuotaNumber(redact client.Redactor, resource, field string, value *int64, unlimitedAllowed bool) (n int64, unlimited bool, err error) {
	switch {
	case value == nil:
		return 0, false, fmt.Errorf("quota %s: no %s", redact.Text(resource, 64), field)
	case *value == -1 && unlimitedAllowed:
		return 0, true, nil
	case *value < 0 || *value > MaxQuota:
		return 0, false, fmt.Errorf("quota %s: %s is out of range (%d)", redact.Text(resource, 64), field, *value)
	}
	return *value, false, nil
}
