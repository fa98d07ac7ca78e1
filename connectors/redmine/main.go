// Command usmhub-connector-redmine is the Redmine connector: a usmhub
// connector plugin over Redmine's REST JSON API (Redmine 5). Risks are
// issues of one tracker in one project, improvement sprints are versions of
// that project, and published reports are issues of another tracker. The
// hub launches it; run by hand it only says so. Its config block:
//
//	connector "redmine" "main" {
//	  url            = "https://redmine.example.org"
//	  api_key        = env("REDMINE_API_KEY")
//	  project        = "usm"
//	  tracker        = "Risk"
//	  report_tracker = "Report"
//	  # custom fields, by name or id (these are the defaults):
//	  marker_field     = "USM marker"      # required: the hub marker
//	  key_field        = "USM key"
//	  kind_field       = "USM kind"
//	  process_field    = "USM process"
//	  source_field     = "USM source"
//	  likelihood_field = "USM likelihood"
//	  impact_field     = "USM impact"
//	  effort_field     = "USM effort"
//	}
//
// Risk fields map to issues as: title ↔ subject, description ↔
// description, status ↔ status (by name, spelled as Redmine does: the sync
// block's map_status translates the hub's statuses), owner ↔ assignee (by
// login), and the others ↔ the custom fields above. Pulls are incremental
// by updated_on (see risks.go); every update is read back, because Redmine
// answers 204 even when its workflow refused a status change.
//
// Redmine 5 cannot create custom fields over its API: Check (usmhub
// readiness) names each missing one and says how to create it.
//
// The package knows the hub only through the plugin SDK.
package main

import "github.com/usmhub/usmhub/plugins/sdk"

func main() { sdk.Serve(New) }
