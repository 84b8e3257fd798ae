package client

import (
	"net/url"
	"sort"
	"strings"
)

// EncodeQuery is the query encoding both of the wire and of the signature: keys and values
// sorted, space as %20. Using it for every request keeps the signed query and the sent
// query identical.
func EncodeQuery(values url.Values) string {
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		vs := append([]string(nil), values[k]...)
		sort.Strings(vs)
		for _, v := range vs {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(EscapeUnreserved(k))
			b.WriteByte('=')
			b.WriteString(EscapeUnreserved(v))
		}
	}
	return b.String()
}

// EscapeUnreserved percent-encodes every byte but A-Z a-z 0-9 - _ . ~, in upper-case hex.
func EscapeUnreserved(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}
