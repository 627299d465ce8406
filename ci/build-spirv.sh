#!/usr/bin/env bash
# Compiles every kernels/glsl/*.comp to SPIR-V in kernels/spv/ (or the folder given), one
# file per dtype: NAME.f32.spv, and NAME.f16.spv / NAME.bf16.spv for kernels that take T.
# The output is checked in, so building halbench never needs glslc. No -O: it strips the
# names that map defines to specialisation constants, and drivers optimise anyway.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-kernels/spv}
mkdir -p "$out"
rm -f "$out"/*.spv
for src in kernels/glsl/*.comp; do
  name=$(basename "$src" .comp)
  dtypes="f32"
  # Kernels written over the storage type T exist for every dtype.
  grep -q '\bT\b' "$src" && dtypes="f32 f16 bf16"
  # A `// dtypes: ...` line narrows that (no module for a dtype the shader cannot do).
  listed=$(sed -n 's|^// dtypes: ||p' "$src")
  [ -n "$listed" ] && dtypes=$listed
  for dt in $dtypes; do
    flag=DTYPE_$(echo "$dt" | tr a-z A-Z | sed 's/^FP8/F8/')
    glslc -fshader-stage=compute --target-env=vulkan1.2 -D"$flag" -Ikernels/glsl \
      "$src" -o "$out/$name.$dt.spv"
  done
done
