// Package exposition turns one scrape's listing of images into the Prometheus text format:
// the metric families (each with its value type), what is exported per image (ImageExports),
// and the streaming text writer. Its files build on each other one way: family.go (the
// families), exports.go, quota.go and project.go, scrape.go (what a scrape found), emit.go (its samples,
// family by family), text.go (the writer).
//
// Every scrape builds its samples from its own listing alone, so nothing is kept between
// scrapes: an image deleted in the cloud disappears from the next scrape.
package exposition

import (
	"slices"
	"strings"

	"github.com/nova-image-exporter/nova_image_exporter/client"
)

// Scrape is what one scrape found: the images it exports and how long its listing took, or
// only the time a failed listing took.
type Scrape struct {
	up       bool
	duration float64 // seconds the listing took, authentication and every page included
	age      float64 // seconds since the listing was made
	exports  *ImageExports
	images   []*client.Image // the images with per-image series: deduplicated, filtered
	statuses []string        // the statuses counted, sorted
	counts   map[string]int  // images per status, every listed image
	problems []string        // unreadable fields, as "image ID: field ..."
	quotas   *Quotas         // nil: quotas are off
	projects []client.Project
}

// Failed is the scrape of a listing that failed or was refused: nova_up 0 and the duration.
func Failed(duration float64) *Scrape {
	return &Scrape{duration: duration}
}

// HeadOnly is the scrape of a successful listing whose image part (WriteImages) was rendered
// once for every scrape that shares the listing: only its head (WriteHead), its own times.
func HeadOnly(duration, age float64) *Scrape {
	return &Scrape{up: true, duration: duration, age: age}
}

// Listed is the scrape of a successful listing, sorted out by exports: every image counted by
// status, those that get per-image series kept in the order listed. It takes images over:
// they are filtered in place.
func Listed(images []*client.Image, exports *ImageExports, duration, age float64) *Scrape {
	s := &Scrape{up: true, duration: duration, age: age, exports: exports}
	images = withoutDuplicates(images)
	s.count(images)
	s.images = exports.exported(images)
	return s
}

// WithQuotas adds the listing's quotas to s; nil (quotas off) adds nothing.
func (s *Scrape) WithQuotas(q *Quotas) *Scrape {
	s.quotas = q
	return s
}

// WithProjects adds the names of the listing's owners to s.
func (s *Scrape) WithProjects(projects []client.Project) *Scrape {
	s.projects = projects
	return s
}

// Problems are the fields of the listing that could not be read, as "image ID: field ...".
func (s *Scrape) Problems() []string { return s.problems }

// count counts every image by status, and notes the fields that could not be read.
func (s *Scrape) count(images []*client.Image) {
	// nova_images reports Nova's five statuses always, 0 when no image has them.
	s.counts = make(map[string]int, len(client.NovaStatuses))
	for _, status := range client.NovaStatuses {
		s.counts[status] = 0
	}
	for _, img := range images {
		for _, problem := range img.Problems {
			s.problems = append(s.problems, "image "+img.ID+": "+problem)
		}
		s.counts[img.Status]++
	}
	for status := range s.counts {
		s.statuses = append(s.statuses, status)
	}
	slices.Sort(s.statuses)
}

// withoutDuplicates drops, in place, every image whose id an image listed earlier already
// has (a page boundary that moved during the listing), keeping the order listed (the order
// they lie in memory).
func withoutDuplicates(images []*client.Image) []*client.Image {
	duplicates := findDuplicates(images)
	if duplicates == nil {
		return images
	}
	kept := images[:0]
	for _, img := range images {
		if !duplicates[img] {
			kept = append(kept, img)
		}
	}
	return kept
}

// findDuplicates returns every image whose id an image listed earlier already has; nil
// when there are none, as usual. A sorted copy finds them without a set of 100 000 ids.
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
