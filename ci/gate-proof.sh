#!/usr/bin/env bash
# Does the gate catch real slowdowns, and stay quiet when nothing changed? Measures the
# gate's cases (peak.fma and tiled GEMM, f32, quick) on this machine, then again:
#   - on half the threads (the CPU backend through rayon, PoCL, lavapipe): about 2x on
#     compute-bound cases of a 2-core machine;
#   - the CPU beside a load that takes a share of both cores (--hog PERCENT, default 30:
#     a busy/sleep loop per core): a smaller, real slowdown;
#   - unchanged, several times (false alarms).
# Each is measured in interleaved rounds (--rounds N, default 3): base, changed, base,
# changed, …, and the rounds are judged together (`halbench compare … --round …`): on a
# shared VM whose speed drifts by up to 2x within a minute, one pair of runs can differ by
# the drift alone, while a real change moves every round's ratio the same way. When the
# rounds leave cases ambiguous, two more rounds are measured to ±1% within 6 s a case and
# all are judged again, as the gate's second look. A table is printed: case, slowdown
# injected, verdict, rounds' ratios, precision reached, time spent sampling.
#
#   ci/gate-proof.sh [--reruns N] [--rounds N] [--threshold PERCENT] [--hog PERCENT]
#                    [--backend LIST] [--second-look on|off] [--scenarios threads,hog,reruns]
set -euo pipefail
cd "$(dirname "$0")/.."
reruns=5 rounds=3 threshold=20 hog=30 backends=cpu,opencl,vulkan second_look=on scenarios=threads,hog,reruns
while [ $# -gt 0 ]; do
  case "$1" in
    --reruns) reruns=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --second-look) second_look=$2; shift 2 ;; # on | off
    --scenarios) scenarios=$2; shift 2 ;;     # any of threads,hog,reruns
    --threshold) threshold=$2; shift 2 ;;
    --hog) hog=$2; shift 2 ;;
    --backend) backends=$2; shift 2 ;;
    *) echo "gate-proof: unknown option $1" >&2; exit 2 ;;
  esac
done
cargo build --release -q -p halbench
bin=target/release/halbench
out=${GATE_PROOF_OUT:-$(mktemp -d)}
mkdir -p "$out"
# peak.fma sizes itself from the device's compute units, which fewer threads change: a
# fixed shape keeps its key (and its work) the same in every run.
peak=(--workload peak.fma --variant default --dtype f32 --shape n=65536)
gemm=(--workload gemm --variant tiled --dtype f32)
cores=$(nproc)
half=$(( cores / 2 > 0 ? cores / 2 : 1 ))

extra=()
measure() { # measure NAME BACKENDS [ENV…]: both halves into NAME.json
  local name=$1 b=$2; shift 2
  env "$@" "$bin" run --backend "$b" "${peak[@]}" "${extra[@]}" --json "$out/$name.peak.json" --progress off >/dev/null
  env "$@" "$bin" run --backend "$b" "${gemm[@]}" "${extra[@]}" --json "$out/$name.gemm.json" --progress off >/dev/null
  python3 - "$out/$name" <<'PY'
import json, sys
a, b = (json.load(open(f"{sys.argv[1]}.{h}.json")) for h in ("peak", "gemm"))
a["results"] += b["results"]
json.dump(a, open(f"{sys.argv[1]}.json", "w"))
PY
}
before=true after=true # what to do around each changed run
pairs=() # the rounds measured so far of the current scenario: base new base new …
round() { # round NAME I BACKENDS [ENV…]: base-NAME-I, then NAME-I
  local name=$1 i=$2 b=$3; shift 3
  measure "base-$name-$i" "$b"
  $before
  measure "$name-$i" "$b" "$@"
  $after
  pairs+=("$out/base-$name-$i.json" "$out/$name-$i.json")
}
judge() { # judge: the rounds so far, as compare's JSON
  local args=("${pairs[0]}" "${pairs[1]}")
  for ((k = 2; k < ${#pairs[@]}; k += 2)); do args+=(--round "${pairs[k]}" "${pairs[k + 1]}"); done
  "$bin" compare "${args[@]}" --threshold "$threshold" --format json 2>/dev/null || true
}
decide() { # decide NAME BACKENDS [ENV…]: the rounds, and the second look if needed
  local name=$1 b=$2 i; shift 2
  pairs=()
  for i in $(seq "$rounds"); do round "$name" "$i" "$b" "$@"; done
  if [ "$second_look" = on ] && judge | python3 -c "import json,sys; sys.exit(0 if any(c['verdict']=='ambiguous' for c in json.load(sys.stdin)) else 1)"; then
    extra=(--precision 1 --time-cap 6)
    for i in $((rounds + 1)) $((rounds + 2)); do round "$name" "$i" "$b" "$@"; done
    extra=()
    echo "gate-proof: $name had ambiguous cases: two more rounds to ±1% within 6 s a case" >&2
  fi
  judge >"$out/$name.cmp.json"
}
verdicts() { # verdicts NAME LABEL: the judged rounds of NAME as table rows
  python3 - "$out/$1.cmp.json" "$2" "${pairs[@]}" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))
label, files = sys.argv[2], sys.argv[3:]
news = [json.load(open(f))["results"] for f in files[1::2]]
def key(r):
    return f"{r['device']}/{r['workload']}/{r['variant']}/{r['dtype']}/{r['shape']}"
for c in rows:
    if c["verdict"] in ("missing", "new"):
        continue
    timings = [(r.get("timing") or {}) for new in news for r in new if r.get("workload") and key(r) == c["key"]]
    worst = max((t.get("precision") or 0 for t in timings), default=None)
    capped = sum(1 for t in timings if t.get("capped"))
    spent = sum(t.get("sampling_s", 0) for t in timings)
    ratios = " ".join(f"{r:.2f}" for r in c.get("rounds", [])) or (f"{c['ratio']:.2f}" if c.get("ratio") else "-")
    print("| {} | {} | {} | {} | {} | {} |".format(
        c["key"], label, c["verdict"], ratios,
        f"±{100 * worst:.1f}% worst" + (f" ({capped} capped)" if capped else "") if worst else "-",
        f"{spent:.2f} s"))
PY
}

echo "gate-proof: threshold ${threshold}%, $cores cores, backends $backends, results in $out" >&2
echo "| case | injected | verdict | rounds' new/base | precision | sampling (changed runs) |"
echo "|---|---|---|---|---|---|"
want() { [[ ",$scenarios," == *",$1,"* ]]; }
if want threads; then
decide threads "$backends" RAYON_NUM_THREADS=$half POCL_MAX_PTHREAD_COUNT=$half LP_NUM_THREADS=$half
verdicts threads "$half of $cores threads"
fi

# A load on every core, busy $hog% of each 10 ms, during each changed run only.
hogs=()
start_hogs() {
  for _ in $(seq "$cores"); do
    python3 -c "
import time
period = 0.01
busy = $hog / 100.0 * period
while True:
    t = time.perf_counter()
    while time.perf_counter() - t < busy: pass
    time.sleep(period - busy)" &
    hogs+=($!)
  done
}
stop_hogs() {
  kill "${hogs[@]}" 2>/dev/null || true
  wait "${hogs[@]}" 2>/dev/null || true
  hogs=()
}
trap 'kill "${hogs[@]}" 2>/dev/null || true' EXIT
if want hog; then
  before=start_hogs after=stop_hogs
  decide hog cpu
  before=true after=true
  verdicts hog "load ${hog}% of each core"
fi

if want reruns; then
  for r in $(seq "$reruns"); do
    decide "rerun$r" "$backends"
    verdicts "rerun$r" "none (rerun $r)"
  done
fi
