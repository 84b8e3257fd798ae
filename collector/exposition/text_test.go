package exposition

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/nova-image-exporter/nova_image_exporter/client"
)

var (
	created = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC).UnixMilli()
	updated = time.Date(2026, 11, 28, 10, 0, 0, 500e6, time.UTC).UnixMilli()
)

// testImages cover every kind of value: a full image, a snapshot, nulls, a non-ASCII name,
// a status outside the five, the same id twice, and label values to escape.
var testImages = []client.Image{
	{ID: "q1", Name: `quote " backslash \ newline` + "\n" + `end`, Status: "ACTIVE", Owner: `p "q"`, Size: 5, Metadata: client.Metadata{{Key: "image_type", Value: `a "b"`}}},
	{ID: "a1", Name: "cirros", Status: "ACTIVE", Owner: "p1", Size: 4096, MinDisk: 1, MinRAM: 512, Progress: 100, Created: created, Updated: updated},
	{ID: "s1", Name: "Ubuntu 22.04 LTS – Ünïcödé 名前", Status: "SAVING", Size: 0, MinDisk: 0, MinRAM: 0, Progress: 25, Created: created, Missing: client.FieldUpdated},
	{ID: "n1", Status: "ACTIVE", Size: 2048, Created: created, Updated: updated,
		ServerID: "srv-1", Metadata: client.Metadata{{Key: "image_type", Value: "snapshot"}}, Missing: client.FieldMinDisk | client.FieldMinRAM | client.FieldProgress},
	{ID: "o1", Name: "odd", Status: "PENDING_UPLOAD", Missing: client.FieldSize | client.FieldMinDisk | client.FieldMinRAM | client.FieldProgress | client.FieldCreated | client.FieldUpdated},
	{ID: "a1", Name: "cirros", Status: "ACTIVE", Size: 4096, Missing: client.FieldMinDisk | client.FieldMinRAM | client.FieldProgress | client.FieldCreated | client.FieldUpdated},
}

// listed is the scrape of images as a listing makes it: each image tallied, once, and kept if
// exports exports it.
func listed(images []client.Image, exports *ImageExports, projects bool, duration float64) *Scrape {
	tally := NewTally(projects)
	var kept []*client.Image
	for _, img := range pointers(images) {
		if tally.Add(img) && exports.Exports(img) {
			kept = append(kept, img)
		}
	}
	return Listed(kept, tally, exports, duration, 0)
}

// pointers are pointers to copies of images, as a listing hands them over.
func pointers(images []client.Image) []*client.Image {
	copied := append([]client.Image(nil), images...)
	ptrs := make([]*client.Image, len(copied))
	for i := range copied {
		ptrs[i] = &copied[i]
	}
	return ptrs
}

// gatherText writes s with WriteText and parses it back with client_golang's text parser:
// the families as a Gatherer, which checks them as a registry would on Gather.
func gatherText(t *testing.T, s *Scrape) prometheus.Gatherer {
	t.Helper()
	return parseText(t, func(w *bufio.Writer) { WriteText(w, s) })
}

func parseText(t *testing.T, write func(*bufio.Writer)) prometheus.Gatherer {
	t.Helper()
	var text bytes.Buffer
	w := bufio.NewWriter(&text)
	write(w)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	parsed, err := parser.TextToMetricFamilies(bytes.NewReader(text.Bytes()))
	if err != nil {
		t.Fatalf("the text exposition does not parse: %v\n%s", err, text.String())
	}
	// Gatherers sorts families and metrics, as a registry does.
	return prometheus.Gatherers{prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		families := make([]*dto.MetricFamily, 0, len(parsed))
		for _, mf := range parsed {
			families = append(families, mf)
		}
		return families, nil
	})}
}

// requireClientGolangEncoding is the test oracle of the exposition: the text that send writes
// through the text sink must parse into exactly the families that client_golang encodes
// from the same samples, sent as const metrics through a pedantic registry.
func requireClientGolangEncoding(t *testing.T, s *Scrape, send func(sink)) {
	t.Helper()
	fromText := parseText(t, func(w *bufio.Writer) { send(&textSink{w: w, scrape: s}) })

	oracle := &constSink{scrape: s, descs: map[*family]*prometheus.Desc{}}
	send(oracle)
	registry := prometheus.NewPedanticRegistry()
	registry.MustRegister(oracle)
	gathered, err := registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	for _, mf := range gathered {
		if _, err := expfmt.MetricFamilyToText(&want, mf); err != nil {
			t.Fatal(err)
		}
	}
	if err := testutil.GatherAndCompare(fromText, strings.NewReader(want.String())); err != nil {
		t.Error(err)
	}
}

// constSink turns each sample into a const metric of its family's value type; as a
// Collector (unchecked: it describes nothing) it hands them to a registry.
type constSink struct {
	scrape  *Scrape
	descs   map[*family]*prometheus.Desc
	metrics []prometheus.Metric
}

func (s *constSink) sample(f *family, value float64, labelValues ...string) {
	desc, ok := s.descs[f]
	if !ok {
		desc = prometheus.NewDesc(f.name, f.help, f.labels, nil)
		s.descs[f] = desc
	}
	s.metrics = append(s.metrics, prometheus.MustNewConstMetric(desc, f.valueType, value, labelValues...))
}

func (s *constSink) imageSample(f *family, image int, value float64, extra ...string) {
	img := s.scrape.images[image]
	s.sample(f, value, append([]string{img.ID, img.Name}, extra...)...)
}

func (s *constSink) Describe(chan<- *prometheus.Desc) {}

func (s *constSink) Collect(ch chan<- prometheus.Metric) {
	for _, m := range s.metrics {
		ch <- m
	}
}

// TestTextExpositionEqualsClientGolang guards the one way the metrics leave the exporter:
// the streaming text holds exactly what client_golang would encode from the same samples.
func TestTextExpositionEqualsClientGolang(t *testing.T) {
	exports, err := NewImageExports(true, []string{"image_type"}, nil, PerImagePolicy{})
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]*Scrape{
		"listed": listed(testImages, exports, true, 0.5),
		"failed": Failed(0.5),
	} {
		t.Run(name, func(t *testing.T) {
			requireClientGolangEncoding(t, s, func(k sink) { emit(k, s) })
		})
	}
}

// The TYPE line comes from the family's value type.
func TestTypeFollowsValueType(t *testing.T) {
	for _, valueType := range []prometheus.ValueType{prometheus.CounterValue, prometheus.GaugeValue, prometheus.UntypedValue} {
		f := newFamily(valueType, "test", "things", "Things by kind.", "kind")
		requireClientGolangEncoding(t, nil, func(k sink) {
			k.sample(f, 3, "a")
			k.sample(f, 4, "b")
		})
	}
}

// WriteText writes the samples of s to w in the text format, each family's HELP and TYPE
// first. A failed write is left for w's Flush to report.
func WriteText(w *bufio.Writer, s *Scrape) {
	emit(newTextSink(w, s), s)
}

// emit sends the samples of a scrape family by family, so that a text writer can write each
// family's header once.
func emit(s sink, r *Scrape) {
	emitHead(s, r)
	emitImages(s, r)
}
