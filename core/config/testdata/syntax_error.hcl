hub {
  log_level = "info
}
