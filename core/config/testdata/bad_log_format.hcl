hub {
  log_format = "xml"
}
