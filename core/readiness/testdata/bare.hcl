initiative "sd" {
  name = "Servicedesk op orde"
}
