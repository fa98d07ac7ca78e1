initiative "x" {
  name            = "X"
  sprint_capacity = 0
}

initiative "y" {
  name            = "Y"
  sprint_capacity = -2.5
}
