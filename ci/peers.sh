#!/usr/bin/env bash
# halbench beside the peers it is read against, on this machine, in interleaved rounds:
# BabelStream's OpenMP and OpenCL builds against halbench's CPU and OpenCL stream.copy,
# scale, add and triad at 2^25 and 2^27 floats (100 runs each, best and typical), and
# clpeak's Vulkan single-precision compute against halbench's Vulkan peak.fma f32. Each
# round runs every pair back to back, so drift over the rounds hits both sides alike.
#
# Usage: BABELSTREAM_OMP=… BABELSTREAM_OCL=… CLPEAK=… ci/peers.sh [rounds] [out dir]
# (BabelStream: `cmake -DMODEL=omp` or `-DMODEL=ocl`; clpeak: its CMake build.) A peer
# left unset is left out. Prints per-round ratios and the median over rounds.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${HALBENCH:-target/release/halbench}
rounds=${1:-5}
out=${2:-$(mktemp -d)}
mkdir -p "$out"
threads=$(nproc)
sizes=(33554432 134217728)
streams=(--workload stream.copy --workload stream.scale --workload stream.add --workload stream.triad)
halbench() { "$bin" run --progress off --samples 100 --precision 0 "$@" >/dev/null; }
for r in $(seq 1 "$rounds"); do
  echo "round $r/$rounds" >&2
  for n in "${sizes[@]}"; do
    if [ -n "${BABELSTREAM_OMP:-}" ]; then
      OMP_NUM_THREADS=$threads OMP_PROC_BIND=true "$BABELSTREAM_OMP" --float -s "$n" -n 100 --csv \
        > "$out/bs-omp-$n-$r.csv"
      halbench --backend cpu "${streams[@]}" --shape "n=$n" --json "$out/hb-cpu-$n-$r.json"
    fi
    if [ -n "${BABELSTREAM_OCL:-}" ]; then
      "$BABELSTREAM_OCL" --float -s "$n" -n 100 --csv > "$out/bs-ocl-$n-$r.csv"
      halbench --backend opencl "${streams[@]}" --shape "n=$n" --json "$out/hb-opencl-$n-$r.json"
    fi
  done
  if [ -n "${CLPEAK:-}" ]; then
    "$CLPEAK" --vulkan --single-precision-compute > "$out/clpeak-$r.txt" 2>&1
    "$bin" run --progress off --backend vulkan --workload peak.fma --dtype f32 --variant default \
      --json "$out/hb-vulkan-peak-$r.json" >/dev/null
  fi
done
python3 ci/peers.py "$out"
