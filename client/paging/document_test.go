package paging

import (
	"reflect"
	"strings"
	"testing"

	"github.com/nova-image-exporter/nova_image_exporter/client"
)

func TestQuotaListChecksEachQuotaOnce(t *testing.T) {
	fields := QuotaFields{Limit: "max", Usage: "used"}
	if _, err := NewQuotaList(client.Redactor{}, "quotas", fields, MaxQuotas+1); err == nil || !strings.Contains(err.Error(), "quotas: more than 64 quotas") {
		t.Errorf("%d quotas: %v, want the bound", MaxQuotas+1, err)
	}
	n := func(v int64) *int64 { return &v }
	list, err := NewQuotaList(client.NewRedactor("secret-token"), "quotas", fields, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := list.Add(RawQuota{Resource: "count", Limit: n(-1), Usage: n(3)}); err != nil {
		t.Fatal(err)
	}
	if err := list.Add(RawQuota{Resource: "size", Limit: n(2), Usage: n(1), MiB: true}); err != nil {
		t.Fatal(err)
	}
	want := []client.Quota{{Resource: "count", Unlimited: true, Usage: 3}, {Resource: "size", Bytes: true, Limit: 2 << 20, Usage: 1 << 20}}
	if got := list.Quotas(); !reflect.DeepEqual(got, want) {
		t.Errorf("quotas %+v, want %+v", got, want)
	}
	for q, wantErr := range map[RawQuota]string{
		{Resource: "count", Limit: n(1), Usage: n(1)}:           `quotas: resource "count" listed twice`,
		{Resource: "secret-token", Usage: n(1)}:                 "quota <redacted>: no max",
		{Resource: "other", Limit: n(1), Usage: n(-1)}:          "quota other: used is out of range (-1)",
		{Resource: "big", Limit: n(MaxQuota + 1), Usage: n(0)}:  "quota big: max is out of range",
		{Resource: "unlimited use", Limit: n(1), Usage: nil}:    "quota unlimited use: no used",
		{Resource: "unlimited used", Limit: n(1), Usage: n(-1)}: "used is out of range (-1)",
	} {
		if err := list.Add(q); err == nil || !strings.Contains(err.Error(), wantErr) || strings.Contains(err.Error(), "secret-token") {
			t.Errorf("%+v: %v, want %q", q, err, wantErr)
		}
	}
}
