package paging

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nova-image-exporter/nova_image_exporter/client"
)

func TestBackoffStaysBoundedForManyRetries(t *testing.T) {
	r := NewRequester(nil, client.Options{RetryBackoff: time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	for _, retries := range []int{0, 35, 56, 1000} {
		err := r.wait(ctx, retries, &client.APIError{StatusCode: 429})
		if err == nil || !strings.Contains(err.Error(), "would pass the scrape deadline") {
			t.Errorf("retry %d: %v, want a bounded wait that does not fit 10ms", retries, err)
		}
	}
	if got := client.ParseRetryAfter("99999999999"); got != client.MaxRetryAfter {
		t.Errorf("a huge Retry-After gives %v, want the cap %v", got, client.MaxRetryAfter)
	}
}
