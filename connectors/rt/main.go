// Command usmhub-connector-rt is the Request Tracker connector: a usmhub
// connector plugin over RT 5's REST2 API, authenticated with an RT auth
// token. Risks are tickets of one queue, configuration items are the assets
// of one catalog (the BIR), and published reports are tickets of a second
// queue. The hub launches it; run by hand it only says so. Its config block:
//
//	connector "rt" "main" {
//	  url          = "https://rt.example.org"
//	  token        = env("RT_TOKEN")
//	  queue        = "Risks"
//	  report_queue = "Reports"
//	  catalog      = "Infrastructure"
//	}
//
// Risk fields map to tickets as: title ↔ Subject, status ↔ Status (RT's
// lifecycle names; the sync block's map_status translates the hub's),
// owner ↔ Owner (an RT user name), the marker and key, kind, process,
// source, likelihood, impact and effort ↔ ticket custom fields ("USM
// marker", "USM key", …). The description lives in the custom field "USM
// description"; the create also makes it the ticket's first message, and
// each edit from the hub adds a comment "usmhub description:" with the new
// text, so RT's history keeps every version (see tickets.go). Items come from assets: key ↔ asset custom field "USM
// key" (else key_prefix and the asset id), name, status, owner,
// description, type ↔ asset custom field "USM type".
//
// Pulls are incremental by LastUpdated, with exact timestamps (TicketSQL
// reads an ISO 8601 "…T…Z" value as midnight: the connector always sends
// "YYYY-MM-DD HH:MM:SS" in UTC) and page to the end; every status change
// is read back, because RT answers 200 to a transition its lifecycle
// refuses.
//
// The package knows the hub only through the plugin SDK.
package main

import "github.com/usmhub/usmhub/plugins/sdk"

func main() { sdk.Serve(New) }
