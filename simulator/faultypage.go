package simulator

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// Pages that a Fault shapes (Loop, Duplicate, InvalidUTF8, OddTimes, BadTimes, WrongTypes,
// Negative) or delivers badly (Huge, TruncateAfter).

// shapesDelivery reports whether ft changes how a page is sent.
func (ft *Fault) shapesDelivery() bool {
	return ft.Huge > 0 || ft.TruncateAfter > 0
}

// imageTweak holds raw JSON values that replace an image's normal ones.
type imageTweak struct {
	name, created, updated, minDisk, size []byte
}

// noTweak is the imageTweak that changes nothing.
var noTweak imageTweak

// tweak returns the changes ft makes to the k-th image of a page, or nil.
func (ft *Fault) tweak(k int, img *Image) *imageTweak {
	firstOnly := k == 0 && (ft.WrongTypes || ft.Negative)
	if !ft.InvalidUTF8 && !ft.OddTimes && !ft.BadTimes && !firstOnly {
		return nil
	}
	tw := &imageTweak{}
	if ft.InvalidUTF8 {
		tw.name = strconv.AppendInt([]byte("\"bad-\xff\xfe-name-"), int64(k), 10)
		tw.name = append(tw.name, '"')
	}
	if ft.OddTimes {
		tw.created = appendOddTime(nil, img.Created, k%3)
		if img.Updated != nil {
			tw.updated = appendOddTime(nil, *img.Updated, (k+1)%3)
		}
	}
	if k == 0 {
		if ft.BadTimes {
			tw.created = []byte(`"not-a-time"`)
		}
		if ft.Negative {
			tw.size = []byte("-1")
		}
		if ft.WrongTypes {
			tw.minDisk = []byte(`"ten"`)
			tw.size = []byte("1.5")
		}
	}
	return tw
}

// appendOddTime appends t as a JSON string in one of the odd but valid forms:
// 0 no zone, 1 microseconds and Z, 2 a +02:00 offset.
func appendOddTime(b []byte, t time.Time, form int) []byte {
	b = append(b, '"')
	switch form {
	case 0:
		b = t.UTC().AppendFormat(b, "2006-01-02T15:04:05")
	case 1:
		b = t.UTC().AppendFormat(b, "2006-01-02T15:04:05.000000Z")
	default:
		b = t.In(time.FixedZone("", 2*3600)).AppendFormat(b, "2006-01-02T15:04:05-07:00")
	}
	return append(b, '"')
}

// truncateSettle is how long a truncated response waits before the reset,
// so that the bytes already written reach the client: closing with
// SO_LINGER 0 discards whatever is still queued.
const truncateSettle = 10 * time.Millisecond

// deliverPage sends a 200 page body b as ft.Huge and ft.TruncateAfter say.
func deliverPage(w http.ResponseWriter, r *http.Request, b []byte, ft *Fault) {
	var body io.Reader = bytes.NewReader(b)
	total := int64(len(b))
	if ft.Huge > total && len(b) > 0 {
		pad := ft.Huge - total
		body = io.MultiReader(bytes.NewReader(b[:1]), &whitespace{n: pad}, bytes.NewReader(b[1:]))
		total = ft.Huge
	}
	body = &ctxReader{ctx: r.Context(), r: body}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.FormatInt(total, 10))
	w.WriteHeader(http.StatusOK)
	if ft.TruncateAfter <= 0 {
		_, _ = io.Copy(w, body)
		return
	}
	n := min(int64(ft.TruncateAfter), total-1)
	if n > 0 {
		_, _ = io.CopyN(w, body, n)
	}
	abortConnection(w, r)
}

// abortConnection flushes what was written and closes the connection
// abruptly, with a TCP reset where possible.
func abortConnection(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	conn, _, err := rc.Hijack()
	if err != nil {
		if r.Context().Value(http.ServerContextKey) != nil {
			// A real server that cannot hijack (HTTP/2): reset the stream.
			panic(http.ErrAbortHandler)
		}
		return // a ResponseRecorder: the short body is all there is
	}
	sleepCtx(r.Context(), truncateSettle)
	raw := conn
	if nc, ok := conn.(interface{ NetConn() net.Conn }); ok {
		raw = nc.NetConn() // TLS: reset the TCP connection without close_notify
	}
	if tc, ok := raw.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = raw.Close()
}

// whitespace reads n bytes of spaces and newlines.
type whitespace struct{ n int64 }

// whitespaceBlock is the padding pattern: 1023 spaces and a newline, 32 times.
var whitespaceBlock = bytes.Repeat(append(bytes.Repeat([]byte{' '}, 1023), '\n'), 32)

// Read implements io.Reader.
func (p *whitespace) Read(b []byte) (int, error) {
	if p.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(b)) > p.n {
		b = b[:p.n]
	}
	n := 0
	for n < len(b) {
		n += copy(b[n:], whitespaceBlock)
	}
	p.n -= int64(n)
	return n, nil
}

// ctxReader stops reading once ctx is done, so that streaming a huge body
// ends when the client goes away.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

// Read implements io.Reader.
func (c *ctxReader) Read(b []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(b)
}
