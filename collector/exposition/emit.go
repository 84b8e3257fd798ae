package exposition

import "github.com/nova-image-exporter/nova_image_exporter/client"

// sink receives the samples of a scrape, family by family: the text writer does, and the
// tests' oracle, which encodes the same samples with client_golang.
type sink interface {
	sample(f *family, value float64, labelValues ...string)
	// imageSample is a sample of the image at index image of Scrape.images, whose
	// id and name labels come first, then extra.
	imageSample(f *family, image int, value float64, extra ...string)
}

// emitHead sends what is the scrape's own even when its listing is shared: nova_up, the
// duration and the listing's age.
func emitHead(s sink, r *Scrape) {
	up := 0.0
	if r.up {
		up = 1
	}
	s.sample(upFamily, up)
	s.sample(scrapeDurationFamily, r.duration)
	if r.up {
		s.sample(listingAgeFamily, r.age)
	}
}

// emitImages sends what depends on the listing alone, the same for every scrape that
// shares it: nothing for a failed listing.
func emitImages(s sink, r *Scrape) {
	if !r.up {
		emitQuotas(s, r.quotas) // a quota request may succeed where the listing failed
		emitOrphans(s, r.orphans.failed())
		return
	}
	problems, _ := r.Problems()
	s.sample(unreadableFieldsFamily, float64(problems))
	emitQuotas(s, r.quotas)
	emitTally(s, r.tally)
	emitOrphans(s, r.orphans)
	for _, p := range r.projects {
		s.sample(projectInfoFamily, 1, p.ID, p.Name, p.DomainID)
	}
	for i, img := range r.images {
		s.imageSample(imageStatusFamily, i, 1, img.Status)
	}
	for i, img := range r.images {
		s.imageSample(r.exports.info, i, 1, r.exports.infoLabelValues(img)...)
	}
	for _, v := range []struct {
		f     *family
		field client.Fields
		value func(*client.Image) int64
		per   float64 // the sample is value / per: exact for these divisors
	}{
		{imageSizeFamily, client.FieldSize, func(img *client.Image) int64 { return img.Size }, 1},
		{imageVirtualSizeFamily, client.FieldVirtualSize, func(img *client.Image) int64 { return img.VirtualSize }, 1},
		{imageMinDiskFamily, client.FieldMinDisk, func(img *client.Image) int64 { return img.MinDisk }, 1.0 / (1 << 30)},
		{imageMinRAMFamily, client.FieldMinRAM, func(img *client.Image) int64 { return img.MinRAM }, 1.0 / (1 << 20)},
		{imageProgressFamily, client.FieldProgress, func(img *client.Image) int64 { return img.Progress }, 100},
		{imageCreatedFamily, client.FieldCreated, func(img *client.Image) int64 { return img.Created }, 1000},
		{imageUpdatedFamily, client.FieldUpdated, func(img *client.Image) int64 { return img.Updated }, 1000},
	} {
		for i, img := range r.images {
			if !img.Missing.Has(v.field) {
				s.imageSample(v.f, i, float64(v.value(img))/v.per)
			}
		}
	}
	emitImageOrphans(s, r)
}

// emitTally sends the counts of every listed image: per status, always Nova's five, then
// per project and status, where the API sends an owner and the project families are on.
func emitTally(s sink, t *Tally) {
	if t == nil {
		t = NewTally(false)
	}
	statuses := t.sortedStatuses()
	for _, status := range statuses {
		s.sample(imagesFamily, float64(t.statuses[status].images), status)
	}
	for _, status := range statuses {
		s.sample(imagesSizeFamily, float64(t.statuses[status].bytes), status)
	}
	projects := t.sortedProjects()
	for _, p := range projects {
		s.sample(projectImagesFamily, float64(p.images), p.owner, p.status)
	}
	for _, p := range projects {
		s.sample(projectImagesSizeFamily, float64(p.bytes), p.owner, p.status)
	}
}

// emitQuotas sends the quota families: nothing when quotas are off, only quota_up 0 when
// the request failed, no limit sample for an unlimited quota.
func emitQuotas(s sink, q *Quotas) {
	if q == nil {
		return
	}
	up := 0.0
	if q.Up {
		up = 1
	}
	s.sample(quotaUpFamily, up)
	for _, f := range []struct {
		family *family
		bytes  bool
		limit  bool
	}{
		{quotaLimitFamily, false, true},
		{quotaUsageFamily, false, false},
		{quotaLimitBytesFamily, true, true},
		{quotaUsageBytesFamily, true, false},
	} {
		for _, quota := range q.Quotas {
			switch {
			case quota.Bytes != f.bytes || f.limit && quota.Unlimited:
			case f.limit:
				s.sample(f.family, float64(quota.Limit), quota.Resource)
			default:
				s.sample(f.family, float64(quota.Usage), quota.Resource)
			}
		}
	}
}

// emitOrphans sends the orphan families but the per-image one: nothing when orphaned
// snapshots are off, only servers_up 0 when the server listing failed.
func emitOrphans(s sink, o *Orphans) {
	if o == nil {
		return
	}
	up := 0.0
	if o.Up {
		up = 1
	}
	s.sample(serversUpFamily, up)
	for _, p := range o.projects {
		s.sample(orphanedSnapshotsFamily, float64(p.images), p.owner)
	}
	for _, p := range o.projects {
		s.sample(orphanedSnapshotsSizeFamily, float64(p.bytes), p.owner)
	}
}

// emitImageOrphans sends nova_image_orphaned of the images exported that are snapshots of
// a covered project.
func emitImageOrphans(s sink, r *Scrape) {
	for i, img := range r.images {
		if orphaned, known := r.orphans.orphaned(img); known {
			s.imageSample(imageOrphanedFamily, i, boolValue(orphaned))
		}
	}
}
