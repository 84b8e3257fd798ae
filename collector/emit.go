package collector

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/nova-image-exporter/nova_image_exporter/client"
)

// scrapeResult is what one scrape found: the listing, or why there is none.
type scrapeResult struct {
	up       bool
	refused  bool // no work slot was free: neither listed nor rendered
	duration float64
	age      float64
	images   []*client.Image // the images with per-image series: deduplicated, filtered
	statuses []string        // the statuses counted, sorted
	counts   map[string]int  // images per status, every listed image
	problems []string        // unreadable fields, as "image ID: field ..."
}

// workBounds bound a scrape's work: the slots that listings and renderings take (nil for
// no bound), and the longest a listing may run (0: as long as a scrape waits for it).
type workBounds struct {
	slots       Limiter
	maxDuration time.Duration
}

// scrapeTarget lists the target's images under ctx and sorts out what to export, without
// bounds on its work; see scrapeBounded.
func scrapeTarget(ctx context.Context, target Target, exports *ImageExports, metrics *ExporterMetrics, logger log.Logger) *scrapeResult {
	result, _ := scrapeBounded(ctx, target, exports, metrics, logger, workBounds{})
	return result
}

// scrapeBounded lists the target's images under ctx and sorts out what to export. A failed
// listing is logged here, once, and counted. Starting a listing takes one of bounds.slots
// at once or is refused; sorting and rendering a listing take one too, waited for until
// ctx ends, and held until release is called, once the answer is written.
func scrapeBounded(ctx context.Context, target Target, exports *ImageExports, metrics *ExporterMetrics, logger log.Logger, bounds workBounds) (result *scrapeResult, release func()) {
	start := time.Now()
	// A listing shared by several scrapes reports its failure once, through the scrape
	// that started it; a scrape that stops waiting reports that, and nothing more.
	listing, err := target.Listings.Listing(ctx, ListingRequest{
		Selection: target.Selection, Slots: bounds.slots, MaxDuration: bounds.maxDuration,
		OnFailure: func(err error) {
			level.Error(logger).Log("msg", "listing images failed", "err", err, "duration_seconds", time.Since(start).Seconds())
			if metrics != nil {
				metrics.observeListing(target.Cloud, err)
			}
		},
	})
	release = func() {}
	if err == nil {
		if err = bounds.slots.acquire(ctx); err == nil {
			release = bounds.slots.release
		}
	}
	result = &scrapeResult{duration: time.Since(start).Seconds()}
	if err != nil {
		result.refused = errors.Is(err, ErrBusy)
		logWait(logger, err)
		return result, release
	}
	result.up = true
	result.age = time.Since(listing.At).Seconds()
	result.sort(listing, exports)
	if len(result.problems) > 0 {
		level.Warn(logger).Log("msg", "left out fields the API sent in a form that could not be read",
			"count", len(result.problems), "first", result.problems[0])
	}
	return result, release
}

// logWait logs a scrape that stopped waiting for its listing: its own timeout, which the
// listing (going on for others, or stopped) does not report.
func logWait(logger log.Logger, err error) {
	var waitErr *WaitError
	switch {
	case !errors.As(err, &waitErr):
	case errors.Is(err, context.Canceled):
		level.Debug(logger).Log("msg", "the scraper went away before the listing ended", "err", err)
	case waitErr.Others == 0:
		level.Error(logger).Log("msg", "listing images failed", "err", err)
	default:
		level.Warn(logger).Log("msg", "scrape deadline passed while waiting for the listing in flight", "err", err)
	}
}

// sort counts every image by status and keeps those that get per-image series, in the
// order listed (the order they lie in memory). An id listed twice (a page boundary that
// moved during the listing) is counted and exported once: a sorted copy finds duplicates
// without a set of 100 000 ids.
func (r *scrapeResult) sort(listing Listing, exports *ImageExports) {
	// nova_images reports Nova's five statuses always, 0 when no image has them.
	r.counts = make(map[string]int, len(client.NovaStatuses))
	for _, s := range client.NovaStatuses {
		r.counts[s] = 0
	}
	images := listing.Images()
	duplicates := findDuplicates(images)
	kept := images[:0]
	for _, img := range images {
		if duplicates[img] {
			continue
		}
		for _, problem := range img.Problems {
			r.problems = append(r.problems, "image "+img.ID+": "+problem)
		}
		r.counts[img.Status]++
		if exports.exportsImage(img.Metadata) {
			kept = append(kept, img)
		}
	}
	r.images = kept
	for status := range r.counts {
		r.statuses = append(r.statuses, status)
	}
	slices.Sort(r.statuses)
}

// findDuplicates returns every image whose id an image listed earlier already has; nil
// when there are none, as usual.
func findDuplicates(images []*client.Image) map[*client.Image]bool {
	byID := slices.Clone(images)
	slices.SortStableFunc(byID, func(a, b *client.Image) int { return strings.Compare(a.ID, b.ID) })
	var duplicates map[*client.Image]bool
	for i := 1; i < len(byID); i++ {
		if byID[i].ID == byID[i-1].ID {
			if duplicates == nil {
				duplicates = map[*client.Image]bool{}
			}
			duplicates[byID[i]] = true
		}
	}
	return duplicates
}

// sink receives the samples of a scrape, family by family.
type sink interface {
	sample(f *family, value float64, labelValues ...string)
	// imageSample is a sample of the image at index image of scrapeResult.images, whose
	// id and name labels come first, then extra.
	imageSample(f *family, image int, value float64, extra ...string)
}

// emit sends the samples of result: the same for the Collector and the text exposition.
// Samples come family by family, so that a text writer can write each family's header
// once.
func emit(s sink, r *scrapeResult, exports *ImageExports) {
	up := 0.0
	if r.up {
		up = 1
	}
	s.sample(upFamily, up)
	s.sample(scrapeDurationFamily, r.duration)
	if !r.up {
		return
	}
	s.sample(listingAgeFamily, r.age)
	s.sample(unreadableFieldsFamily, float64(len(r.problems)))
	for _, status := range r.statuses {
		s.sample(imagesFamily, float64(r.counts[status]), status)
	}
	for i, img := range r.images {
		s.imageSample(imageStatusFamily, i, 1, img.Status)
	}
	for i, img := range r.images {
		s.imageSample(exports.info, i, 1, exports.infoLabelValues(img.ServerID, img.Metadata)...)
	}
	for _, v := range []struct {
		f     *family
		value func(*client.Image) int64
		per   float64 // the sample is value / per: exact for these divisors
	}{
		{imageSizeFamily, func(img *client.Image) int64 { return img.Size }, 1},
		{imageMinDiskFamily, func(img *client.Image) int64 { return img.MinDisk }, 1.0 / (1 << 30)},
		{imageMinRAMFamily, func(img *client.Image) int64 { return img.MinRAM }, 1.0 / (1 << 20)},
		{imageProgressFamily, func(img *client.Image) int64 { return img.Progress }, 100},
		{imageCreatedFamily, func(img *client.Image) int64 { return img.Created }, 1000},
		{imageUpdatedFamily, func(img *client.Image) int64 { return img.Updated }, 1000},
	} {
		for i, img := range r.images {
			if n := v.value(img); n != client.Absent {
				s.imageSample(v.f, i, float64(n)/v.per)
			}
		}
	}
}
