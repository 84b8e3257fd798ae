package client

// Absent is the value of an Image's number or time that the API did not send, or sent as
// null. (The numbers the API sends are checked to be 0 or more.)
const Absent int64 = -1 << 63

// Image is one image of the images-detail listing, reduced to the fields the exporter
// exports. It is kept small: a listing can hold 100 000 of them.
type Image struct {
	ID   string // at most 255 bytes: a longer id fails the listing
	Name string // empty when the API sends null; cut at 1024 bytes
	// Status is Nova's status, upper case: ACTIVE, SAVING, DELETED, ERROR, UNKNOWN or
	// whatever else Nova sends, cut at 64 bytes. Glance's and IMS's statuses are mapped to
	// Nova's as Nova's images proxy maps them.
	Status string
	// APIStatus is the status as the image API sent it (Glance's importing, say), and
	// Visibility the image's visibility (public, private, shared, community; empty where the
	// API has none, as Nova's); both cut at 64 bytes.
	APIStatus, Visibility string
	// ServerID is the instance a snapshot was taken from, cut at 255 bytes; empty for
	// other images.
	ServerID string
	// Size (bytes, OS-EXT-IMG-SIZE:size), MinDisk (GiB), MinRAM (MiB) and Progress
	// (percent, 0 to 100); Absent when not sent.
	Size, MinDisk, MinRAM, Progress int64
	// VirtualSize (bytes) is the size of the image's virtual disk; Absent where the API has
	// none, as Nova's.
	VirtualSize int64
	// Created and Updated in Unix milliseconds; Absent when not sent or unreadable.
	Created, Updated int64
	// Metadata holds the values of the keys of Options.MetadataKeys that the image has,
	// each cut at 1024 bytes; nil when it has none of them.
	Metadata Metadata
	// Problems describe the fields the API sent in a form that could not be read (an
	// unparsable time), which are left Absent; nil when every field was read.
	Problems []string
}

// NovaStatuses are the five statuses Nova maps Glance's onto.
var NovaStatuses = []string{"ACTIVE", "SAVING", "DELETED", "ERROR", "UNKNOWN"}

// Metadata are an image's values of the metadata keys a listing was asked for, by key.
type Metadata []MetadataValue

// MetadataValue is the value of one metadata key.
type MetadataValue struct {
	Key, Value string
}

// Get returns the value of key; "" when the image has none.
func (m Metadata) Get(key string) string {
	for _, v := range m {
		if v.Key == key {
			return v.Value
		}
	}
	return ""
}

// imageOverhead is what an Image costs in memory besides its strings, rounded up: its fixed
// fields and its share of the listing that holds it.
const imageOverhead = 256

// ImageBytes is what holding img costs in memory, a little over: its strings and a fixed
// overhead. A listing is bounded by the sum (Options.MaxListingBytes).
func ImageBytes(img Image) int64 {
	n := imageOverhead + len(img.ID) + len(img.Name) + len(img.Status) + len(img.ServerID) + len(img.APIStatus) + len(img.Visibility)
	for _, v := range img.Metadata {
		n += 32 + len(v.Key) + len(v.Value)
	}
	for _, problem := range img.Problems {
		n += 16 + len(problem)
	}
	return int64(n)
}
