#!/usr/bin/env bash
# Side by side in one run: halbench's CPU stream.triad at `full` scale against a plain C
# OpenMP triad of the same array size and thread count. Prints both medians and the ratio.
# Usage: ci/triad-vs-openmp.sh [halbench binary]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/release/halbench}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

threads=$(nproc)
gcc -O3 -march=native -fopenmp ci/stream_omp.c -o "$work/stream_omp"

"$bin" run --backend cpu --workload stream.triad --scale full --json "$work/triad.json" >/dev/null
read -r n gbs < <(python3 - "$work/triad.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
print(r["shape"].split("=")[1], r["metrics"]["gbs"])
PY
)
omp=$(OMP_NUM_THREADS=$threads OMP_PROC_BIND=close "$work/stream_omp" "$n" 20)
omp_gbs=$(echo "$omp" | awk '{print $8}')
echo "array size: $n floats per array, threads: $threads"
echo "halbench cpu stream.triad (median): $gbs GB/s"
echo "OpenMP triad (median):              $omp_gbs GB/s   [$omp]"
python3 -c "print(f'ratio halbench/OpenMP: {$gbs / $omp_gbs:.3f}')"
