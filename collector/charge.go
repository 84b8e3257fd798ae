package collector

import (
	"fmt"
	"io"
	"sync/atomic"
)

// memoryBound is what the listings of every cloud held at once are charged, and its
// bound: a Memory's, which every listing's charge draws on.
type memoryBound struct {
	max  int64 // 0: no bound
	held atomic.Int64
}

// take charges n bytes if they fit.
func (b *memoryBound) take(n int64) bool {
	for {
		held := b.held.Load()
		if b.max > 0 && held+n > b.max {
			return false
		}
		if b.held.CompareAndSwap(held, held+n) {
			return true
		}
	}
}

// newCharge is a listing's charge, held by its flight.
func (b *memoryBound) newCharge() *charge {
	c := &charge{bound: b}
	c.holders.Store(1)
	return c
}

// MemoryError says that a listing or rendering would take the listings held at once past
// Memory's bound.
type MemoryError struct{ Max int64 }

// Error names the bound and its flag.
func (e *MemoryError) Error() string {
	return fmt.Sprintf("the listings held at once, of every cloud, would take more than %d bytes of images (--listings.max-bytes)", e.Max)
}

// charge is what one listing is charged, held by its flight, the scrapes given it and the
// cache.
type charge struct {
	bound   *memoryBound
	holders atomic.Int64
	bytes   atomic.Int64
}

// add charges n bytes more, or fails with a MemoryError; nil charges nothing.
func (c *charge) add(n int64) error {
	if c == nil {
		return nil
	}
	if !c.bound.take(n) {
		return &MemoryError{Max: c.bound.max}
	}
	c.bytes.Add(n)
	return nil
}

// sub gives back n bytes charged by add.
func (c *charge) sub(n int64) {
	if c == nil {
		return
	}
	c.bytes.Add(-n)
	c.bound.held.Add(-n)
}

// retain adds n holders.
func (c *charge) retain(n int) {
	if c != nil {
		c.holders.Add(int64(n))
	}
}

// release lets go of one holder: the last gives back what the listing was charged.
func (c *charge) release() {
	if c != nil && c.holders.Add(-1) == 0 {
		c.bound.held.Add(-c.bytes.Load())
	}
}

// chargedWriter charges what it writes to w, failing when that does not fit; charged is
// the total.
type chargedWriter struct {
	w       io.Writer
	charge  *charge
	charged int64
}

func (c *chargedWriter) Write(p []byte) (int, error) {
	if err := c.charge.add(int64(len(p))); err != nil {
		return 0, err
	}
	c.charged += int64(len(p))
	return c.w.Write(p)
}
