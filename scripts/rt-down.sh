#!/usr/bin/env bash
# rt-down.sh — stop the Request Tracker that scripts/rt-up.sh started, by its PID file only (TERM to
# the Starlet master stops its workers; those still alive after 10 s are killed by their recorded PIDs).
# Same knob as rt-up.sh: RT_STATE (${TMPDIR:-/tmp}/usmhub-rt).
set -u
STATE="${RT_STATE:-${TMPDIR:-/tmp}/usmhub-rt}"
PIDFILE="$STATE/rt.pid"
[ -f "$PIDFILE" ] || { echo "[rt-down] no PID file $PIDFILE: nothing to stop" >&2; exit 0; }
pid=$(cat "$PIDFILE")
case "$pid" in ''|*[!0-9]*) echo "[rt-down] bad PID file $PIDFILE" >&2; rm -f "$PIDFILE"; exit 1;; esac
if kill -0 "$pid" 2>/dev/null && ! tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q rt-server; then
  echo "[rt-down] pid $pid is no longer RT's server: not killing it" >&2
elif kill -0 "$pid" 2>/dev/null; then
  kids=$(pgrep -P "$pid" || true)
  kill "$pid"
  for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  for k in $kids; do kill -0 "$k" 2>/dev/null && kill -9 "$k"; done
fi
rm -f "$PIDFILE"
echo "[rt-down] stopped rt (pid $pid)" >&2
