# usmhub example configuration: one improvement initiative of a facility and
# IT service organisation, its priority mechanism, and where reports go.
# Copy it to usmhub.hcl and adapt it; `usmhub validate` checks it.

hub {
  data_dir   = "data"        # relative to this file's folder
  log_level  = "info"
  log_format = "text"
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
