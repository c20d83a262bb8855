#!/usr/bin/env bash
# Brings up a throwaway single-node Slurm on localhost (munged, slurmctld, slurmd) without systemd,
# for testing `pipeline export slurm` / `pipeline submit`. Not for a real cluster.
#
#   scripts/slurm-up.sh [STATE_DIR]      default STATE_DIR: $CPREC_SLURM_STATE or /tmp/cprec-slurm
#   scripts/slurm-down.sh [STATE_DIR]    stops exactly the processes this script started (by PID)
#
# Needs root (it installs Debian packages and writes /etc/slurm/slurm.conf). Installs slurmctld slurmd
# slurm-client munge only when missing. The daemons' state, logs and pid files live in STATE_DIR; the PIDs
# it started are listed in STATE_DIR/pids. Every gotcha met on this machine kind is in ../shared/slurm/NOTES.md:
# no systemd (daemons started by hand), hostname avoided (node "localhost" at 127.0.0.1), no cgroups,
# batch_sched_delay=0 (else each job start waits 3 s), kill_invalid_depend in DependencyParameters (a failed
# stage cancels its dependants instead of leaving them pending forever).
set -euo pipefail

STATE=${1:-${CPREC_SLURM_STATE:-/tmp/cprec-slurm}}
CONF=/etc/slurm/slurm.conf
MARK="# written by cprec-repro scripts/slurm-up.sh"
t0=$(date +%s%N)
say() { echo "slurm-up: $*" >&2; }

if [ "$(id -u)" != "0" ]; then say "run as root (it installs packages and starts daemons)"; exit 1; fi
if [ -s "$STATE/pids" ]; then
  say "$STATE/pids exists: a previous bring-up is still recorded; run scripts/slurm-down.sh $STATE first"
  exit 1
fi
if [ -e "$CONF" ] && ! grep -qF "$MARK" "$CONF"; then
  say "$CONF exists and was not written by this script; refusing to replace a real configuration"
  exit 1
fi

missing=()
for p in slurmctld slurmd slurm-client munge; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then missing+=("$p"); fi
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # The image's policy-rc.d keeps the packages from starting services; we start them below.
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

mkdir -p "$STATE"/{ctld,d}
: > "$STATE/pids"

# munge: reuse a working munged (e.g. started by systemd on a CI VM), else start our own as the munge user.
if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  say "reusing the running munged"
else
  [ -s /etc/munge/munge.key ] || mungekey --create >/dev/null
  install -d -o munge -g munge -m 0755 /run/munge
  rm -f /run/munge/munged.pid
  runuser -u munge -- munged
  for _ in $(seq 100); do [ -s /run/munge/munged.pid ] && break; sleep 0.05; done
  echo "munged $(cat /run/munge/munged.pid)" >> "$STATE/pids"
  for _ in $(seq 100); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.05; done
fi

# The node line from the real hardware, RealMemory cut by 10% (more than the machine has drains the node).
node=$(slurmd -C | head -1 | sed -E 's/^NodeName=[^ ]+/NodeName=localhost NodeAddr=127.0.0.1/')
mem=$(sed -nE 's/.*RealMemory=([0-9]+).*/\1/p' <<<"$node")
node=$(sed -E "s/RealMemory=[0-9]+/RealMemory=$((mem * 9 / 10))/" <<<"$node")

mkdir -p /etc/slurm
cat > "$CONF" <<EOF
$MARK; state in $STATE
ClusterName=cprec
SlurmctldHost=localhost
SlurmUser=root
AuthType=auth/munge
CryptoType=crypto/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
DependencyParameters=kill_invalid_depend
# Reject at sbatch time a job asking more than the partition has (else it pends forever, reason PartitionConfig).
EnforcePartLimits=ALL
ReturnToService=2
MinJobAge=600
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
$node
PartitionName=local Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF

# -c: start from a clean controller state (job ids restart at 1).
slurmctld -c
slurmd -c -N localhost
for f in slurmctld slurmd; do
  for _ in $(seq 200); do [ -s "$STATE/$f.pid" ] && break; sleep 0.05; done
  [ -s "$STATE/$f.pid" ] || { say "$f did not start; see $STATE/$f.log"; exit 1; }
  echo "$f $(cat "$STATE/$f.pid")" >> "$STATE/pids"
done

for _ in $(seq 300); do
  s=$(sinfo -h -n localhost -o %T 2>/dev/null || true)
  [ "$s" = "idle" ] && break
  sleep 0.1
done
if [ "$s" != "idle" ]; then say "node state is '${s:-unknown}', not idle; see $STATE/*.log"; exit 1; fi
say "$(sinfo -h -o '%P %D %c cpus %T') ready in $(( ($(date +%s%N) - t0) / 1000000 )) ms; pids: $(tr '\n' ' ' < "$STATE/pids")"
