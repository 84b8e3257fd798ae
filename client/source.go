package client

import (
	"context"
	"errors"
	"fmt"
)

// ImageSource lists the images of one cloud project, handing them over one by one as pages
// arrive. An error from fn stops the listing and is returned, except ErrDropped.
type ImageSource interface {
	EachImage(ctx context.Context, opts ListOptions, fn func(Image) error) error
}

// ImageAPI is the ImageSource of one image API (Nova's images-detail, Glance v2 or Huawei
// IMS), which names itself and knows which listing options it can express.
type ImageAPI interface {
	ImageSource
	// API names the image API, as clouds.yaml's image_api does: nova, glance or ims.
	API() string
	// CheckOptions fails, naming the option and the API, on an option of opts that the
	// API cannot express: it is never silently ignored.
	CheckOptions(opts ListOptions) error
}

// InexpressibleError is an option of a listing that an image API has no filter for.
type InexpressibleError struct {
	Option, API string
}

// Inexpressible returns the error of option, which api cannot express.
func Inexpressible(option, api string) error { return &InexpressibleError{Option: option, API: api} }

func (e *InexpressibleError) Error() string {
	return fmt.Sprintf("%s: the %s image API has no such filter (image_api %s)", e.Option, e.API, e.API)
}

// ErrDropped is what an ImageSource's fn returns for an image it keeps nothing of: the
// listing goes on, and counts the image as DroppedImageBytes against
// Options.MaxListingBytes instead of its ImageBytes. It is never returned by EachImage.
var ErrDropped = errors.New("image dropped")

// DroppedImageBytes is what a dropped image counts against Options.MaxListingBytes, a
// little over: its id's hash in the listing's set of the ids listed (11 to 22 bytes) and the
// set's growth.
const DroppedImageBytes = 32
