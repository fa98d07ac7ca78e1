initiative "x" {
  name    = "X"
  sponser = "CIO"
}
