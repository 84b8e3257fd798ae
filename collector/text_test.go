package collector

import (
	"bufio"
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/nova-image-exporter/nova_image_exporter/client"
)

// TestTextExpositionEqualsCollector guards the two ways the metrics leave the exporter:
// the Handler's streaming text must hold exactly what the Collector gives a registry.
func TestTextExpositionEqualsCollector(t *testing.T) {
	images := append([]client.Image{
		{ID: "q1", Name: `quote " backslash \ newline` + "\n" + `end`, Status: "ACTIVE", Size: 5, Metadata: client.Metadata{{Key: "image_type", Value: `a "b"`}}},
	}, testImages...)
	exports, err := NewImageExports(true, []string{"image_type"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	target := Target{Cloud: "c", Listings: NewShared(&fakeLister{images: images}, 0)}
	result := scrapeTarget(context.Background(), target, exports, nil, log.NewNopLogger())
	result.duration, result.age = 0.5, 0 // the same in both

	var text bytes.Buffer
	w := bufio.NewWriter(&text)
	emit(newTextSink(w, result), result, exports)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	parsed, err := parser.TextToMetricFamilies(bytes.NewReader(text.Bytes()))
	if err != nil {
		t.Fatalf("the text exposition does not parse: %v\n%s", err, text.String())
	}
	fromText := prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		families := make([]*dto.MetricFamily, 0, len(parsed))
		for _, mf := range parsed {
			families = append(families, mf)
		}
		return families, nil
	})

	registry := prometheus.NewPedanticRegistry()
	registry.MustRegister(constCollector{result: result, exports: exports})
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
	// Gatherers sorts families and metrics, as the registry does.
	if err := testutil.GatherAndCompare(prometheus.Gatherers{fromText}, strings.NewReader(want.String())); err != nil {
		t.Error(err)
	}
}

// constCollector emits a fixed result through the Collector's sink.
type constCollector struct {
	result  *scrapeResult
	exports *ImageExports
}

func (c constCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, f := range fixedFamilies {
		ch <- f.desc
	}
	ch <- c.exports.info.desc
}

func (c constCollector) Collect(ch chan<- prometheus.Metric) {
	emit(constSink{ch: ch, result: c.result}, c.result, c.exports)
}

func TestAcceptsGzip(t *testing.T) {
	for header, want := range map[string]bool{
		"gzip": true, "gzip, deflate": true, "deflate, GZIP;q=0.5": true, "identity": false, "": false, "gzip;q=0": false,
	} {
		if got := acceptsGzip(header); got != want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", header, got, want)
		}
	}
}
