package exposition

import (
	"bufio"
	"strconv"
	"strings"
)

// textSink writes samples in the Prometheus text format (version 0.0.4) as they come,
// straight into the response buffer, without a metric object, a label pair or a string per
// sample. At 100 000 images this is what keeps a scrape near the cost of decoding the API's
// answer (docs/performance.md).
type textSink struct {
	w       *bufio.Writer
	scrape  *Scrape
	current *family
	buf     []byte
}

// WriteHead writes the samples that are the scrape's own: nova_up, the duration and the
// listing's age. WriteHead then WriteImages write a whole scrape.
func WriteHead(w *bufio.Writer, s *Scrape) {
	emitHead(newTextSink(w, s), s)
}

// WriteImages writes the samples that depend on the listing alone, the same for every scrape
// that shares it: the counts and the per-image series.
func WriteImages(w *bufio.Writer, s *Scrape) {
	emitImages(newTextSink(w, s), s)
}

func newTextSink(w *bufio.Writer, s *Scrape) *textSink {
	return &textSink{w: w, scrape: s, buf: make([]byte, 0, 256)}
}

func (s *textSink) header(f *family) {
	if s.current == f {
		return
	}
	s.current = f
	s.buf = append(s.buf[:0], "# HELP "...)
	s.buf = append(s.buf, f.name...)
	s.buf = append(s.buf, ' ')
	s.buf = append(s.buf, helpEscaper.Replace(f.help)...)
	s.buf = append(s.buf, "\n# TYPE "...)
	s.buf = append(s.buf, f.name...)
	s.buf = append(s.buf, ' ')
	s.buf = append(s.buf, typeName(f.valueType)...)
	s.buf = append(s.buf, '\n')
	_, _ = s.w.Write(s.buf)
}

func (s *textSink) sample(f *family, value float64, labelValues ...string) {
	s.header(f)
	b := s.buf[:0]
	b = append(b, f.name...)
	if len(labelValues) > 0 {
		b = append(b, '{')
		for i, v := range labelValues {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendLabel(b, f.labels[i], v)
		}
		b = append(b, '}')
	}
	s.buf = appendValue(b, value)
	_, _ = s.w.Write(s.buf)
}

func (s *textSink) imageSample(f *family, image int, value float64, extra ...string) {
	s.header(f)
	img := s.scrape.images[image]
	b := s.buf[:0]
	b = append(b, f.name...)
	b = append(b, '{')
	b = appendLabel(b, "id", img.ID)
	b = append(b, ',')
	b = appendLabel(b, "name", img.Name)
	for i, v := range extra {
		b = append(b, ',')
		b = appendLabel(b, f.labels[2+i], v)
	}
	b = append(b, '}')
	s.buf = appendValue(b, value)
	_, _ = s.w.Write(s.buf)
}

// appendLabel appends name="value" with the value escaped as the text format wants.
func appendLabel(b []byte, name, value string) []byte {
	b = append(b, name...)
	b = append(b, '=', '"')
	if strings.ContainsAny(value, "\\\"\n") {
		value = labelEscaper.Replace(value)
	}
	b = append(b, value...)
	return append(b, '"')
}

func appendValue(b []byte, value float64) []byte {
	b = append(b, ' ')
	b = strconv.AppendFloat(b, value, 'g', -1, 64)
	return append(b, '\n')
}

var (
	labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
)
