hub {
  public_url = "usm.example.org/hub"
}
