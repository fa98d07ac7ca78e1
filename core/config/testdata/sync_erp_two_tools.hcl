hub {
  strategy = "erp"
}
initiative "x" { name = "X" }
connector "redmine" "main" {}
connector "file" "local" {}

sync "risks" {
  kind      = "risk"
  connector = "redmine.main"
}

sync "scans" {
  kind      = "scan"
  connector = "file.local"
}
