#!/usr/bin/env bash
# Installs what the build and tests need on a fresh Debian machine (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v gcc >/dev/null || need+=(gcc)
command -v python3 >/dev/null || need+=(python3)
python3 -m pip --version >/dev/null 2>&1 || need+=(python3-pip)
# OpenCL: the ICD loader and PoCL, a real OpenCL driver that runs on the CPU.
[ -e /usr/lib/x86_64-linux-gnu/libOpenCL.so.1 ] || need+=(ocl-icd-libopencl1)
[ -e /etc/OpenCL/vendors/pocl.icd ] || need+=(pocl-opencl-icd)
# Vulkan: the loader and Mesa's lavapipe (a real Vulkan driver on the CPU); glslc to
# check that the checked-in SPIR-V is fresh.
[ -e /usr/lib/x86_64-linux-gnu/libvulkan.so.1 ] || need+=(libvulkan1)
ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1 || need+=(mesa-vulkan-drivers)
command -v glslc >/dev/null || need+=(glslc)
# A real browser for the report test (headless).
command -v chromium >/dev/null || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi
cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt
cargo clippy --version >/dev/null 2>&1 || rustup component add clippy
# NVRTC (no GPU needed) from PyPI, so every CUDA kernel is compiled in CI.
if [ ! -e target/nvrtc/nvidia/cuda_nvrtc/lib/libnvrtc.so.12 ]; then
  python3 -m pip install -q --disable-pip-version-check --target target/nvrtc nvidia-cuda-nvrtc-cu12
fi
