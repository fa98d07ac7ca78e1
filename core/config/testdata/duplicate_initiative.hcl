initiative "x" {
  name = "First"
}

initiative "x" {
  name = "Second"
}
