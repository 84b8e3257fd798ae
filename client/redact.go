package client

import (
	"net/http"
	"slices"
	"strings"
)

// redacted stands for a secret removed from a server's text.
const redacted = "<redacted>"

// redactor removes secrets from text that a server sent (a fault message, a fault name, a
// request id, a Content-Type) before that text reaches an error or a log line: a server may
// quote the password it refused, the token it refused, or the Authorization header.
type redactor struct {
	secrets []string // longest first, so that a secret holding another goes whole
}

// newRedactor removes every non-empty secret given.
func newRedactor(secrets ...string) redactor {
	kept := make([]string, 0, len(secrets))
	for _, s := range secrets {
		if s != "" && !slices.Contains(kept, s) {
			kept = append(kept, s)
		}
	}
	slices.SortFunc(kept, func(a, b string) int { return len(b) - len(a) })
	return redactor{secrets: kept}
}

// requestRedactor removes the secrets the authenticator holds and the credentials that req
// carried: its token, security token, Authorization header and signature.
func requestRedactor(auth Authenticator, req *http.Request) redactor {
	secrets := auth.Secrets()
	if req != nil {
		secrets = append(secrets, requestCredentials(req.Header)...)
	}
	return newRedactor(secrets...)
}

// requestCredentials are the secrets on a request's headers.
func requestCredentials(h http.Header) []string {
	credentials := []string{h.Get("X-Auth-Token"), h.Get("X-Security-Token"), h.Get("Authorization")}
	if _, signature, ok := strings.Cut(h.Get("Authorization"), "Signature="); ok {
		credentials = append(credentials, strings.TrimSpace(signature))
	}
	return credentials
}

// text is s, a server's text, without secrets, safe for a log line and cut at max runes.
// Secrets go before the cut, so that no prefix of one is left.
func (r redactor) text(s string, max int) string {
	return sanitize(r.redact(s), max)
}

// redact replaces every secret in s.
func (r redactor) redact(s string) string {
	for _, secret := range r.secrets {
		s = strings.ReplaceAll(s, secret, redacted)
	}
	return s
}
