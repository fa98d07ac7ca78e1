priority "p" {
  score = likelihood * impact + urgency
}
