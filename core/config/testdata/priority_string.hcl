priority "p" {
  score = "high"
}
