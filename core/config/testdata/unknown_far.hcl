hub {
  data_dir = "d"
  colour   = 1
}
initiative "a" {
  name = "A"
  start = "2026-09-01"
}
mystery "y" {}
