# The config the report tests build from: one initiative with data, one
# without any, a priority policy, a connector and reports.
hub {
  strategy  = "erp"
  api_token = "tok-5ecret-never-shown"
}

priority "default" {
  description = "Risk exposure plus the sounding board's voice, per unit of effort"
  score       = (likelihood * impact + 2 * votes) / max(effort, 1)
}

initiative "ssc" {
  name         = "Shared service centre"
  scope        = "IT and facility services of the shared service centre"
  rationale    = "Too many escalations and double work between the desks"
  approach     = "Small improvement sprints chosen by the priority policy"
  sponsor      = "Director of operations"
  committed_on = "2026-09-01"

  lead            = "Hanna"
  team            = ["Pieter", "Sara"]
  sprint_capacity = 10
  sounding_board  = ["Lotte", "Youssef", "Daan"]

  training {
    person = "Hanna"
    course = "USM Professional"
    date   = "2026-09-15"
  }
  training {
    person = "Pieter"
    course = "USM Foundation"
    date   = "2026-10-02"
  }
}

initiative "ops" {
  name = "Operations"
}

initiative "fm_new" {
  name = "Facility | new desk"
}

connector "file" "local" {
  path = "reports"
}

report "sprints" {
  kind       = "sprint"
  initiative = "ssc"
  publish_to = ["file.local"]
  schedule   = "@weekly"
}
