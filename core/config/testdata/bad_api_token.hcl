hub {
  api_token = "two words"
}
