package client

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTruncate(t *testing.T) {
	for _, c := range []struct {
		in    string
		limit int
		want  string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{strings.Repeat("a", 20), 10, "aaaaaaaaaa...(cut, 20 bytes in all)"},
		{"aaaaaaaaa€€", 10, "aaaaaaaaa...(cut, 15 bytes in all)"},       // € is 3 bytes: not split
		{"\x80\x80\x80\x80\x80\x80", 4, "\x80...(cut, 6 bytes in all)"}, // backs up 3 bytes at most
	} {
		if got := Truncate(c.in, c.limit); got != c.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", c.in, c.limit, got, c.want)
		}
	}
	long := strings.Repeat("é", 500_000)
	got := QuoteTruncated(long, 101)
	if len(got) > 101+2+40 || !utf8.ValidString(got) || !strings.HasSuffix(got, `"...(cut, 1000000 bytes in all)`) {
		t.Errorf("QuoteTruncated of 1 MB: %d bytes, %q", len(got), got[:min(len(got), 200)])
	}
	if got := QuoteTruncated(`a"b`, 10); got != `"a\"b"` {
		t.Errorf("QuoteTruncated quotes: %s", got)
	}
}

// Every way of cutting text cuts on a character boundary and within its bound in bytes,
// whatever the characters: they all go through cutUTF8.
func TestCutsKeepCharactersWhole(t *testing.T) {
	cuts := map[string]struct {
		cut    func(string, int) string
		marker func(length int) string // what a cut text ends in, beyond the bound
	}{
		"Truncate": {Truncate, truncatedMarker},
		"Shorten":  {Shorten, func(int) string { return "…" }},
		"CutLabel": {CutLabel, func(int) string { return "" }},
		"Sanitize": {Sanitize, func(int) string { return "…" }},
		"Redactor": {func(s string, n int) string { return NewRedactor("secret").Text(s, n) }, func(int) string { return "…" }},
	}
	for _, text := range []string{"ascii only", "é€𝄞 mixed 名前 text", "名前名前名前名前", "𝄞𝄞𝄞𝄞"} {
		for limit := 0; limit <= len(text); limit++ {
			for name, c := range cuts {
				got := c.cut(text, limit)
				if !utf8.ValidString(got) {
					t.Errorf("%s(%q, %d) = %q splits a character", name, text, limit, got)
				}
				if bound := limit + len(c.marker(len(text))); len(got) > bound {
					t.Errorf("%s(%q, %d) = %q: %d bytes, more than %d", name, text, limit, got, len(got), bound)
				}
			}
		}
	}
}
