package client

import (
	"fmt"
	"slices"
	"strings"
)

// The image APIs, by the names of clouds.yaml's image_api and --images.api.
const (
	APINova   = "nova"
	APIGlance = "glance"
	APIIMS    = "ims"
)

// ImageAPISpec is what the exporter knows of an image API besides its client: its name, and
// what of a cloud's configuration applies to it. --images.api's choices, the check of
// clouds.yaml's image_api and the clients targets builds all read imageAPIs.
type ImageAPISpec struct {
	// Name is the API's image_api: nova, glance or ims.
	Name string
	// Service is the service whose endpoint it lists: ServiceCompute or ServiceImage.
	Service string
	// Quotas: it reports the project's image quotas (its client is a QuotaSource).
	Quotas bool
	// EnterpriseProjects: it filters by Huawei's enterprise_project_id.
	EnterpriseProjects bool
	// Owners: it sends each image's owner, the project id (Image.Owner), which the project
	// names read from Keystone/IAM name.
	Owners bool
}

// imageAPIs are the image APIs the exporter speaks, in the order errors and --help list
// them.
var imageAPIs = []ImageAPISpec{
	{Name: APINova, Service: ServiceCompute},
	{Name: APIGlance, Service: ServiceImage, Quotas: true, Owners: true},
	{Name: APIIMS, Service: ServiceImage, Quotas: true, EnterpriseProjects: true, Owners: true},
}

// ImageAPIs returns every image API the exporter speaks.
func ImageAPIs() []ImageAPISpec { return slices.Clone(imageAPIs) }

// ImageAPINames returns the names of the image APIs for which keep is true, of all of them
// when keep is nil.
func ImageAPINames(keep func(ImageAPISpec) bool) []string {
	var names []string
	for _, api := range imageAPIs {
		if keep == nil || keep(api) {
			names = append(names, api.Name)
		}
	}
	return names
}

// LookupImageAPI returns the image API named name, or an error quoting name and listing
// the names there are.
func LookupImageAPI(name string) (ImageAPISpec, error) {
	i := slices.IndexFunc(imageAPIs, func(api ImageAPISpec) bool { return api.Name == name })
	if i < 0 {
		return ImageAPISpec{}, fmt.Errorf("%s is not supported (want %s)", QuoteTruncated(name, 64), strings.Join(ImageAPINames(nil), ", "))
	}
	return imageAPIs[i], nil
}
