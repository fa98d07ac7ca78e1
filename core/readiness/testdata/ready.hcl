# Every precondition the config can meet is met.
hub {
  strategy = "erp"
}

priority "default" {
  score = (likelihood * impact + 2 * votes) / max(effort, 1)
}

connector "file" "local" {
  path = "sheet"
}

initiative "sd" {
  name            = "Servicedesk op orde"
  scope           = "First-line support"
  rationale       = "Too many calls are handled twice."
  approach        = "USM improvement sprints of two weeks"
  sponsor         = "CIO"
  committed_on    = "2025-02-03"
  lead            = "anna"
  team            = ["bram", "chris"]
  sprint_capacity = 10
  sounding_board  = ["dewi", "Eva"]

  training {
    person = "anna"
    course = "USM Foundation"
    date   = "2025-01-15"
  }
  training {
    person = "Bram"
    course = "USM Foundation"
    date   = "2025-01-15"
  }
  training {
    person = "chris"
    course = "Internal USM training"
    date   = "2025-01-22"
  }
}

report "sprints" {
  kind       = "sprint"
  publish_to = ["file.local"]
  schedule   = "@weekly"
}

sync "risks" {
  kind      = "risk"
  connector = "file.local"
}
