package client

import (
	"fmt"
	"strconv"
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

func truncatedMarker(length int) string {
	return fmt.Sprintf("...(cut, %d bytes in all)", length)
}

// cutUTF8 returns s's first n bytes or fewer, not splitting a character that starts within
// the last utf8.UTFMax-1 of them.
func cutUTF8(s string, n int) string {
	n = max(n, 0)
	for back := 0; n > 0 && back < utf8.UTFMax-1 && !utf8.RuneStart(s[n]); back++ {
		n--
	}
	return s[:n]
}
