package collector

import (
	"bytes"
	"compress/gzip"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os/exec"
	"strings"
	"testing"
)

func TestCRC32Combine(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, sizes := range [][2]int{{0, 0}, {0, 5}, {5, 0}, {1, 1}, {100, 3}, {3, 100000}, {65536, 65537}} {
		a, b := make([]byte, sizes[0]), make([]byte, sizes[1])
		for i := range a {
			a[i] = byte(r.Uint32())
		}
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		want := crc32.ChecksumIEEE(append(append([]byte(nil), a...), b...))
		if got := crc32Combine(crc32.ChecksumIEEE(a), crc32.ChecksumIEEE(b), int64(len(b))); got != want {
			t.Errorf("sizes %v: %08x, want %08x", sizes, got, want)
		}
	}
}

// The answer of a gzip scrape that shares a rendering is one gzip member: a decoder that
// reads only the first member (curl --compressed, browsers) gets all of it.
func TestSharedAnswerIsOneGzipMember(t *testing.T) {
	own := strings.Repeat("own text 0123456789\n", 5000)
	sharedText := strings.Repeat("shared text abcdefghij\n", 20000)
	shared := &deflated{}
	d := newDeflater(&shared.data)
	_, _ = io.WriteString(d, sharedText)
	if err := d.finish(); err != nil {
		t.Fatal(err)
	}
	shared.crc, shared.size = d.crc, d.size
	var answer bytes.Buffer
	if err := writeMember(&answer, func(w io.Writer) error { _, err := io.WriteString(w, own); return err }, shared); err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(answer.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	zr.Multistream(false) // one member only, as curl reads it
	text, err := io.ReadAll(zr)
	if err != nil || string(text) != own+sharedText {
		t.Fatalf("the first member holds %d bytes (%v), want the %d of both parts", len(text), err, len(own)+len(sharedText))
	}
	if all, err := gzip.NewReader(bytes.NewReader(answer.Bytes())); err != nil {
		t.Error(err)
	} else if text, err := io.ReadAll(all); err != nil || len(text) != len(own)+len(sharedText) {
		t.Errorf("read as a multi-member stream: %d bytes, %v; want nothing after the one member", len(text), err)
	}
	if gunzip, err := exec.LookPath("gzip"); err == nil {
		cmd := exec.Command(gunzip, "-dc")
		cmd.Stdin = bytes.NewReader(answer.Bytes())
		out, err := cmd.Output()
		if err != nil || string(out) != own+sharedText {
			t.Errorf("gzip -dc: %d bytes, %v", len(out), err)
		}
	}
}
