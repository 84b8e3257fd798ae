package collector

import (
	"encoding/binary"
	"hash/crc32"
	"io"
	"sync"

	"github.com/klauspost/compress/flate"
)

// A gzip answer that shares a listing's rendering is still one gzip member, which every
// decoder reads whole (curl --compressed and browsers stop after the first member): the
// gzip header, the scrape's own part as raw deflate ended by a sync flush (byte-aligned, not
// final), the shared part compressed once the same way on its own (its back-references stay
// within it), an empty final block, and the trailer: the CRC-32 of all the text, combined
// from the parts' own, and its length.

// gzipHeader starts a member: deflate, no name, no time, the fastest level, unknown OS.
var gzipHeader = []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 0xff}

// finalBlock is an empty final deflate block, which ends a stream of sync-flushed parts.
var finalBlock = func() []byte {
	var b chunks
	fw, _ := flate.NewWriter(&b, flate.BestSpeed)
	_ = fw.Close()
	return b[0]
}()

// deflated is text compressed as raw deflate ending on a sync flush, with the CRC-32 and
// length of the text.
type deflated struct {
	data chunks
	crc  uint32
	size int64
}

// flateWriters are reused: a compressor's state is about a megabyte.
var flateWriters = sync.Pool{New: func() any {
	fw, _ := flate.NewWriter(nil, flate.BestSpeed)
	return fw
}}

// deflater compresses what is written to it into out, counting the text's CRC-32 and length.
type deflater struct {
	fw   *flate.Writer
	crc  uint32
	size int64
}

func newDeflater(out io.Writer) *deflater {
	fw := flateWriters.Get().(*flate.Writer)
	fw.Reset(out)
	return &deflater{fw: fw}
}

// Write compresses p.
func (d *deflater) Write(p []byte) (int, error) {
	d.crc = crc32.Update(d.crc, crc32.IEEETable, p)
	d.size += int64(len(p))
	return d.fw.Write(p)
}

// finish ends the part with a sync flush and gives the compressor back.
func (d *deflater) finish() error {
	err := d.fw.Flush()
	d.fw.Reset(io.Discard)
	flateWriters.Put(d.fw)
	return err
}

// writeMember writes one gzip member of the text own writes, then shared's: own is
// compressed as it is written.
func writeMember(w io.Writer, own func(io.Writer) error, shared *deflated) error {
	if _, err := w.Write(gzipHeader); err != nil {
		return err
	}
	d := newDeflater(w)
	err := own(d)
	if flushErr := d.finish(); err == nil {
		err = flushErr
	}
	if err != nil {
		return err
	}
	if _, err := shared.data.WriteTo(w); err != nil {
		return err
	}
	trailer := make([]byte, 0, len(finalBlock)+8)
	trailer = append(trailer, finalBlock...)
	trailer = binary.LittleEndian.AppendUint32(trailer, crc32Combine(d.crc, shared.crc, shared.size))
	trailer = binary.LittleEndian.AppendUint32(trailer, uint32(d.size+shared.size))
	_, err = w.Write(trailer)
	return err
}

// crc32Combine returns the CRC-32 (IEEE) of a text whose first part has crc1 and whose
// second part, len2 bytes long, has crc2: zlib's crc32_combine, applying len2 zero bytes to
// crc1 by squaring the operator of one zero bit in GF(2).
func crc32Combine(crc1, crc2 uint32, len2 int64) uint32 {
	if len2 <= 0 {
		return crc1
	}
	var even, odd [32]uint32
	odd[0] = 0xedb88320 // the reflected polynomial: the operator of one zero bit
	for n, row := 1, uint32(1); n < 32; n, row = n+1, row<<1 {
		odd[n] = row
	}
	gf2Square(&even, &odd) // two zero bits
	gf2Square(&odd, &even) // four zero bits
	for {
		gf2Square(&even, &odd) // one zero byte, then 4, 16, ...
		if len2&1 != 0 {
			crc1 = gf2Times(&even, crc1)
		}
		if len2 >>= 1; len2 == 0 {
			break
		}
		gf2Square(&odd, &even)
		if len2&1 != 0 {
			crc1 = gf2Times(&odd, crc1)
		}
		if len2 >>= 1; len2 == 0 {
			break
		}
	}
	return crc1 ^ crc2
}

func gf2Times(mat *[32]uint32, vec uint32) uint32 {
	var sum uint32
	for i := 0; vec != 0; i, vec = i+1, vec>>1 {
		if vec&1 != 0 {
			sum ^= mat[i]
		}
	}
	return sum
}

func gf2Square(square, mat *[32]uint32) {
	for n := range square {
		square[n] = gf2Times(mat, mat[n])
	}
}

// chunks hold bytes in fixed-size slices: a growing single slice would copy megabytes over
// and over.
type chunks [][]byte

const chunkSize = 256 << 10

// Write appends p.
func (c *chunks) Write(p []byte) (int, error) {
	written := len(p)
	for len(p) > 0 {
		if n := len(*c); n == 0 || len((*c)[n-1]) == chunkSize {
			*c = append(*c, make([]byte, 0, chunkSize))
		}
		last := &(*c)[len(*c)-1]
		n := min(len(p), chunkSize-len(*last))
		*last = append(*last, p[:n]...)
		p = p[n:]
	}
	return written, nil
}

// WriteTo writes the bytes held to w.
func (c chunks) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for _, chunk := range c {
		n, err := w.Write(chunk)
		total += int64(n)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}
