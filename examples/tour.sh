#!/usr/bin/env bash
# The five-minute tour of usmhub on the example data: import the risk
# inventory, let the sounding board vote, import the scans, plan a sprint,
# sync with the spreadsheet folder and check readiness. Safe to run again:
# imports are idempotent, and the sync adopts the sheet's rows by key.
set -euo pipefail
usmhub=${1:-bin/usmhub}
config=${2:-config.example.hcl}
here=$(dirname "$0")
hub() { printf '$ usmhub'; printf ' %q' "$@"; echo; "$usmhub" -config "$config" "$@"; echo; }

hub validate
hub risk import "$here/risks.csv"
hub vote R-3 -voter Lotte
hub vote R-3 -voter Youssef -weight 2
hub vote R-5 -voter Marieke
hub scan import -kind baseline -method "USM scan" -method-version 2 -date 2026-09-20 "$here/baseline.csv"
hub scan import -kind progress -method "USM scan" -method-version 2 -date 2026-11-20 "$here/progress.csv"
hub risk list -status accepted
hub sprint plan -start 2026-12-01 -end 2026-12-14 -goal "Fewer repeat incidents" -dry-run
hub scan compare
hub plan || true   # exit 2: changes pending
hub sync
hub report register
hub readiness
