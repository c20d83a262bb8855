#!/usr/bin/env bash
# Stops the single-node Slurm that scripts/slurm-up.sh started, by the PIDs it recorded (nothing else), and
# removes the configuration it wrote. The packages stay installed.
#
#   scripts/slurm-down.sh [STATE_DIR]    default STATE_DIR: $CPREC_SLURM_STATE or /tmp/cprec-slurm
set -euo pipefail

STATE=${1:-${CPREC_SLURM_STATE:-/tmp/cprec-slurm}}
CONF=/etc/slurm/slurm.conf
MARK="# written by cprec-repro scripts/slurm-up.sh"
say() { echo "slurm-down: $*" >&2; }
t0=$(date +%s%N)

if [ ! -f "$STATE/pids" ]; then say "no $STATE/pids: nothing recorded to stop"; exit 0; fi

# Stop in reverse start order (slurmd, slurmctld, then munged), each only if the PID still runs that program.
mapfile -t lines < <(tac "$STATE/pids")
for line in "${lines[@]}"; do
  name=${line% *}; pid=${line##* }
  [ -n "$pid" ] || continue
  comm=$(cat "/proc/$pid/comm" 2>/dev/null || true)
  if [ "$comm" != "$name" ]; then say "$name (pid $pid) already gone"; continue; fi
  kill -TERM "$pid"
  for _ in $(seq 100); do [ -e "/proc/$pid" ] || break; sleep 0.1; done
  if [ -e "/proc/$pid" ]; then say "$name (pid $pid) ignored SIGTERM for 10 s; sending SIGKILL"; kill -KILL "$pid"; fi
  say "stopped $name (pid $pid)"
done
rm -f "$STATE/pids"
if [ -f "$CONF" ] && grep -qF "$MARK" "$CONF"; then rm -f "$CONF"; fi
say "done in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
