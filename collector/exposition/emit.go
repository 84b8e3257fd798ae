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
		return
	}
	s.sample(unreadableFieldsFamily, float64(len(r.problems)))
	emitQuotas(s, r.quotas)
	for _, p := range r.projects {
		s.sample(projectInfoFamily, 1, p.ID, p.Name, p.DomainID)
	}
	for _, status := range r.statuses {
		s.sample(imagesFamily, float64(r.counts[status]), status)
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
