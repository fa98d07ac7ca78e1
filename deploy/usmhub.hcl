# usmhub as a service: installed by `make install` as
# /etc/usmhub/usmhub.hcl (only when there is none yet) and read by
# usmhub.service. Adapt it, check it with
#   sudo -u usmhub usmhub -config /etc/usmhub/usmhub.hcl validate
# and apply it with `systemctl reload usmhub`. config.example.hcl in the
# source tree shows every block; README.md "Run it as a service" the rest.

hub {
  data_dir   = "/var/lib/usmhub"    # the unit's StateDirectory: the only place it may write
  log_level  = "info"
  log_format = "text"               # journald keeps the lines; "json" for a log shipper
  listen     = "127.0.0.1:8765"
  # POST /v1/sync/<name> needs this token; put USMHUB_API_TOKEN=... into
  # /etc/usmhub/usmhub.env (mode 0600), not into this file.
  # api_token = env("USMHUB_API_TOKEN")
}

initiative "main" {
  name            = "USM improvement programme"
  sprint_capacity = 10
  sounding_board  = []
}

priority "default" {
  description = "Risk exposure plus the sounding board's voice, per unit of effort"
  score       = (likelihood * impact + 2 * votes) / max(effort, 1)
}

# A spreadsheet folder the hub syncs with; it must exist and be writable by
# the usmhub user, under /var/lib/usmhub (the only place the unit lets it
# write), e.g.: sudo install -d -o usmhub -g usmhub /var/lib/usmhub/sheet
#
# connector "file" "sheet" {
#   dir = "/var/lib/usmhub/sheet"
# }
#
# sync "risks" {
#   kind      = "risk"
#   connector = "file.sheet"
#   schedule  = "@every 5m"
#   authority {
#     default = "remote"
#   }
# }
