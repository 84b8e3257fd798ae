package paging

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestMetadataPicker(t *testing.T) {
	keys := []string{"image_type", "__imagetype", "min_cpu", "secure", "nested", "absent", "null_value", "esc\"aped"}
	body := `{"os_distro": "cirros", "image_type": "snapshot", "__imagetype" : "gold", "min_cpu": 2.5,
	  "secure": true, "nested": {"a": [1, "}"], "b": "x\"y"}, "null_value": null, "list": [{"image_type": "decoy"}],
	  "esc\"aped": "yes", "unicode": "\u540d"}`
	picker := Picker{keys: keys}
	if err := json.Unmarshal([]byte(body), &picker); err != nil {
		t.Fatal(err)
	}
	want := []string{"snapshot", "gold", "2.5", "true", `{"a": [1, "}"], "b": "x\"y"}`, "", "", "yes"}
	got := make([]string, len(keys))
	for i, key := range keys {
		got[i] = picker.values.Get(key)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("values\n %q\nwant\n %q", got, want)
	}

	for _, empty := range []string{`null`, `{}`, `[]`, `"text"`} {
		p := Picker{keys: keys}
		if err := json.Unmarshal([]byte(empty), &p); err != nil || p.values != nil {
			t.Errorf("%s: values %q, err %v; want none", empty, p.values, err)
		}
	}
	none := Picker{}
	if err := json.Unmarshal([]byte(body), &none); err != nil || none.values != nil {
		t.Errorf("no keys wanted: values %q, err %v", none.values, err)
	}
}

func BenchmarkMetadataPicker(b *testing.B) {
	body := []byte(`{"__os_bit": "64", "__support_kvm": "false", "architecture": "aarch64", "cpu_weight": 6.2,
	  "description": "Built by the image pipeline", "hw_boot_menu": false, "hw_disk_bus": "virtio", "image_type": "snapshot",
	  "nested": {"a": 1}, "os_distro": "debian", "os_version": "12", "owner_id": "d9ebe43510414ef590a4aa158605329e"}`)
	b.ReportAllocs()
	for b.Loop() {
		p := Picker{keys: []string{"image_type"}}
		if err := p.UnmarshalJSON(body); err != nil || p.values.Get("image_type") != "snapshot" {
			b.Fatal(err)
		}
	}
}

func TestDecodeNumber(t *testing.T) {
	for value, want := range map[string]Number{"0": Sent(0), "-0": Sent(0), "42": Sent(42), "-7": Sent(-7),
		"999999999999999999": Sent(999999999999999999), "9223372036854775807": Sent(9223372036854775807),
		"-9223372036854775808": Sent(-9223372036854775808), "null": {}} {
		var n Number
		if err := DecodeNumber("f", []byte(value), &n); err != nil || n != want {
			t.Errorf("%s: %+v, %v; want %+v", value, n, err, want)
		}
	}
	for _, value := range []string{`1.5`, `1e3`, `"1"`, `true`, `9223372036854775808`} {
		var n Number
		if err := DecodeNumber("f", []byte(value), &n); err == nil || !strings.Contains(Malformed(err).Error(), "field f") {
			t.Errorf("%s: %v, want an error naming field f", value, err)
		}
	}
}

// EachMember is meant for JSON that encoding/json has checked, but a value it cannot find
// must be an error, not an empty value for an UnmarshalJSON that reads its first byte.
func TestEachMemberNeverGivesAnEmptyValue(t *testing.T) {
	for _, body := range []string{`{"status":}`, `{"status": ,"id": "a"}`, `{"status"`, `{"status":`, `{"a" "b"}`} {
		var f GlanceFields
		err := EachMember([]byte(body), func(key, value []byte) error {
			if len(value) == 0 {
				t.Fatalf("%s: empty value of %q", body, key)
			}
			_, err := f.DecodeField(key, value)
			return err
		})
		if err == nil {
			t.Errorf("%s: no error", body)
		}
		p := NewPicker([]string{"status"})
		if err := p.UnmarshalJSON([]byte(body)); err == nil {
			t.Errorf("Picker: %s: no error", body)
		}
	}
}
