# A complete configuration: every block and attribute the core knows.
hub {
  data_dir   = "var/data"
  plugin_dir = "/opt/usmhub/plugins"
  log_level  = "debug"
  log_format = "json"
  strategy   = "best_of_breed"
  listen     = "0.0.0.0:9000"
  api_token  = file("secrets/token.txt")
}

priority "weighted" {
  description = "Risk times votes, per unit of effort"
  score       = (likelihood * impact + votes) / max(effort, 1)
}

priority "threats-first" {
  score = kind == "threat" ? likelihood * impact * 2 : likelihood * impact
}

initiative "servicedesk" {
  name            = "Servicedesk op orde"
  scope           = "First-line support"
  rationale       = "Too many calls are handled twice."
  approach        = "USM improvement sprints of two weeks"
  sponsor         = "CIO"
  committed_on    = "2025-02-03"
  lead            = "anna"
  team            = ["bram", "chris"]
  sprint_capacity = 10.5
  sounding_board  = ["dewi", "eva"]
  priority        = "threats-first"

  training {
    person = "anna"
    course = "USM Foundation"
    date   = "2025-01-15"
  }
  training {
    person = "bram"
    course = "USM Professional"
    date   = "2025-01-22"
  }
}

initiative "cmdb" {
  name = "One infrastructure register"
}

connector "redmine" "main" {
  plugin_sha256 = "sha256:9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08"
  url           = "http://127.0.0.1:3000"
  api_key       = env("USMHUB_TEST_REDMINE_KEY")
  project "usm" {
    tracker = "Bug"
  }
}

connector "file" "local" {
  path = "risks.json"
}

sync "risks" {
  kind       = "risk"
  connector  = "redmine.main"
  initiative = "servicedesk"
  direction  = "both"
  authority {
    default = "remote"
    fields  = { likelihood = "hub", impact = "hub" }
  }
  map_status = { proposed = "New", accepted = "Accepted", realized = "Closed" }
  filter     = { kind = "threat" }
  on_delete  = "orphan"
  schedule   = "@every 10m"
  lookback   = "2m"
  full_every = "12h"
  batch_size = 50
}

report "weekly" {
  kind       = "sprint"
  initiative = "servicedesk"
  publish_to = ["redmine.main", "file.local"]
  schedule   = "0 8 * * MON"
}
