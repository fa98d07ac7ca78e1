initiative "only" {
  name = "The only one"
}

priority "default" {
  score = likelihood * impact
}

report "register" {
  kind = "register"
}
