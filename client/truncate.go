package client

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Truncate cuts s to at most limit bytes, on a UTF-8 boundary, for an error message or a
// log line; a cut s ends in a marker that says how long it was.
func Truncate(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	return cutUTF8(s, limit) + truncatedMarker(len(s))
}

// QuoteTruncated quotes s as %q does, cut to at most limit bytes first; the marker of a
// cut s follows the closing quote.
func QuoteTruncated(s string, limit int) string {
	if len(s) <= limit {
		return strconv.Quote(s)
	}
	return strconv.Quote(cutUTF8(s, limit)) + truncatedMarker(len(s))
}

// Shorten cuts s to at most limit bytes and ends a cut s with "…": a short excerpt of a
// server's text for a log line or an error.
func Shorten(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	return cutUTF8(s, limit) + "…"
}

// CutLabel cuts s to at most limit bytes, copied when cut so that the rest of s can be
// freed: a label value.
func CutLabel(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	return strings.Clone(cutUTF8(s, limit))
}

// Sanitize makes text from the API safe for a log line: invalid UTF-8 and control
// characters become U+FFFD and spaces, and it is cut at max bytes.
func Sanitize(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
	return Shorten(strings.TrimSpace(s), max)
}

func truncatedMarker(length int) string {
	return fmt.Sprintf("...(cut, %d bytes in all)", length)
}

// cutUTF8 returns s's first n bytes or fewer, not splitting a character that starts within
// the last utf8.UTFMax-1 of them: the one place where text is cut. n < len(s).
func cutUTF8(s string, n int) string {
	n = max(n, 0)
	for back := 0; n > 0 && back < utf8.UTFMax-1 && !utf8.RuneStart(s[n]); back++ {
		n--
	}
	return s[:n]
}
