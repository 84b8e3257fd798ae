#!/usr/bin/env bash
# down.sh - stop exactly the processes that up.sh started, by the PIDs it
# recorded in $REALSTACK_DIR/pids ("name pid" lines).  Nothing is killed by
# name.  Data and configs stay; remove $REALSTACK_DIR to start from scratch.
set -uo pipefail
DIR=${REALSTACK_DIR:-/tmp/nova-image-exporter-realstack}
PIDS=$DIR/pids
[ -f "$PIDS" ] || { echo "no pid file $PIDS: nothing to stop" >&2; exit 0; }

alive() { kill -0 "$1" 2>/dev/null; }
# only signal a pid if it still looks like one of ours (guards against reuse)
ours() { tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -q "uwsgi.*$DIR"; }

mapfile -t lines <"$PIDS"
masters=() workers=()
for l in "${lines[@]}"; do
  set -- $l
  [ $# -eq 2 ] || continue
  case $1 in *-worker) workers+=("$2") ;; *) masters+=("$2") ;; esac
done

for p in "${masters[@]}"; do
  if alive "$p" && ours "$p"; then echo "stopping pid $p (TERM)" >&2; kill -TERM "$p"; fi
done
for i in $(seq 1 30); do
  left=0
  for p in "${masters[@]}" "${workers[@]}"; do alive "$p" && ours "$p" && left=1; done
  [ $left = 0 ] && break
  sleep 0.5
done
for p in "${masters[@]}" "${workers[@]}"; do
  if alive "$p" && ours "$p"; then echo "pid $p still alive: KILL" >&2; kill -KILL "$p"; fi
done
mv "$PIDS" "$PIDS.stopped.$(date +%s)"
echo "stopped: ${masters[*]:-} ${workers[*]:-}" >&2
