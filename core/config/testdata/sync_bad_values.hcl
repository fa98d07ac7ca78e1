hub {
  strategy = "erp"
}
initiative "x" { name = "X" }
connector "redmine" "main" {}

sync "risks" {
  kind       = "risk"
  connector  = "redmine.mian"
  direction  = "sideways"
  map_status = { done = "Closed" }
  filter     = { colour = "red" }
  schedule   = "every day"
  lookback   = "5 minutes"
}
