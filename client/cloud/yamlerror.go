package cloud

import (
	"regexp"
	"strings"
)

// yamlErrorEntry starts each error of a YAML error list ("\n  line 3: cannot unmarshal
// !!str `value` into int"). A quoted value is at most 10 bytes, too short to hold this.
var yamlErrorEntry = regexp.MustCompile(`\n\s*line \d+: `)

// redactYAMLError keeps the line and what was wrong of a YAML error, not the value it
// quotes between backticks: it may be a password, and may hold backticks itself.
func redactYAMLError(err error) string {
	msg := err.Error()
	var b strings.Builder
	start := 0
	for _, entry := range yamlErrorEntry.FindAllStringIndex(msg, -1) {
		b.WriteString(redactQuoted(msg[start:entry[0]]))
		b.WriteString(msg[entry[0]:entry[1]])
		start = entry[1]
	}
	b.WriteString(redactQuoted(msg[start:]))
	return b.String()
}

// redactQuoted replaces everything from the first backtick of s to its last.
func redactQuoted(s string) string {
	first, last := strings.IndexByte(s, '`'), strings.LastIndexByte(s, '`')
	if first < 0 {
		return s
	}
	if first == last {
		return s[:first] + "a value"
	}
	return s[:first] + "a value" + s[last+1:]
}
