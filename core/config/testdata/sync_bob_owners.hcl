hub {
  strategy = "best_of_breed"
}
initiative "x" { name = "X" }
connector "redmine" "main" {}
connector "file" "local" {}

sync "risks-redmine" {
  kind      = "risk"
  connector = "redmine.main"
  authority { default = "remote" }
}

sync "risks-sheet" {
  kind      = "risk"
  connector = "file.local"
  authority { default = "remote" }
}

sync "votes" {
  kind      = "vote"
  connector = "file.local"
}
