priority "default" {
  score = likelihood * impact
}

initiative "x" {
  name     = "X"
  priority = "fast"
}
