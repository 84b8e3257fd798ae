package cloud

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nova-image-exporter/nova_image_exporter/client"
)

// A mistyped key is reported at its own line of the file, by its path, and its value is
// shown only where it cannot be a secret: never under auth:, and redacted of the entry's
// secrets elsewhere.
func TestTypeErrorsNameTheLineAndTheKey(t *testing.T) {
	const good = "    auth:\n      auth_url: https://k.example.com/v3\n      password: s3cret-pw\n"
	for _, tc := range []struct {
		name, entry, want string
	}{
		{"verify", "    region_name: r\n    verify: \"maybe\"\n" + good, `:4: clouds.mycloud.verify: want true or false, got "maybe"`},
		{"verify after auth", good + "    verify: maybe\n", `:6: clouds.mycloud.verify: want true or false, got "maybe"`},
		{"image_quota", "    image_quota: sometimes\n" + good, `:3: clouds.mycloud.image_quota: want true or false, got "sometimes"`},
		{"project_metrics", "    project_metrics: [no]\n" + good, `:3: clouds.mycloud.project_metrics: want true or false, got a list`},
		{"orphaned_snapshots", "    orphaned_snapshots: often\n" + good, `:3: clouds.mycloud.orphaned_snapshots: want true or false, got "often"`},
		{"a string as a list", "    region_name: [a, b]\n" + good, `:3: clouds.mycloud.region_name: want a string, got a list`},
		{"a string as a mapping", "    image_api: {glance: 1}\n" + good, `:3: clouds.mycloud.image_api: want a string, got a mapping`},
		{"regions", "    regions: 5\n" + good, `:3: clouds.mycloud.regions: want a list, got "5"`},
		{"auth as a string", "    auth: s3cret-pw\n", `:3: clouds.mycloud.auth: want a mapping, got a string`},
		{"password as a list", "    auth:\n      auth_url: https://k.example.com/v3\n      password: [s3cret-pw]\n", `:5: clouds.mycloud.auth.password: want a string, got a list`},
		{"allow_reauth", "    auth:\n      allow_reauth: s3cret-pw\n", `:4: clouds.mycloud.auth.allow_reauth: want true or false, got a string`},
		{"sk as a mapping", "    auth_type: aksk\n    auth:\n      ak: a\n      sk: {s3cret-pw: 1}\n", `:6: clouds.mycloud.auth.sk: want a string, got a mapping`},
		{"the password in another key", "    verify: s3cret-pw\n" + good, `:3: clouds.mycloud.verify: want true or false, got "` + client.Redacted + `"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			file := writeFile(t, dir, "clouds.yaml", "clouds:\n  mycloud:\n"+tc.entry+"  other:\n    auth_type: token\n    auth: {token: t, project_id: p}\n    compute_endpoint_override: http://h/v2.1\n")
			clouds, err := ReadClouds(file, nil)
			if err != nil {
				t.Fatalf("ReadClouds: %v, want the mistake to be the entry's alone", err)
			}
			_, err = clouds.Load("mycloud")
			if err == nil || !strings.Contains(err.Error(), file+tc.want) {
				t.Errorf("error %v, want %q", err, file+tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error %q shows the secret", err)
			}
			if _, err := clouds.Load("other"); err != nil {
				t.Errorf("the other entry: %v", err)
			}
		})
	}
}

// secure.yaml's mistakes name secure.yaml and its own lines.
func TestTypeErrorsInSecureYAML(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "clouds.yaml", "clouds:\n  c:\n    auth:\n      auth_url: https://k.example.com/v3\n")
	writeFile(t, dir, "secure.yaml", "clouds:\n  c:\n    auth:\n      password: hunter2\n    verify: nah\n")
	_, err := LoadCloud(file, "c")
	want := filepath.Join(dir, "secure.yaml") + `:5: clouds.c.verify: want true or false, got "nah"`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error %v, want %q", err, want)
	}
	// A secret of secure.yaml is redacted from a value of clouds.yaml.
	writeFile(t, dir, "clouds.yaml", "clouds:\n  c:\n    verify: hunter2\n    auth:\n      auth_url: https://k.example.com/v3\n")
	_, err = LoadCloud(file, "c")
	want = file + `:3: clouds.c.verify: want true or false, got "` + client.Redacted + `"`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error %v, want %q", err, want)
	}
}

// A key given twice in one entry (or in its auth:) is an error naming the line of the
// second and the first; an entry given twice is too; an entry that is no mapping is named
// by its line.
func TestKeysGivenTwiceAndEntriesThatAreNoMapping(t *testing.T) {
	for _, tc := range []struct {
		name, doc, cloud, want string
	}{
		{"entry key", "clouds:\n  c:\n    region_name: a\n    auth: {auth_url: https://k/v3}\n    region_name: b\n", "c",
			`:5: clouds.c.region_name: given twice (first at line 3)`},
		{"auth key", "clouds:\n  c:\n    auth:\n      password: x1\n      auth_url: https://k/v3\n      password: x2\n", "c",
			`:6: clouds.c.auth.password: given twice (first at line 4)`},
		{"entry", "clouds:\n  c:\n    auth: {auth_url: https://k/v3}\n  c:\n    auth: {auth_url: https://k/v3}\n", "c",
			`:4: clouds.c: given twice (first at line 2)`},
		{"an entry that is no mapping", "clouds:\n  a:\n    auth: {auth_url: https://k/v3}\n  c: x1\n", "c",
			`:4: clouds.c: want a mapping, got a string`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := writeFile(t, t.TempDir(), "clouds.yaml", tc.doc)
			_, err := LoadCloud(file, tc.cloud)
			if err == nil || !strings.Contains(err.Error(), file+tc.want) {
				t.Errorf("error %v, want %q", err, file+tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "x1") || err != nil && strings.Contains(err.Error(), "x2") {
				t.Errorf("error %q shows a password", err)
			}
		})
	}
}

// Anchors and merge keys, as the OpenStack SDK (PyYAML) reads them: the entry's own keys
// win over merged ones, which is not a key given twice, and a merged value's mistake is
// reported at the line it is written on.
func TestMergeKeys(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "clouds.yaml", `base: &base
  auth: &auth
    auth_url: https://keystone.example.com/v3
    username: monitor
    password: s3cret-password
    user_domain_name: Default
    project_domain_name: Default
  region_name: RegionOne
clouds:
  a:
    <<: *base
    region_name: RegionTwo
    auth:
      <<: *auth
      project_name: a
  b:
    <<: [*base]
    auth:
      <<: *auth
      project_name: b
      username: other
  bad-merged:
    <<: {verify: &bad nope}
    auth: {<<: *auth, project_name: c}
  bad:
    <<: *base
    verify: *bad
`)
	clouds, err := ReadClouds(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][3]string{"a": {"RegionTwo", "a", "monitor"}, "b": {"RegionOne", "b", "other"}} {
		cfg, err := clouds.Load(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := [3]string{cfg.Endpoint.Region, cfg.AuthOptions.Scope.ProjectName, cfg.AuthOptions.Username}; got != want {
			t.Errorf("%s: region, project, user = %v, want %v", name, got, want)
		}
	}
	for _, name := range []string{"bad", "bad-merged"} {
		want := file + `:23: clouds.` + name + `.verify: want true or false, got "nope"`
		if _, err := clouds.Load(name); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", name, err, want)
		}
	}
}

// A key given twice that is no plain key may be a value typed as a key
// (`password:secret`, without the space): its error shows only its plain start, as the
// warning on an unknown key does.
func TestAKeyGivenTwiceShowsNoValueTypedAsAKey(t *testing.T) {
	for _, tc := range []struct {
		name, entry, want string
	}{
		{"auth key", "    auth: {auth_url: http://k/v3, username: u, password:hunter2-secret, password:hunter2-secret}\n",
			`:3: clouds.c.auth.password…: given twice (first at line 3)`},
		{"entry key", "    auth: {auth_url: http://k/v3}\n    password:hunter2-secret:\n    password:hunter2-secret:\n",
			`:5: clouds.c.password…: given twice (first at line 4)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := writeFile(t, t.TempDir(), "clouds.yaml", "clouds:\n  c:\n"+tc.entry)
			clouds, err := ReadClouds(file, nil)
			if err != nil {
				if strings.Contains(err.Error(), "hunter2") {
					t.Fatalf("ReadClouds: %q shows the value typed as a key", err)
				}
				t.Fatalf("ReadClouds: %v", err)
			}
			_, err = clouds.Load("c")
			if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), file+tc.want) {
				t.Errorf("Load: %v, want %q and no hunter2", err, file+tc.want)
			}
		})
	}
}

// manyKeys is a clouds.yaml whose entry c has n keys besides auth:, and manyEntries one
// with n empty entries (an entry's own keys are manyKeys' part).
func manyKeys(n int) string {
	var b strings.Builder
	b.WriteString("clouds:\n  c:\n    auth: {auth_url: https://k/v3, password: s3cret-pw}\n")
	for i := range n {
		fmt.Fprintf(&b, "    key_%06d: v\n", i)
	}
	return b.String()
}

func manyEntries(n int) string {
	var b strings.Builder
	b.WriteString("clouds:\n")
	for i := range n {
		fmt.Fprintf(&b, "  c%06d: {}\n", i)
	}
	return b.String()
}

// Checking a clouds.yaml of 40 000 keys, or of 40 000 entries, takes as long as reading
// it: each key is looked up by name once (go test's timeout guards against a check that
// searches the keys before it for each, which took 8 to 33 s here). A key given twice is
// still found among them.
func TestManyKeysAndEntries(t *testing.T) {
	const n = 40_000
	for _, tc := range []struct {
		name, doc, cloud, want string
	}{
		{"keys", manyKeys(n) + "    key_000000: w\n", "c", fmt.Sprintf(":%d: clouds.c.key_000000: given twice (first at line 4)", n+4)},
		{"entries", manyEntries(n) + "  c000000: {}\n", "c000000", fmt.Sprintf(":%d: clouds.c000000: given twice (first at line 2)", n+2)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := writeFile(t, t.TempDir(), "clouds.yaml", tc.doc)
			clouds, err := ReadClouds(file, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := clouds.Load(tc.cloud); err == nil || !strings.Contains(err.Error(), file+tc.want) {
				t.Errorf("error %v, want %q", err, file+tc.want)
			}
		})
	}
}

// BenchmarkReadCloudsManyKeys reads a clouds.yaml of 10 000 and 40 000 keys in one entry,
// and of as many entries; ns/key (or ns/entry) stays flat while the check is linear.
func BenchmarkReadCloudsManyKeys(b *testing.B) {
	for _, shape := range []struct {
		name, unit string
		doc        func(int) string
	}{{"keys", "key", manyKeys}, {"entries", "entry", manyEntries}} {
		for _, n := range []int{10_000, 40_000} {
			b.Run(fmt.Sprintf("%s=%d", shape.name, n), func(b *testing.B) {
				file := filepath.Join(b.TempDir(), "clouds.yaml")
				if err := os.WriteFile(file, []byte(shape.doc(n)), 0o600); err != nil {
					b.Fatal(err)
				}
				for b.Loop() {
					if _, err := ReadClouds(file, nil); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/"+shape.unit)
			})
		}
	}
}
