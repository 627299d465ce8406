#!/usr/bin/env bash
# The regression gate, measured side by side. It builds the reference revision (the one
# that recorded results/baselines/, its `run.git_revision`) next to this one, runs the
# gate's cases with both binaries on this machine in one job, and fails when this build is
# slower than the reference beyond the threshold, the whole 95% interval of the ratio
# (halbench compare).
#
# Why side by side: a stored baseline is a figure from another machine on another day.
# CI runs on shared VMs whose speed differs by 20-60% from one to the next (measured: the
# same build's PoCL GEMM took 92 ms on one and 144-149 ms on another), which a stored
# baseline reads as a regression. Two builds measured minutes apart on one machine see the
# same machine, so the ratio between them is the build's own.
#
# A regression, or a case the noise could not decide (compare's `ambiguous`), is measured
# in three more rounds, the order alternating (this build first, then the reference, then
# the other way) and to a tighter precision, and the four rounds are judged together
# (`halbench compare --round`): slower only when every round's ratio is beyond the
# threshold. One pair is not enough on a shared machine: PoCL's peak.fma here runs a whole
# process at either 0.75 ms or 1.45 ms a launch (measured: six runs of either build split
# between the two), so one pair's 2x says which mode each process drew, not which
# build is slower; a real regression is slower in every round. Then the gate proves it would
# catch a 2x slowdown: a copy of the run with every time doubled must fail `halbench compare`.
#
# The cases are compute bound (peak.fma, GEMM tiled) and small. Threshold 40%: a 2x
# slowdown is +100%.
#
#   ci/regression.sh            compare this build with the reference build (CI)
#   ci/regression.sh --record   write this machine's baselines; this revision becomes the reference
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
bin=target/release/halbench
backends=${HALBENCH_GATE_BACKENDS:-cpu,opencl,vulkan}
threshold=40
cases=(--backend "$backends" --workload peak.fma --workload gemm --variant default,tiled --dtype f32)

if [ "${1:-}" = --record ]; then
  "$bin" run "${cases[@]}" --baseline results/baselines --update-baseline >/dev/null
  exit 0
fi

out=$(mktemp -d)
base_tree="$out/reference"
cleanup() {
  git worktree remove --force "$base_tree" 2>/dev/null || true
  rm -rf "$out"
}
trap cleanup EXIT

# The reference revision: every baseline file names the build that recorded it.
ref=${HALBENCH_GATE_REFERENCE:-$(python3 - <<'PY'
import glob, json, sys
revs = {json.load(open(f))["run"]["git_revision"] for f in glob.glob("results/baselines/*.json")}
if len(revs) != 1:
    sys.exit(f"results/baselines/ must come from one revision, found {sorted(revs)}")
print(revs.pop())
PY
)}
echo "regression gate: this build against the reference build $ref, side by side"
git worktree add --detach -q "$base_tree" "$ref"
# Its own target directory: sharing ours would swap target/release/halbench under us.
CARGO_TARGET_DIR=target/gate-reference cargo build --release -q --manifest-path "$base_tree/Cargo.toml" --bin halbench
ref_bin=target/gate-reference/release/halbench

# The second look samples to ±1% (quick asks ±2%) within 6 s a case; a reference built before --precision
# existed takes its fixed sample count.
precise=()
measure() { # measure BINARY OUT.json
  local extra=()
  if [ ${#precise[@]} -gt 0 ] && "$1" run --help | grep -q -- --time-cap; then extra=("${precise[@]}"); fi
  "$1" run "${cases[@]}" "${extra[@]}" --json "$2" --format markdown >/dev/null
}
pair() { # pair ORDER N: "ref-first" or "new-first"; round N's ref-N.json and run-N.json
  if [ "$1" = ref-first ]; then
    measure "$ref_bin" "$out/ref-$2.json"
    measure "$bin" "$out/run-$2.json"
  else
    measure "$bin" "$out/run-$2.json"
    measure "$ref_bin" "$out/ref-$2.json"
  fi
}
judge() { # judge ROUNDS [compare options…]: rounds 1..ROUNDS judged together
  local n=$1 args=()
  shift
  for ((k = 2; k <= n; k++)); do args+=(--round "$out/ref-$k.json" "$out/run-$k.json"); done
  "$bin" compare "$out/ref-1.json" "$out/run-1.json" "${args[@]}" --threshold "$threshold" "$@"
}
ambiguous() { # the first look left cases the noise could not decide
  { judge 1 --format json 2>/dev/null || true; } |
    python3 -c "import json,sys; sys.exit(0 if any(c['verdict']=='ambiguous' for c in json.load(sys.stdin)) else 1)"
}
pair ref-first 1
if ! judge 1 || ambiguous; then
  echo "regression gate: regressions or ambiguous cases; three more rounds to ±1% within 6 s a case, the order alternating, judged with the first" >&2
  precise=(--precision 1 --time-cap 6)
  pair new-first 2
  pair ref-first 3
  pair new-first 4
  judge 4
fi
python3 - "$out/run-1.json" "$out/slow.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
for r in doc["results"]:
    t = r.get("timing")
    if t:
        for k in ("median_s", "min_s", "max_s", "p10_s", "p90_s"):
            t[k] *= 2
json.dump(doc, open(sys.argv[2], "w"))
PY
"$bin" compare "$out/run-1.json" "$out/run-1.json" --threshold "$threshold" >/dev/null
if "$bin" compare "$out/run-1.json" "$out/slow.json" --threshold "$threshold" >/dev/null 2>&1; then
  echo "regression gate: a 2x slowdown was not caught" >&2
  exit 1
fi
echo "regression gate: passed, and a 2x slowdown is caught"
