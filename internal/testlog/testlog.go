// Package testlog holds what the tests of several packages (cmd, targets, collector, and the
// dashboards module) need to read a log written while the code under test runs: a buffer
// safe for concurrent writes. It is not part of the exporter.
package testlog

import (
	"bytes"
	"strings"
	"sync"
)

// Buffer collects log lines, written from any goroutine, for a test to read. The zero
// Buffer is empty and ready.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Take returns the lines written since the last Take, and forgets them.
func (b *Buffer) Take() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	lines := strings.Split(strings.TrimSpace(b.buf.String()), "\n")
	b.buf.Reset()
	if len(lines) == 1 && lines[0] == "" {
		return nil
	}
	return lines
}
