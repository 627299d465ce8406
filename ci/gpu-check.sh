#!/usr/bin/env bash
# Everything a GPU must show, in one command, for a machine lent for minutes with no Rust
# and no package registry: the conformance suite on cuda (and NVIDIA's OpenCL and Vulkan
# where present), the quick suite on cuda and cpu, the GPU figures (stream, GEMM bf16/f16
# tiled against cuBLAS, fused prefill, split-KV decode at long context, launch latency,
# pinned transfers), roofline, and the same operations through the machine's PyTorch.
# Outputs land in $OUT (default gpu-out/): gpu-check.json (every suite and figure result,
# one document), roofline.json (roofline's own), torch.json, gpu-check.log, and a
# one-screen summary.txt (also printed). Nothing is built there: carry dist/gpu (the
# stripped binary, ~7 MB); CUDA's libnvrtc and libcublas come from the machine's toolkit.
#
#   bash ci/gpu-check.sh --bundle    here: build the stripped binary into dist/gpu/
#   bash ci/gpu-check.sh             there: run it all (carry dist/gpu)
#   bash ci/gpu-check.sh --dry-run   here: the same steps on the CPU at smoke scale, so
#                                    the carried set and the script's logic are proven
#
# What travels: the working tree's tracked files (this script, ci/gpu_torch.py,
# ci/gpu_summary.py) and dist/gpu/halbench. The dry run checks that they fit in the
# 64 MiB a device call carries.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-run}
bin=dist/gpu/halbench

if [ "$mode" = "--bundle" ]; then
  cargo build --release -q -p halbench
  mkdir -p dist/gpu
  strip -o "$bin" target/release/halbench
  ls -la "$bin"
  exit 0
fi

out=${OUT:-gpu-out}
mkdir -p "$out"
log="$out/gpu-check.log"
: > "$log"
[ -x "$bin" ] || { echo "gpu-check: $bin is missing: run 'bash ci/gpu-check.sh --bundle' and carry dist/gpu" >&2; exit 2; }
for f in ci/gpu_summary.py ci/gpu_torch.py; do
  [ -f "$f" ] || { echo "gpu-check: $f is missing" >&2; exit 2; }
done

# CUDA's own libraries (libnvrtc, libcublas) where the toolkit put them.
for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib; do
  [ -d "$d" ] && export LD_LIBRARY_PATH="$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
done

step() { echo "== $*" | tee -a "$log"; }
run() { echo "\$ $*" >>"$log"; "$@" >>"$log" 2>&1 || echo "(exit $?) $*" | tee -a "$log"; }

if [ "$mode" = "--dry-run" ]; then
  travels=$(( $(git ls-files -z | xargs -0 cat | wc -c) + $(cat "$bin" | wc -c) ))
  echo "carried: $travels bytes (tracked files and $bin)" | tee -a "$log"
  [ "$travels" -le $((64 << 20)) ] || { echo "gpu-check: $travels bytes travel, over 64 MiB" >&2; exit 2; }
  # The CPU stands in for the GPU, at smoke scale; the figure shapes shrink to match.
  gpu=cpu scale=smoke torch="--dry-run"
  gemm=(--shape m=64,n=64,k=64 --shape m=37,n=29,k=45)
  prefill=(--shape b=1,h=4,hkv=2,s=64,d=16,causal=1)
  decode=(--shape b=1,h=4,hkv=2,l=512,d=32)
else
  gpu=cuda scale=quick torch=""
  gemm=(--shape m=4096,n=4096,k=4096 --shape m=8192,n=8192,k=8192)
  prefill=(--shape b=1,h=32,hkv=8,s=4096,d=128,causal=1)
  decode=(--shape b=8,h=32,hkv=8,l=16384,d=128)
fi

step "devices"
run "$bin" devices --json
"$bin" devices --json >"$out/devices.json" 2>>"$log" || true
backends=$gpu
if [ "$gpu" = cuda ]; then
  # NVIDIA's OpenCL and Vulkan drivers, where the machine has them.
  for b in opencl vulkan; do
    python3 -c "import json,sys; d=json.load(open('$out/devices.json')); sys.exit(0 if any(x['backend']=='$b' and x['available'] for x in d) else 1)" \
      && backends="$backends,$b"
  done
fi

step "conformance on $backends"
run "$bin" conformance --backend "$backends"

both=$gpu; [ "$gpu" = cpu ] || both="$gpu,cpu"
step "$scale suite on $both"
run "$bin" run --backend "$both" --scale "$scale" --json "$out/quick.json" --progress lines

step "figures: GEMM bf16/f16/fp8 tiled against vendor, fused prefill, split-KV decode"
run "$bin" run --backend "$gpu" --workload gemm --variant tiled,vendor --dtype bf16,f16,fp8e4m3,fp8e5m2 "${gemm[@]}" \
  --json "$out/gemm.json" --progress lines
run "$bin" run --backend "$gpu" --workload attention.prefill --variant fused,vendor --dtype bf16 "${prefill[@]}" \
  --json "$out/prefill.json" --progress lines
run "$bin" run --backend "$gpu" --workload attention.decode --variant split_kv,vendor --dtype bf16 "${decode[@]}" \
  --json "$out/decode.json" --progress lines

step "roofline on $gpu"
run "$bin" roofline --backend "$gpu" --json "$out/roofline.json"

step "PyTorch's figures"
run python3 ci/gpu_torch.py $torch --out "$out/torch.json"

step "summary"
python3 ci/gpu_summary.py "$out" | tee "$out/summary.txt"
