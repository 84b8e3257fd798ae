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
