initiative "x" {
  lead = "anna"
}

priority "p" {
  description = "no score"
}

report "r" {
  initiative = "x"
}
