package client

import (
	"net/http"
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
}

// NewRedactor removes every non-empty secret given.
func NewRedactor(secrets ...string) Redactor {
	kept := make([]string, 0, len(secrets))
	for _, s := range secrets {
		if s != "" && !slices.Contains(kept, s) {
			kept = append(kept, s)
		}
	}
	slices.SortFunc(kept, func(a, b string) int { return len(b) - len(a) })
	return Redactor{secrets: kept}
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

// Text is s, a server's text, without secrets, safe for a log line and cut at max runes.
// Secrets go before the cut, so that no prefix of one is left.
func (r Redactor) Text(s string, max int) string {
	return Sanitize(r.Redact(s), max)
}

// Redact replaces every secret in s.
func (r Redactor) Redact(s string) string {
	for _, secret := range r.secrets {
		s = strings.ReplaceAll(s, secret, Redacted)
	}
	return s
}
