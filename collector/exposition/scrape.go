// Package exposition turns one scrape's listing of images into the Prometheus text format:
// the metric families (each with its value type), what is exported per image (ImageExports),
// and the streaming text writer. Its files build on each other one way: family.go (the
// families), policy.go and exports.go, quota.go, tally.go (the counts of every listed image),
// orphan.go (the snapshots whose server is gone), project.go, scrape.go (what a scrape
// found), emit.go (its samples, family by family), text.go (the writer).
//
// Every scrape builds its samples from its own listing alone, so nothing is kept between
// scrapes: an image deleted in the cloud disappears from the next scrape.
package exposition

import "github.com/nova-image-exporter/nova_image_exporter/client"

// Scrape is what one scrape found: the images it exports, the tally of every image listed
// and how long its listing took, or only the time a failed listing took.
type Scrape struct {
	up       bool
	duration float64 // seconds the listing took, authentication and every page included
	age      float64 // seconds since the listing was made
	exports  *ImageExports
	images   []*client.Image // the images with per-image series: deduplicated, filtered
	tally    *Tally          // every listed image, counted once
	quotas   *Quotas         // nil: quotas are off
	orphans  *Orphans        // nil: orphaned snapshots are off
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

// Listed is the scrape of a successful listing: tally counts every image listed, once, and
// images are those of them that get per-image series by exports (Exports), in the order
// listed.
func Listed(images []*client.Image, tally *Tally, exports *ImageExports, duration, age float64) *Scrape {
	return &Scrape{up: true, duration: duration, age: age, exports: exports, images: images, tally: tally}
}

// WithQuotas adds the listing's quotas to s; nil (quotas off) adds nothing.
func (s *Scrape) WithQuotas(q *Quotas) *Scrape {
	s.quotas = q
	return s
}

// Problems are how many fields of the listing could not be read, and the first of them as
// "image ID: field ...".
func (s *Scrape) Problems() (n int, first string) { return s.tally.Problems() }

// WithProjects adds the names of the listing's owners to s.
func (s *Scrape) WithProjects(projects []client.Project) *Scrape {
	s.projects = projects
	return s
}

// WithOrphans adds what the listing's server listing told of its snapshots to s; nil
// (orphaned snapshots off) adds nothing.
func (s *Scrape) WithOrphans(o *Orphans) *Scrape {
	s.orphans = o
	return s
}
