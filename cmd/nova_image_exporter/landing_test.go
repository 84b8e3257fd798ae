package main

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
)

var probeLink = regexp.MustCompile(`<a href="(/probe\?[^"]*)">([^<]*)</a>`)

// landingLinks returns the landing page's links to /probe, by the cloud name they show.
func landingLinks(t *testing.T, base string) map[string]string {
	t.Helper()
	links := map[string]string{}
	for _, m := range probeLink.FindAllStringSubmatch(get(t, base+"/"), -1) {
		links[html.UnescapeString(m[2])] = html.UnescapeString(m[1])
	}
	return links
}

func TestLandingPageLinksEveryCloud(t *testing.T) {
	_, _, clouds, yaml := twoClouds(t)
	const oddName = `a&b <i>"c"</i> d+e`
	cloudA := strings.Split(yaml(""), "  cloud-b:")[0]
	withOdd := yaml(strings.Replace(cloudA, "clouds:\n  cloud-a:", fmt.Sprintf("  %q:", oddName), 1))
	if err := os.WriteFile(clouds, []byte(withOdd), 0o600); err != nil {
		t.Fatal(err)
	}
	base, _ := startExporter(t)
	if page := get(t, base+"/"); strings.Contains(page, "<i>") {
		t.Errorf("the landing page shows a cloud name as HTML:\n%s", page)
	}
	links := landingLinks(t, base)
	if len(links) != 3 {
		t.Errorf("links to /probe: %v, want one for each of cloud-a, cloud-b and %q", links, oddName)
	}
	for _, name := range []string{"cloud-a", "cloud-b", oddName} {
		if want := "/probe?cloud=" + url.QueryEscape(name); links[name] != want {
			t.Errorf("link of %q: %q, want %q", name, links[name], want)
		}
		if code, body := probe(t, base, strings.TrimPrefix(links[name], "/probe?")); code != http.StatusOK || !strings.Contains(body, "\nnova_up 1\n") {
			t.Errorf("following the link of %q: %d\n%s", name, code, body)
		}
	}

	withC := yaml(strings.Replace(cloudA, "clouds:\n  cloud-a:", "  cloud-c:", 1))
	if err := os.WriteFile(clouds, []byte(withC), 0o600); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(base+"/-/reload", "", nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("reload: %v %v", resp, err)
	}
	resp.Body.Close()
	links = landingLinks(t, base)
	if _, found := links[oddName]; found || links["cloud-c"] != "/probe?cloud=cloud-c" {
		t.Errorf("after a reload replacing %q by cloud-c, the links are %v", oddName, links)
	}
}

func TestLandingPageListsAtMost50Clouds(t *testing.T) {
	names := make([]string, 60)
	for i := range names {
		names[i] = fmt.Sprintf("cloud-%02d", i)
	}
	extra, err := cloudLinks(names)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(probeLink.FindAllString(extra, -1)); n != 50 || !strings.Contains(extra, "cloud-49") ||
		strings.Contains(extra, "cloud-50") || !strings.Contains(extra, "and 10 more clouds") {
		t.Errorf("%d links for 60 clouds, want the first 50 and a count of the others:\n%s", n, extra)
	}
	if extra, _ := cloudLinks(nil); !strings.Contains(extra, "No cloud can be probed") {
		t.Errorf("no clouds:\n%s", extra)
	}
}
