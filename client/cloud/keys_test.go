package cloud

import (
	"fmt"
	"strings"
	"testing"
)

func TestUnknownKeysNameTheKeyAndTheCloud(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "clouds.yaml", `clouds:
  typo:
    regoin_name: RegionOne
    auth_type: token
    auth: {token: t, project_id: p, usrname: u, password:s3cret-typed-as-a-key}
    compute_endpoint_override: https://nova.example.com/v2.1/{project_id}
  everything-known:
    profile: x
    region_name: r
    interface: internal
    identity_api_version: 3
    image_api_version: 2
    compute_api_version: "2.1"
    verify: false
    cacert: /ca.pem
    compute_endpoint_override: https://nova.example.com/v2.1
    auth_type: aksk
    auth: {auth_url: u, username: u, user_domain_name: d, project_domain_id: d, ak: a, sk: s, security_token: t, project_id: p, system_scope: all}
  not-a-mapping: just a string
`)
	writeFile(t, dir, "secure.yaml", "clouds:\n  typo:\n    auth:\n      passwrod: s\n")
	c, err := ReadClouds(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, k := range c.UnknownKeys() {
		got = append(got, k.String())
	}
	secure := strings.TrimSuffix(file, "clouds.yaml") + "secure.yaml"
	want := []string{
		file + `: cloud "typo": unknown key auth.password… is ignored`,
		file + `: cloud "typo": unknown key auth.usrname is ignored`,
		file + `: cloud "typo": unknown key regoin_name is ignored`,
		secure + `: cloud "typo": unknown key auth.passwrod is ignored`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("unknown keys:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if strings.Contains(strings.Join(got, ""), "s3cret") {
		t.Error("a value typed as a key is shown")
	}
}

func TestQuotedNamesIsBounded(t *testing.T) {
	var names []string
	for i := range 25 {
		names = append(names, fmt.Sprintf("c%02d", i))
	}
	got := QuotedNames(names)
	if !strings.HasPrefix(got, `"c00", "c01", `) || !strings.HasSuffix(got, `"c19", and 5 more`) {
		t.Errorf("QuotedNames of 25: %s", got)
	}
	if got := QuotedNames(nil); got != "none" {
		t.Errorf("QuotedNames of none: %s", got)
	}
}
