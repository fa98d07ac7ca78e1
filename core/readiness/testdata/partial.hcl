# Half-way: some commitment, part of the team trained, connectors without a
# strategy, a report published nowhere.
priority "default" {
  score = likelihood * impact
}

connector "file" "local" {
  path = "sheet"
}

connector "file" "archive" {
  path = "archive"
}

initiative "sd" {
  name           = "Servicedesk op orde"
  scope          = "First-line support"
  rationale      = "Too many calls are handled twice."
  lead           = "anna"
  team           = ["bram", "chris", "Anna"]
  sounding_board = ["dewi"]

  training {
    person = "Anna"
    course = "USM Foundation"
    date   = "2025-01-15"
  }
}

report "sprints" {
  kind = "sprint"
}
