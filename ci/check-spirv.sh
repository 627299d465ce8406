#!/usr/bin/env bash
# Fails when the checked-in SPIR-V differs from what glslc makes of the GLSL now.
set -euo pipefail
cd "$(dirname "$0")/.."
fresh=$(mktemp -d)
trap 'rm -rf "$fresh"' EXIT
bash ci/build-spirv.sh "$fresh"
if ! diff -rq "$fresh" kernels/spv; then
  echo "kernels/spv is stale: run ci/build-spirv.sh and commit the result" >&2
  exit 1
fi
echo "SPIR-V is fresh ($(ls kernels/spv | wc -l) files)"
