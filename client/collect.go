package client

import "context"

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
