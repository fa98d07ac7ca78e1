# Two initiatives; the only report is about the other one.
connector "file" "local" {
  path = "sheet"
}

initiative "sd" {
  name            = "Servicedesk op orde"
  lead            = "anna"
  team            = ["bram"]
  sprint_capacity = 5
}

initiative "cmdb" {
  name = "One infrastructure register"
}

report "register" {
  kind       = "register"
  initiative = "cmdb"
  publish_to = ["file.local"]
}
