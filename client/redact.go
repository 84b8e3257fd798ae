package client

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// Redacted stands for a secret removed from a server's text.
const Redacted = "<redacted>"

// Redactor removes secrets from text that a server sent (a fault message, a fault name, a
// request id, a Content-Type) before that text reaches an error or a log line: a server may
// quote the password it refused, the token it refused, or the Authorization header.
type Redactor struct {
	secrets []string // longest first, so that a secret holding another goes whole
	upper   []string // the secrets upper-cased, for a status, which the client upper-cases
}

// NewRedactor removes every non-empty secret given, as it is and in the escaped forms a
// server quoting it from a URL or a form would use.
func NewRedactor(secrets ...string) Redactor {
	kept := make([]string, 0, 3*len(secrets))
	for _, s := range secrets {
		for _, form := range []string{s, url.QueryEscape(s), url.PathEscape(s)} {
			if form != "" && !slices.Contains(kept, form) {
				kept = append(kept, form)
			}
		}
	}
	slices.SortFunc(kept, func(a, b string) int { return len(b) - len(a) })
	upper := make([]string, len(kept))
	for i, secret := range kept {
		upper[i] = strings.ToUpper(secret)
	}
	return Redactor{secrets: kept, upper: upper}
}

// RequestRedactor removes the secrets the authenticator holds and the credentials that req
// carried: its token, security token, Authorization header and signature.
func RequestRedactor(auth Authenticator, req *http.Request) Redactor {
	secrets := auth.Secrets()
	if req != nil {
		secrets = append(secrets, requestCredentials(req.Header)...)
	}
	return NewRedactor(secrets...)
}

// requestCredentials are the secrets on a request's headers.
func requestCredentials(h http.Header) []string {
	credentials := []string{h.Get("X-Auth-Token"), h.Get("X-Security-Token"), h.Get("Authorization")}
	if _, signature, ok := strings.Cut(h.Get("Authorization"), "Signature="); ok {
		credentials = append(credentials, strings.TrimSpace(signature))
	}
	return credentials
}

// Every text a server sent goes through the Redactor before it is quoted, escaped or cut:
// a cut could leave a secret's first bytes, which no longer match it, and quoting could
// escape a secret's quotes and backslashes, so that its text no longer matches it.

// Text is s, a server's text, without secrets, safe for a log line and cut at max bytes.
func (r Redactor) Text(s string, max int) string {
	return Sanitize(r.Redact(s), max)
}

// Quote is s, a server's text, without secrets, cut at max bytes and quoted as %q does.
func (r Redactor) Quote(s string, max int) string {
	return QuoteTruncated(r.Redact(s), max)
}

// Label is v, a server's text, without secrets and cut at max bytes: a label value.
func (r Redactor) Label(v string, max int) string {
	return CutLabel(r.label(v), max)
}

// Redact replaces every secret in s.
func (r Redactor) Redact(s string) string {
	for _, secret := range r.secrets {
		s = strings.ReplaceAll(s, secret, Redacted)
	}
	return s
}

// MaxErrorText bounds the text of a listing's error: enough for a status, a fault, a
// message and a request id, bounded against a server whose status line or field runs long.
const MaxErrorText = 2048

// Err is err with its text redacted and cut at MaxErrorText; errors.Is and errors.As still
// see the original.
func (r Redactor) Err(err error) error {
	if err == nil {
		return nil
	}
	return &redactedError{text: r.Text(err.Error(), MaxErrorText), err: err}
}

// redactedError is an error whose text went through a Redactor.
type redactedError struct {
	text string
	err  error
}

// Error returns the redacted text.
func (e *redactedError) Error() string { return e.text }

// Unwrap returns the original error, for errors.Is and errors.As; its text may hold secrets.
func (e *redactedError) Unwrap() error { return e.err }

// Image is img with every secret removed from its label values, which are then cut to
// their bounds (MaxLabelBytes, MaxIDBytes, MaxStatusBytes): a server may name an image after
// the token it was sent. The id is not cut: one longer than MaxIDBytes fails the listing.
func (r Redactor) Image(img Image) Image {
	img.ID = r.label(img.ID)
	img.Name, img.ServerID = r.Label(img.Name, MaxLabelBytes), r.Label(img.ServerID, MaxIDBytes)
	img.Owner, img.ServerOwner = r.Label(img.Owner, MaxIDBytes), r.Label(img.ServerOwner, MaxIDBytes)
	if holds(img.Status, r.upper) {
		img.Status = Redacted
	}
	img.Status = CutLabel(img.Status, MaxStatusBytes)
	img.APIStatus, img.Visibility = r.Label(img.APIStatus, MaxStatusBytes), r.Label(img.Visibility, MaxStatusBytes)
	for i, v := range img.Metadata {
		if clean := r.Label(v.Value, MaxLabelBytes); clean != v.Value {
			img.Metadata = slices.Clone(img.Metadata)
			img.Metadata[i].Value = clean
		}
	}
	for i, problem := range img.Problems {
		if clean := r.label(problem); clean != problem {
			img.Problems = slices.Clone(img.Problems)
			img.Problems[i] = clean
		}
	}
	return img
}

// label is v without secrets; v itself, not a copy, when it holds none (the usual case).
func (r Redactor) label(v string) string {
	if holds(v, r.secrets) {
		return r.Redact(v)
	}
	return v
}

// holds reports whether v holds one of secrets.
func holds(v string, secrets []string) bool {
	for _, secret := range secrets {
		if len(secret) <= len(v) && strings.Contains(v, secret) {
			return true
		}
	}
	return false
}

// userinfo matches the user:password@ part of a URL in text that may not parse as one.
var userinfo = regexp.MustCompile(`//[^/@\s]*@`)

// RedactURLText removes user information from a URL that did not parse.
func RedactURLText(raw string) string {
	return Sanitize(userinfo.ReplaceAllString(raw, "//"), 256)
}

// RedactedURL is the request URL without user information.
func RedactedURL(req *http.Request) string {
	u := *req.URL
	u.User = nil
	return u.String()
}
