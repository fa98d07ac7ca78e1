hub {
  log_level = "verbose"
  strategy  = "mixed"
  listen    = "8765"
}

hub {}

connector "jira" "main" {
  plugin_sha256 = "abc"
  url           = "https://jira.example.com"
}

connector "jira" "main" {}

report "weekly" {
  kind       = "daily"
  initiative = "nope"
  publish_to = ["jira.main", "github.main"]
}

report "monthly" {
  kind = "scan"
}

initiative "a" {
  name = "A"
}

initiative "b" {
  name = ""
}

initiative "bad key" {
  name = "C"
}
