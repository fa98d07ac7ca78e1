hub {
  log_level = env("USMHUB_TEST_PLANTED_LEVEL")
  listen    = file("secrets/token.txt")
}

initiative "x" {
  name         = "X"
  committed_on = env("USMHUB_TEST_PLANTED_DATE")
}
