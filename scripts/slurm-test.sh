#!/usr/bin/env bash
# Integration test of the Slurm path against a real, local, single-node Slurm (not part of `swift test` / CI):
#
#   scripts/slurm-test.sh [--profile P] [--keep]   `pipeline submit --profile P --wait` (default P: smoke) into a
#                                                  temporary cache, then checks every stage is fresh and that each
#                                                  stage's key and output hash equal a local `pipeline all` run's
#   scripts/slurm-test.sh --generic                the same check on a small generic stage graph
#                                                  (SlurmClusterTests, with CPREC_SLURM_TEST=1)
#
# Needs root: brings Slurm up with scripts/slurm-up.sh (installing slurmctld slurmd slurm-client munge when
# missing) and always stops it again, by PID, with scripts/slurm-down.sh. Prints the time of each phase.
# --keep leaves the temporary caches and outputs in place for inspection.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=smoke mode=profile keep=0
while [ $# -gt 0 ]; do
  case $1 in
    --profile) profile=$2; shift 2 ;;
    --generic) mode=generic; shift ;;
    --keep) keep=1; shift ;;
    *) echo "usage: $0 [--profile P] [--generic] [--keep]" >&2; exit 2 ;;
  esac
done

now() { date +%s%N; }
ms() { echo "$(( ($(now) - $1) / 1000000 )) ms"; }
say() { echo "slurm-test: $*" >&2; }
t_all=$(now)

# Build first, so the daemons are not up (and the cores not shared) while compiling.
t=$(now)
if [ $mode = generic ]; then
  # `swift test` builds with testable imports (a plain `swift build --build-tests` does not); without
  # CPREC_SLURM_TEST the Slurm test is skipped, so this only builds.
  swift test -c release --filter SlurmClusterTests >/dev/null
else
  swift build -c release --product pipeline >/dev/null || { say "build failed"; exit 1; }
fi
say "build: $(ms "$t")"

STATE=$(mktemp -d /tmp/cprec-slurm-state-XXXXXX)
WORK=$(mktemp -d /tmp/cprec-slurm-test-XXXXXX)
cleanup() {
  scripts/slurm-down.sh "$STATE" || true
  if [ $keep = 0 ]; then rm -rf "$WORK" "$STATE"; else say "kept $WORK and $STATE"; fi
}
trap cleanup EXIT

t=$(now)
scripts/slurm-up.sh "$STATE"
say "slurm up: $(ms "$t")"

if [ $mode = generic ]; then
  t=$(now)
  CPREC_SLURM_TEST=1 swift test -c release --skip-build --filter SlurmClusterTests 2>&1 | grep -E "slurm:|✘|✔|passed|failed"
  status=${PIPESTATUS[0]}
  say "generic graph through slurm and locally: $(ms "$t")"
  [ "$status" = 0 ] || { say "FAILED"; exit 1; }
  say "OK in $(ms "$t_all")"
  exit 0
fi

bin=$(swift build -c release --product pipeline --show-bin-path)/pipeline

t=$(now)
"$bin" submit --profile "$profile" --cache-dir "$WORK/slurm-cache" --out "$WORK/slurm-out" --poll 1 --wait
say "pipeline submit --wait ($profile): $(ms "$t")"
"$bin" status --profile "$profile" --cache-dir "$WORK/slurm-cache" --out "$WORK/slurm-out" --quiet \
  || { say "some stage is not fresh after the Slurm run"; "$bin" status --profile "$profile" --cache-dir "$WORK/slurm-cache"; exit 1; }

t=$(now)
"$bin" all --profile "$profile" --cache-dir "$WORK/local-cache" --out "$WORK/local-out" -j 2 >/dev/null
say "local pipeline all -j 2 ($profile): $(ms "$t")"

# Each stage's index record: its key and output hash (and its inputs' hashes) must be equal.
fail=0 n=0
for f in "$WORK/local-cache/_index/"*.json; do
  n=$((n + 1))
  name=$(basename "$f")
  other="$WORK/slurm-cache/_index/$name"
  if [ ! -f "$other" ]; then say "missing after the Slurm run: $name"; fail=1; continue; fi
  if ! diff <(grep -E '"(key|outputHash)"' "$f") <(grep -E '"(key|outputHash)"' "$other") >/dev/null; then
    say "differs: $name"; fail=1
  fi
done
[ "$n" -gt 0 ] || { say "the local run recorded no stage"; exit 1; }
[ $fail = 0 ] || { say "FAILED: outputs differ from the local run"; exit 1; }
say "all $n stages: same keys and output hashes as the local run"
say "OK in $(ms "$t_all")"
