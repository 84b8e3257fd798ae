package main

import (
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
)

// maxLandingClouds is how many clouds the landing page links to at most; it counts the others.
const maxLandingClouds = 50

// landingPage is the exporter toolkit's landing page with a link to /probe for each
// configured cloud, built on every request so that it shows the clouds of the last reload.
type landingPage struct {
	config web.LandingConfig
	clouds func() []string // sorted
	logger log.Logger
}

func newLandingPage(metricsPath string, clouds func() []string, logger log.Logger) *landingPage {
	return &landingPage{
		config: web.LandingConfig{
			Name:        "Nova Image Exporter",
			Description: description,
			Version:     version.Info(),
			Links: []web.LandingLinks{
				{Address: metricsPath, Text: "Metrics", Description: "the exporter's own metrics, and the default cloud's images"},
			},
			Form: web.LandingForm{
				Action: "/probe",
				Inputs: []web.LandingFormInput{{Label: "Cloud", Type: "text", Name: "cloud", Placeholder: "clouds.yaml entry"}},
			},
			Profiling: "false",
		},
		clouds: clouds,
		logger: logger,
	}
}

func (p *landingPage) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	config := p.config
	config.Links = slices.Clone(p.config.Links) // NewLandingPage edits them
	extra, err := cloudLinks(p.clouds())
	var page *web.LandingPageHandler
	if err == nil {
		config.ExtraHTML = extra
		page, err = web.NewLandingPage(config)
	}
	if err != nil {
		level.Error(p.logger).Log("msg", "landing page", "err", err)
		http.Error(w, "the landing page cannot be built", http.StatusInternalServerError)
		return
	}
	page.ServeHTTP(w, r)
}

// cloudsTemplate lists the clouds as links to their /probe; html/template escapes each
// name, which clouds.yaml may fill with any text.
var cloudsTemplate = template.Must(template.New("clouds").Parse(`<div id="clouds">
{{- if .Links}}
Each cloud's images, listed by <code>/probe?cloud=NAME</code> (with optional listing options):
<ul>
{{- range .Links}}
<li><a href="{{.Href}}">{{.Name}}</a></li>
{{- end}}
</ul>
{{- if .More}}
<p>and {{.More}} more clouds, not shown.</p>
{{- end}}
{{- else}}
<p>No cloud can be probed: clouds.yaml holds none that loads.</p>
{{- end}}
</div>`))

type cloudLink struct{ Name, Href string }

// cloudLinks is the HTML of the landing page's list of clouds: a link for each of the first
// maxLandingClouds names, and how many more there are.
func cloudLinks(names []string) (string, error) {
	shown := names[:min(len(names), maxLandingClouds)]
	data := struct {
		Links []cloudLink
		More  int
	}{More: len(names) - len(shown)}
	for _, name := range shown {
		data.Links = append(data.Links, cloudLink{Name: name, Href: "/probe?" + url.Values{"cloud": {name}}.Encode()})
	}
	var html strings.Builder
	if err := cloudsTemplate.Execute(&html, data); err != nil {
		return "", err
	}
	return html.String(), nil
}
