hub {
  api_token = file("secrets/missing.txt")
}
