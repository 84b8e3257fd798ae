package clienttest

import (
	"reflect"
	"testing"

	"github.com/nova-image-exporter/nova_image_exporter/client"
)

// EqualImages fails t unless got holds want's images, in order: at once on another count,
// else naming each image that differs.
func EqualImages(t testing.TB, got, want []client.Image) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d images, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("image %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
}
