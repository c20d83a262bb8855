#!/usr/bin/env bash
# Integration test of the Slurm path against a real, local, single-node Slurm (not part of `swift test` / CI):
#
#   scripts/slurm-test.sh [--profile P] [--keep]   `pipeline submit --profile P --wait` (default P: smoke) into a
#                                                  temporary cache, then checks every stage is fresh and that each
#                                                  stage's key and output hash equal a local `pipeline all` run's
#   scripts/slurm-test.sh --generic                the same check on a small generic stage graph, plus a job
#                                                  scancel'ed mid-stage: its dependants are cancelled, a new
#                                                  export submits only what did not finish, and the new job
#                                                  breaks the dead job's lock (SlurmClusterTests, CPREC_SLURM_TEST=1)
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

# One thread per stage on both sides: results may depend on the BLAS thread count, which is not part of the key.
t=$(now)
"$bin" submit --profile "$profile" --cache-dir "$WORK/slurm-cache" --out "$WORK/slurm-out" --cpus 1 --poll 1 --wait
say "pipeline submit --wait ($profile): $(ms "$t")"
"$bin" status --profile "$profile" --cache-dir "$WORK/slurm-cache" --out "$WORK/slurm-out" --quiet \
  || { say "some stage is not fresh after the Slurm run"; "$bin" status --profile "$profile" --cache-dir "$WORK/slurm-cache"; exit 1; }

t=$(now)
"$bin" all --profile "$profile" --cache-dir "$WORK/local-cache" --out "$WORK/local-out" -j 2 >/dev/null
say "local pipeline all -j 2 ($profile): $(ms "$t")"

# Stage by stage: same key and same output hash as the local run, for every computing stage. Presentation stages
# (table, figure, report) print wall times and the run's date by design, so they are listed but not counted.
# For a stage with the same key but other
# outputs, name the files that differ and say whether a second local run differs too (then the stage's outputs
# are not reproducible at all, e.g. they hold wall-clock times, which is no fault of the Slurm path).
compare() {  # compare CACHE_A CACHE_B -> prints one line per differing stage; exit 1 if any
  python3 - "$1" "$2" <<'PY'
import json, os, sys
a, b = sys.argv[1], sys.argv[2]
def load(root, name):
    p = os.path.join(root, "_index", name)
    return json.load(open(p)) if os.path.exists(p) else None
def files(root, rec):
    kind = rec["id"].split("/")[0]
    m = json.load(open(os.path.join(root, kind, rec["key"], "manifest.json")))
    return {o["name"]: o["sha256"] for o in m["outputs"]}
names = sorted(os.listdir(os.path.join(a, "_index")))
bad = 0
presentation = ("table", "figure", "report")
for n in names:
    x, y = load(a, n), load(b, n)
    if x["id"].split("/")[0] in presentation:
        if y is None or x["outputHash"] != y["outputHash"]:
            print(f"  {x['id']}: presentation stage (timings, dates), not compared")
        continue
    if y is None:
        print(f"  {n}: missing"); bad += 1
    elif x["key"] != y["key"]:
        print(f"  {x['id']}: other key (an input differs)"); bad += 1
    elif x["outputHash"] != y["outputHash"]:
        fx, fy = files(a, x), files(b, y)
        diff = sorted(k for k in set(fx) | set(fy) if fx.get(k) != fy.get(k))
        print(f"  {x['id']}: same key, outputs differ: {', '.join(diff)}"); bad += 1
computing = [n for n in names if load(a, n)["id"].split("/")[0] not in presentation]
print(f"{len(computing) - bad} of {len(computing)} computing stages identical")
sys.exit(1 if bad else 0)
PY
}
if compare "$WORK/local-cache" "$WORK/slurm-cache"; then
  say "all stages: same keys and output hashes as the local run"
else
  say "FAILED: the Slurm run's outputs differ from the local run's (above); a second local run, for comparison:"
  "$bin" all --profile "$profile" --cache-dir "$WORK/local2-cache" --out "$WORK/local2-out" -j 2 >/dev/null
  compare "$WORK/local-cache" "$WORK/local2-cache" \
    && say "two local runs agree: the difference comes from the Slurm path" \
    || say "two local runs differ the same way: those stages' outputs are not reproducible (fix the stages)"
  exit 1
fi
say "OK in $(ms "$t_all")"
