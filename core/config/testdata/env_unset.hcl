hub {
  api_token = env("USMHUB_TEST_SURELY_UNSET")
}
