// Command usmhub-connector-github is the GitHub connector: a usmhub
// connector plugin over GitHub's REST API (github.com or GitHub Enterprise
// Server), spoken through github.com/google/go-github/v60 on the SDK's HTTP
// client. Risks are the issues of one repository carrying a label, sprints
// are milestones, the sounding board's votes are 👍 reactions, and reports
// are issues carrying a second label. The hub launches it; run by hand it
// only says so. Its config block:
//
//	connector "github" "main" {
//	  owner        = "acme"
//	  repo         = "service-improvement"
//	  token        = env("GITHUB_TOKEN")
//	  base_url     = ""                  # GHE: "https://ghe.example.org/api/v3/"
//	  label        = "usm-risk"
//	  report_label = "usm-report"
//	  voters       = { "kmulder" = "k.mulder" }
//	}
//
// A risk's issue keeps what a person reads where GitHub shows it (title,
// description, state, assignee, labels "kind: …" and "status: …") and the
// rest in a collapsed block at the end of the body (see body.go); the hub
// marker is an HTML comment, which the web UI does not show and keeps when
// the body is edited.
//
// What GitHub does to clients, and how the connector meets it, is in
// client.go: conditional requests with ETags kept on disk between launches
// (a 304 costs no rate limit), the primary and secondary rate limits, paced
// writes, redirects of moved repositories. Creates are never sent twice:
// Find looks a marker up by listing the label's issues created recently
// (search lags by minutes) and then by search.
//
// The package knows the hub only through the plugin SDK.
package main

import "github.com/usmhub/usmhub/plugins/sdk"

func main() { sdk.Serve(New) }
