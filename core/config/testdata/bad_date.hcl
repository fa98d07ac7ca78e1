initiative "x" {
  name         = "X"
  committed_on = "2025-02-30"

  training {
    person = "anna"
    course = "USM Foundation"
    date   = "15-01-2025"
  }
}
