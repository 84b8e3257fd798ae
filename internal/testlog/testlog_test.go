package testlog

import (
	"fmt"
	"reflect"
	"sync"
	"testing"
)

func TestBufferTakesTheLinesWrittenSinceTheLastTake(t *testing.T) {
	var b Buffer
	if got := b.Take(); got != nil {
		t.Fatalf("an empty buffer gives %q, want no lines", got)
	}
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() { fmt.Fprintf(&b, "line %d\n", i) })
	}
	wg.Wait()
	if got := len(b.Take()); got != 4 {
		t.Fatalf("%d lines, want 4", got)
	}
	fmt.Fprintln(&b, "after")
	if got, want := b.Take(), []string{"after"}; !reflect.DeepEqual(got, want) || b.String() != "" {
		t.Errorf("lines %q, then %q left; want %q and nothing left", got, b.String(), want)
	}
}
