package client

import (
	"context"
	"time"
)

// ListOptions select what a listing returns, in terms of no particular API: each image
// source translates them into its own query. The zero value lists every image.
type ListOptions struct {
	// Name, Status (a Glance status, lower case), Type (snapshot, backup), Server (the
	// instance id of snapshots) and ImageType (Huawei IMS's __imagetype: gold, private,
	// shared, market) match exactly; empty for no filter.
	Name, Status, Type, Server, ImageType string
	// MinRAM (MiB) and MinDisk (GiB) match the image's minimums exactly, as the real Nova
	// does; nil for no filter.
	MinRAM, MinDisk *int
	// ChangesSince lists the images updated at or after it; zero for no filter.
	ChangesSince time.Time
	// PageSize is the limit of each request; 0 sends the image API's default (1000 for Nova
	// and Glance, their usual largest page; 500 for IMS, its documented default).
	PageSize int
}

// Set names the options that are set, by the names of SelectionParams.
func (o ListOptions) Set() []string {
	var set []string
	for _, option := range []struct {
		name string
		set  bool
	}{
		{"name", o.Name != ""}, {"status", o.Status != ""}, {"changes-since", !o.ChangesSince.IsZero()},
		{"min-ram", o.MinRAM != nil}, {"min-disk", o.MinDisk != nil}, {"type", o.Type != ""}, {"server", o.Server != ""},
		{"imagetype", o.ImageType != ""}, {"page-size", o.PageSize > 0},
	} {
		if option.set {
			set = append(set, option.name)
		}
	}
	return set
}

// Collect returns every image source lists with opts, in the order listed.
func Collect(ctx context.Context, source ImageSource, opts ListOptions) ([]Image, error) {
	// Pages are kept as they come and joined once: one growing slice would copy every
	// image several times over.
	var pages [][]Image
	var total int
	err := source.EachImage(ctx, opts, func(img Image) error {
		if len(pages) == 0 || len(pages[len(pages)-1]) == cap(pages[len(pages)-1]) {
			pages = append(pages, make([]Image, 0, 1024))
		}
		pages[len(pages)-1] = append(pages[len(pages)-1], img)
		total++
		return nil
	})
	if err != nil {
		return nil, err
	}
	images := make([]Image, 0, total)
	for _, page := range pages {
		images = append(images, page...)
	}
	return images, nil
}
