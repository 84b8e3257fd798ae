package collector

import (
	"container/list"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nova-image-exporter/nova_image_exporter/collector/exposition"
)

// Memory bounds what the listings of every cloud hold at once, and keeps the cache of them.
// A listing is charged its images, counted by client.ImageBytes (as --client.max-listing-bytes
// counts them), as they are handed over, and the compressed rendering that gzip scrapes of it
// share, as it is made. The charge lasts as long as anything holds the listing (its flight,
// a scrape being answered, the cache) and goes with the last of them. A listing that cannot
// be charged fails (MemoryError); a rendering that cannot is not kept.
type Memory struct {
	maxBytes, maxCacheBytes int64 // 0: no bound
	held                    atomic.Int64

	mu         sync.Mutex
	entries    map[cacheKey]*list.Element // of *cacheEntry, in order
	order      *list.List                 // oldest first
	cacheBytes int64                      // what the entries count, within maxCacheBytes
}

// cacheEntryBytes is what an entry counts besides its images: its key and bookkeeping, so
// that listings of no image do not fill the cache for free.
const cacheEntryBytes = 512

// cacheKey is one Listings' listing of one selection.
type cacheKey struct {
	owner *Listings
	key   string
}

type cacheEntry struct {
	key       cacheKey
	inventory Inventory
	bytes     int64
	expires   time.Time
	expiry    *time.Timer // drops the entry when it expires
}

// NewMemory bounds the listings held at once to maxBytes, and the cached ones, of every
// cloud, to maxCacheBytes; 0 is no bound.
func NewMemory(maxBytes, maxCacheBytes int64) *Memory {
	return &Memory{maxBytes: maxBytes, maxCacheBytes: maxCacheBytes, entries: map[cacheKey]*list.Element{}, order: list.New()}
}

// MemoryError says that a listing or rendering would take the listings held at once past
// Memory's bound.
type MemoryError struct{ Max int64 }

// Error names the bound and its flag.
func (e *MemoryError) Error() string {
	return fmt.Sprintf("the listings held at once, of every cloud, would take more than %d bytes of images (--listings.max-bytes)", e.Max)
}

// take charges n bytes if they fit.
func (m *Memory) take(n int64) bool {
	for {
		held := m.held.Load()
		if m.maxBytes > 0 && held+n > m.maxBytes {
			return false
		}
		if m.held.CompareAndSwap(held, held+n) {
			return true
		}
	}
}

// heldBytes is what the listings held are charged.
func (m *Memory) heldBytes() int64 { return m.held.Load() }

// cachedBytes is what the cache counts.
func (m *Memory) cachedBytes() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cacheBytes
}

// charge is what one listing is charged, held by its flight, the scrapes given it and the
// cache.
type charge struct {
	memory  *Memory
	holders atomic.Int64
	bytes   atomic.Int64
}

// newCharge is a listing's charge, held by its flight.
func (m *Memory) newCharge() *charge {
	c := &charge{memory: m}
	c.holders.Store(1)
	return c
}

// add charges n bytes more, or fails with a MemoryError; nil charges nothing.
func (c *charge) add(n int64) error {
	if c == nil {
		return nil
	}
	if !c.memory.take(n) {
		return &MemoryError{Max: c.memory.maxBytes}
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
	c.memory.held.Add(-n)
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
		c.memory.held.Add(-c.bytes.Load())
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

// cached returns the inventory of owner's listing of key if the cache holds it and it has
// not expired, as one more holder.
func (m *Memory) cached(owner *Listings, key string) (Inventory, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	element, ok := m.entries[cacheKey{owner, key}]
	if !ok {
		return Inventory{}, false
	}
	entry := element.Value.(*cacheEntry)
	if !time.Now().Before(entry.expires) {
		m.dropLocked(element)
		return Inventory{}, false
	}
	entry.inventory.charge.retain(1)
	return entry.inventory, true
}

// store caches the inventory of owner's listing of key for ttl, in place of any before it,
// dropping the oldest entries of any cloud to keep within maxCacheBytes; an inventory larger
// than that is not kept.
func (m *Memory) store(owner *Listings, key string, inventory Inventory, ttl time.Duration) {
	k := cacheKey{owner, key}
	m.mu.Lock()
	defer m.mu.Unlock()
	if element, ok := m.entries[k]; ok {
		m.dropLocked(element)
	}
	bytes := inventory.bytes + cacheEntryBytes + int64(len(key))
	if m.maxCacheBytes > 0 && bytes > m.maxCacheBytes {
		return
	}
	for m.maxCacheBytes > 0 && m.cacheBytes+bytes > m.maxCacheBytes {
		m.dropLocked(m.order.Front())
	}
	entry := &cacheEntry{key: k, inventory: inventory, bytes: bytes, expires: inventory.At.Add(ttl)}
	inventory.charge.retain(1)
	element := m.order.PushBack(entry)
	m.entries[k] = element
	m.cacheBytes += bytes
	// Dropped when it expires, so that a listing nobody asks for again is not held.
	entry.expiry = time.AfterFunc(time.Until(entry.expires), func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.entries[k] == element {
			m.dropLocked(element)
		}
	})
}

// dropLocked takes an entry out of the cache, which no longer holds its inventory.
func (m *Memory) dropLocked(element *list.Element) {
	entry := m.order.Remove(element).(*cacheEntry)
	delete(m.entries, entry.key)
	m.cacheBytes -= entry.bytes
	if entry.expiry != nil {
		entry.expiry.Stop()
	}
	entry.inventory.charge.release()
}

var (
	listingsHeldBytesDesc = prometheus.NewDesc(prometheus.BuildFQName(exposition.Namespace, ExporterSubsystem, "listings_held_bytes"),
		"What the listings held at once count, across every cloud: in flight, being answered or cached, as --client.max-listing-bytes counts them, with the renderings gzip scrapes share; at most --listings.max-bytes.", nil, nil)
	cacheBytesDesc = prometheus.NewDesc(prometheus.BuildFQName(exposition.Namespace, ExporterSubsystem, "cache_bytes"),
		"What the --cache.ttl cache counts, across every cloud: its listings' images, as --client.max-listing-bytes counts them, plus 512 bytes an entry; at most --cache.max-bytes.", nil, nil)
)

// Describe says what m exports.
func (m *Memory) Describe(ch chan<- *prometheus.Desc) {
	ch <- listingsHeldBytesDesc
	ch <- cacheBytesDesc
}

// Collect exports what m counts now.
func (m *Memory) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(listingsHeldBytesDesc, prometheus.GaugeValue, float64(m.heldBytes()))
	ch <- prometheus.MustNewConstMetric(cacheBytesDesc, prometheus.GaugeValue, float64(m.cachedBytes()))
}
