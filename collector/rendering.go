package collector

import (
	"bufio"
	"context"
	"errors"
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"

	"github.com/nova-image-exporter/nova_image_exporter/collector/exposition"
)

// renderings hold a listing's image part (exposition.WriteImages), rendered and compressed
// once for every gzip scrape given the listing, one rendering per set of exports. They live
// as long as the listing: until the last scrape given it is answered, or, with --cache.ttl,
// as long as the cache keeps it; the listing's charge in Memory counts them.
type renderings struct {
	mu        sync.Mutex
	byExports map[*exposition.ImageExports]*rendering
}

// rendering is one compressed image part: ready when done is closed, failed if err is set
// (no slot to render it before the deadline of the scrape that was to render it, or no room
// for it in Memory).
type rendering struct {
	done chan struct{}
	part *deflated // the image part, to end a gzip member (writeMember)
	err  error
}

func newRenderings() *renderings {
	return &renderings{byExports: map[*exposition.ImageExports]*rendering{}}
}

// get returns the rendering for exports, made by render if no scrape made it or is making
// it. A scrape that waits for another's rendering waits until it is made (rendering needs
// no network: it ends) or gone ends (the scraper went away), not until its listing deadline:
// a listing that ends near the deadline is still served. If the scrape that was making it
// fails for want of a slot before its deadline, the next waiter makes it; one that found no
// room in Memory fails every scrape of the listing at once (each renders its own).
func (r *renderings) get(gone context.Context, exports *exposition.ImageExports, render func() (*rendering, error)) (*rendering, error) {
	for {
		r.mu.Lock()
		current, found := r.byExports[exports]
		if !found {
			current = &rendering{done: make(chan struct{})}
			r.byExports[exports] = current
		}
		r.mu.Unlock()
		if !found {
			return r.make(exports, current, render)
		}
		select {
		case <-current.done:
			if current.err == nil {
				return current, nil
			}
			if errors.As(current.err, new(*MemoryError)) {
				return nil, current.err
			}
		case <-gone.Done():
			return nil, gone.Err()
		}
	}
}

// make fills slot with what render made, or drops it if render failed.
func (r *renderings) make(exports *exposition.ImageExports, slot *rendering, render func() (*rendering, error)) (*rendering, error) {
	made, err := render()
	if err != nil {
		r.mu.Lock()
		if r.byExports[exports] == slot && !errors.As(err, new(*MemoryError)) {
			delete(r.byExports, exports)
		}
		r.mu.Unlock()
		slot.err = err
		close(slot.done)
		return nil, err
	}
	slot.part = made.part
	close(slot.done)
	return slot, nil
}

// renderDeflated renders the image part of scrape, compressed to end a gzip member and
// charged to charge: a MemoryError if it does not fit.
func renderDeflated(scrape *exposition.Scrape, charge *charge) (*rendering, error) {
	part := &deflated{}
	out := &chargedWriter{w: &part.data, charge: charge}
	d := newDeflater(out)
	buffered := bufio.NewWriterSize(d, 64<<10)
	exposition.WriteImages(buffered, scrape)
	err := buffered.Flush()
	if finishErr := d.finish(); err == nil {
		err = finishErr
	}
	if err != nil {
		charge.sub(out.charged)
		return nil, err
	}
	part.crc, part.size = d.crc, d.size
	return &rendering{part: part}, nil
}

// gzipWriters are reused: a compressor's state is about a megabyte.
var gzipWriters = sync.Pool{New: func() any {
	gz, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
	return gz
}}

// takeGzip returns a compressor at BestSpeed writing a new gzip member to w.
func takeGzip(w io.Writer) *gzip.Writer {
	gz := gzipWriters.Get().(*gzip.Writer)
	gz.Reset(w)
	return gz
}

// putGzip gives gz back for reuse, without the writer it wrote to.
func putGzip(gz *gzip.Writer) {
	gz.Reset(io.Discard)
	gzipWriters.Put(gz)
}
