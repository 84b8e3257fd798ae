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

// QuotaFields are an API's names of a quota's limit and usage in its answer, for errors.
type QuotaFields struct{ Limit, Usage string }

// RawQuota is one quota as the API sent it: limit and usage as decoded, nil for one not
// sent or sent as null.
type RawQuota struct {
	Resource     string
	Limit, Usage *int64
	MiB          bool // limit and usage are MiB: the quota is converted to bytes
}

// QuotaList checks and collects the quotas of one answer: each resource once, by its label
// value, and each limit and usage a QuotaNumber.
type QuotaList struct {
	redact client.Redactor
	what   string // the answer, in errors: "quota usage"
	fields QuotaFields
	quotas []client.Quota
	seen   map[string]bool // by label value: resources alike once cut or redacted are one series
}

// NewQuotaList starts the list of an answer of n quotas (what names it in errors, fields
// its limit and usage; redact removes the request's secrets from every text of it): it
// fails when n passes MaxQuotas.
func NewQuotaList(redact client.Redactor, what string, fields QuotaFields, n int) (*QuotaList, error) {
	if n > MaxQuotas {
		return nil, fmt.Errorf("%s: more than %d quotas in the answer", what, MaxQuotas)
	}
	return &QuotaList{redact: redact, what: what, fields: fields, quotas: make([]client.Quota, 0, n), seen: map[string]bool{}}, nil
}

// Add checks q and adds it, its resource a label value without secrets, cut.
func (l *QuotaList) Add(q RawQuota) error {
	label := l.redact.Label(q.Resource, client.MaxStatusBytes)
	if l.seen[label] {
		return l.redact.Err(fmt.Errorf("%s: resource %s listed twice", l.what, l.redact.Quote(q.Resource, 64)))
	}
	l.seen[label] = true
	limit, unlimited, err := QuotaNumber(l.redact, q.Resource, l.fields.Limit, q.Limit, true)
	if err != nil {
		return l.redact.Err(err)
	}
	usage, _, err := QuotaNumber(l.redact, q.Resource, l.fields.Usage, q.Usage, false)
	if err != nil {
		return l.redact.Err(err)
	}
	quota := client.Quota{Resource: label, Limit: limit, Usage: usage, Unlimited: unlimited}
	if q.MiB {
		quota.Bytes, quota.Limit, quota.Usage = true, limit<<20, usage<<20 // at most MaxQuota MiB
	}
	l.quotas = append(l.quotas, quota)
	return nil
}

// Quotas are the quotas added, in the order added.
func (l *QuotaList) Quotas() []client.Quota { return l.quotas }

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
