# usmhub example configuration: one improvement initiative of a facility and
# IT service organisation, its priority mechanism, the spreadsheet it keeps
# its risk inventory, votes and scans in, and where reports go.
# Copy it to usmhub.hcl and adapt it; `usmhub validate` checks it.
# `make run` seeds data/sheet from examples/sheet and serves this config.

hub {
  data_dir   = "data"        # relative to this file's folder
  log_level  = "info"
  log_format = "text"        # or "json"
  listen     = "127.0.0.1:8765"
  # One integrated tool (here: the spreadsheet folder) owns everything.
  strategy   = "erp"
  # POST /v1/sync/<name> needs this token; keep it out of the file:
  # api_token = env("USMHUB_API_TOKEN")
  # read_token = env("USMHUB_READ_TOKEN")  # needed for the dashboard when listen is not loopback
  # Connectors are looked for in plugin_dir (when set), then next to usmhub.
  # plugin_dir = "/opt/usmhub/connectors"
  # Launch only connectors pinned in usmhub.lock.hcl (`usmhub plugins lock`) or by plugin_sha256:
  # require_plugin_pins = true
}

initiative "ssc" {
  name      = "Shared service centre: USM improvement programme"
  scope     = "IT and facility services of the shared service centre"
  rationale = "Too many escalations and double work between the IT and facility desks"
  approach  = "Small improvement sprints chosen by the priority policy below; sounding board votes"
  sponsor   = "Director of operations"
  committed_on = "2026-09-01"

  lead            = "Hanna de Vries"
  team            = ["Pieter Jansen", "Sara Bakker", "Ahmed El Idrissi"]
  sprint_capacity = 10
  sounding_board  = ["Lotte", "Youssef", "Marieke", "Daan"]

  training {
    person = "Hanna de Vries"
    course = "USM Professional"
    date   = "2026-09-15"
  }
  training {
    person = "Pieter Jansen"
    course = "USM Foundation"
    date   = "2026-10-02"
  }
  training {
    person = "Sara Bakker"
    course = "USM Foundation"
    date   = "2026-10-02"
  }
}

# The prioritisation mechanism, fixed before the first sprint: high
# likelihood × impact and many sounding-board votes first, cheap before dear.
priority "default" {
  description = "Risk exposure plus the sounding board's voice, per unit of effort"
  score       = (likelihood * impact + 2 * votes) / max(effort, 1)
}

# The spreadsheet folder: risks.csv, votes.csv and scans.csv, written by
# people and by the hub (atomically); reports land in data/sheet/reports.
connector "file" "sheet" {
  dir = "data/sheet"
}

# The risk register, both ways: edits in the sheet flow into the hub, hub
# changes (status moves of sprints, votes' effects) flow back.
sync "risks" {
  kind      = "risk"
  connector = "file.sheet"
  schedule  = "@every 1m"
  authority {
    default = "remote"                  # the sheet wins a conflict…
    fields  = { status = "hub" }        # …but sprints move the status in the hub
  }
}

# The sounding board votes in the sheet.
sync "votes" {
  kind      = "vote"
  connector = "file.sheet"
  schedule  = "@every 1m"
}

# Baseline and progress scans, one row per dimension.
sync "scans" {
  kind      = "scan"
  connector = "file.sheet"
  schedule  = "@every 5m"
}

# Inform everyone: the register weekly (here every 2 minutes, to see it).
report "register" {
  kind       = "register"
  publish_to = ["file.sheet"]
  schedule   = "@every 2m"
}

report "readiness" {
  kind       = "readiness"
  publish_to = ["file.sheet"]
  schedule   = "@every 5m"
}
