#!/usr/bin/env bash
# redmine-down.sh — stop the Redmine that scripts/redmine-up.sh started, by its PID file only.
# Same knob as redmine-up.sh: REDMINE_STATE (${TMPDIR:-/tmp}/usmhub-redmine).
set -u
STATE="${REDMINE_STATE:-${TMPDIR:-/tmp}/usmhub-redmine}"
PIDFILE="$STATE/redmine.pid"
[ -f "$PIDFILE" ] || { echo "[redmine-down] no PID file $PIDFILE: nothing to stop" >&2; exit 0; }
pid=$(cat "$PIDFILE")
case "$pid" in ''|*[!0-9]*) echo "[redmine-down] bad PID file $PIDFILE" >&2; rm -f "$PIDFILE"; exit 1;; esac
if kill -0 "$pid" 2>/dev/null && ! tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q thin; then
  echo "[redmine-down] pid $pid is no longer Redmine's thin server: not killing it" >&2
elif kill -0 "$pid" 2>/dev/null; then
  kill "$pid"
  for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
fi
rm -f "$PIDFILE"
echo "[redmine-down] stopped redmine (pid $pid)" >&2
# The Debian instance link redmine-up.sh made into this state folder.
if [ -f "$STATE/instance.name" ]; then
  link="/var/lib/redmine/$(cat "$STATE/instance.name")"
  if [ -L "$link" ] && [ "$(readlink "$link")" = "$STATE/instance" ]; then rm -f "$link"; fi
fi
