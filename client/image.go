package client

// Fields is a set of an Image's numbers and times, one bit each: those the API may leave out.
type Fields uint8

// An Image's numbers and times, as Fields.
const (
	FieldSize Fields = 1 << iota
	FieldVirtualSize
	FieldMinDisk
	FieldMinRAM
	FieldProgress
	FieldCreated
	FieldUpdated
)

// Has reports whether every field of g is in f.
func (f Fields) Has(g Fields) bool { return f&g == g }

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
	// Owner is the id of the project that owns the image (Glance's and IMS's owner), cut at
	// 255 bytes; empty where the API sends none (Nova's proxy).
	Owner string
	// ServerOwner is the project of a snapshot's server where the image says it (Glance's
	// instance_owner property, which Nova sets when another project took the snapshot, an
	// admin's say), cut at 255 bytes; empty otherwise.
	ServerOwner string
	// Size (bytes, OS-EXT-IMG-SIZE:size), MinDisk (GiB), MinRAM (MiB) and Progress
	// (percent, 0 to 100), each 0 or more as sent.
	Size, MinDisk, MinRAM, Progress int64
	// VirtualSize (bytes) is the size of the image's virtual disk; missing where the API
	// has none, as Nova's.
	VirtualSize int64
	// Created and Updated in Unix milliseconds.
	Created, Updated int64
	// Missing are the numbers and times the API did not send, sent as null, or (a time) sent
	// unreadable: their values are 0 and mean nothing. A flag of its own rather than a value
	// of the number, so that no value the API sends can pass for "not sent".
	Missing Fields
	// Metadata holds the values of the keys of Options.MetadataKeys that the image has,
	// each cut at 1024 bytes; nil when it has none of them.
	Metadata Metadata
	// Problems describe the fields the API sent in a form that could not be read (an
	// unparsable time), which are Missing; nil when every field was read.
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
	n := imageOverhead + len(img.ID) + len(img.Name) + len(img.Status) + len(img.ServerID) + len(img.Owner) + len(img.ServerOwner) + len(img.APIStatus) + len(img.Visibility)
	for _, v := range img.Metadata {
		n += 32 + len(v.Key) + len(v.Value)
	}
	for _, problem := range img.Problems {
		n += 16 + len(problem)
	}
	return int64(n)
}
