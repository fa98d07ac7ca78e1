hub {}

initiatve "x" {
  name = "typo in the block type"
}
