package collector

import (
	"container/list"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nova-image-exporter/nova_image_exporter/collector/exposition"
)

// Memory bounds what the listings of every cloud hold at once, and keeps the cache of them.
// A listing is charged the images it keeps, counted by client.ImageBytes (as
// --client.max-listing-bytes counts them), and its tally of every image (Tally.Bytes), as they
// are handed over, and the compressed rendering that gzip scrapes of it
// share, as it is made. The charge lasts as long as anything holds the listing (its flight,
// a scrape being answered, the cache) and goes with the last of them. A listing that cannot
// be charged fails (MemoryError); a rendering that cannot is not kept.
type Memory struct {
	bound         memoryBound // what the listings held are charged
	maxCacheBytes int64       // 0: no bound

	mu         sync.Mutex
	entries    map[cacheKey]*list.Element // of *cacheEntry, in order
	order      *list.List                 // oldest first
	cacheBytes int64                      // what the entries count, within maxCacheBytes
}

// cacheEntryBytes is what an entry counts besides its images: its key and bookkeeping, so
// that listings of no image do not fill the cache for free.
const cacheEntryBytes = 512

// cacheKey is one cloud's listing of one selection. owner is the cloud's Listings, told
// apart by identity alone (any: the cache comes before the Listings that use it).
type cacheKey struct {
	owner any
	key   string
}

type cacheEntry struct {
	key       cacheKey
	inventory Inventory
	err       error // why the listing failed: its inventory holds no image then
	bytes     int64
	expires   time.Time
	expiry    *time.Timer // drops the entry when it expires
}

// NewMemory bounds the listings held at once to maxBytes, and the cached ones, of every
// cloud, to maxCacheBytes; 0 is no bound.
func NewMemory(maxBytes, maxCacheBytes int64) *Memory {
	m := &Memory{maxCacheBytes: maxCacheBytes, entries: map[cacheKey]*list.Element{}, order: list.New()}
	m.bound.max = maxBytes
	return m
}

// heldBytes is what the listings held are charged.
func (m *Memory) heldBytes() int64 { return m.bound.held.Load() }

// cachedBytes is what the cache counts.
func (m *Memory) cachedBytes() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cacheBytes
}

// newCharge is a listing's charge, held by its flight.
func (m *Memory) newCharge() *charge { return m.bound.newCharge() }

// cached returns the inventory of owner's listing of key, as one more holder, or why it
// failed, if the cache holds it and it has not expired; found is false otherwise.
func (m *Memory) cached(owner any, key string) (inventory Inventory, found bool, failure error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	element, ok := m.entries[cacheKey{owner, key}]
	if !ok {
		return Inventory{}, false, nil
	}
	entry := element.Value.(*cacheEntry)
	if !time.Now().Before(entry.expires) {
		m.dropLocked(element)
		return Inventory{}, false, nil
	}
	entry.inventory.charge.retain(1)
	return entry.inventory, true, entry.err
}

// store caches the outcome of owner's listing of key, its inventory or why it failed
// (failure), until lifetime after the listing ended, in place of any before it, dropping the
// oldest entries of any cloud to keep within maxCacheBytes; an inventory larger than that is
// not kept.
func (m *Memory) store(owner any, key string, inventory Inventory, failure error, lifetime time.Duration) {
	k := cacheKey{owner, key}
	m.mu.Lock()
	defer m.mu.Unlock()
	if element, ok := m.entries[k]; ok {
		m.dropLocked(element)
	}
	bytes := inventory.bytes + cacheEntryBytes + int64(len(key))
	if failure != nil {
		bytes += int64(len(failure.Error()))
	}
	if m.maxCacheBytes > 0 && bytes > m.maxCacheBytes {
		return
	}
	for m.maxCacheBytes > 0 && m.cacheBytes+bytes > m.maxCacheBytes {
		m.dropLocked(m.order.Front())
	}
	entry := &cacheEntry{key: k, inventory: inventory, err: failure, bytes: bytes, expires: inventory.At.Add(lifetime)}
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

// forget drops the entries of owner's listings.
func (m *Memory) forget(owner any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for key, element := range m.entries {
		if key.owner == owner {
			m.dropLocked(element)
		}
	}
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
