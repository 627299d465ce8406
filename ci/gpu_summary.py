"""Merges gpu-check's result files into one document (gpu-check.json) and prints the
one-screen summary: the GPU figures the CUDA issue asks for, each beside its goal or its
PyTorch anchor."""
import json
import os
import sys

# HBM bandwidth (GB/s) and dense bf16 TFLOP/s by product name, from NVIDIA's data sheets.
SPECS = [("H200", 4800.0, 989.0), ("H100 PCIe", 2000.0, 756.0), ("H100", 3350.0, 989.0)]


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def main():
    out = sys.argv[1]
    docs = [load(os.path.join(out, f"{n}.json")) for n in ("quick", "gemm", "prefill", "decode")]
    docs = [d for d in docs if d]
    if not docs:
        sys.exit("gpu-check: no result file was written; see gpu-check.log")
    merged = dict(docs[0])
    merged["results"] = [r for d in docs for r in d.get("results", [])]
    tmp = os.path.join(out, "gpu-check.json.tmp")
    with open(tmp, "w") as f:
        json.dump(merged, f, indent=1)
    os.replace(tmp, os.path.join(out, "gpu-check.json"))

    results = merged["results"]
    torch = load(os.path.join(out, "torch.json")) or {"figures": []}
    gpu = next((r["backend"] for r in results if r["backend"] == "cuda"), "cpu")
    names = {f"{d['backend']}:{d['index']}": d.get("name", "") for d in merged.get("devices", [])}
    mine = [r for r in results if r["backend"] == gpu and r["status"] == "passed"]
    device = names.get(mine[0]["device"], mine[0]["device"]) if mine else gpu
    spec = next(((bw, tf) for key, bw, tf in SPECS if key in device), None)
    print(f"gpu-check on {device}" + ("" if gpu == "cuda" else " (dry run: the CPU stands in)"))
    for backend in sorted({r["backend"] for r in results}):
        rows = [r for r in results if r["backend"] == backend]
        count = {s: sum(r["status"] == s for r in rows) for s in ("passed", "failed", "error", "unsupported")}
        print(f"  {backend}: " + ", ".join(f"{v} {k}" for k, v in count.items()))

    def best(workload, variant=None, dtype=None, shape=None, key="gbs"):
        rows = [r for r in mine if r["workload"] == workload and (variant is None or r["variant"] == variant)
                and (dtype is None or r["dtype"] == dtype) and (shape is None or r["shape"] == shape)]
        vals = [(r["metrics"].get(key) or 0.0, r) for r in rows if r.get("metrics")]
        return max(vals, key=lambda v: v[0]) if vals else (None, None)

    def pct(v, of):
        return f" = {100 * v / of:.0f}% of spec" if v and of else ""

    for w in ("stream.triad", "stream.copy"):
        v, _ = best(w)
        if v:
            print(f"  {w}: {v:.0f} GB/s{pct(v, spec and spec[0])}  (goal 90%)")
    anchors = {(f["op"], f["shape"]): f for f in torch.get("figures", [])}
    def figure_shapes(name):
        return sorted({r["shape"] for r in (load(os.path.join(out, f"{name}.json")) or {}).get("results", [])})

    for shape in figure_shapes("gemm"):
        for dtype in ("bf16", "f16", "fp8e4m3", "fp8e5m2"):
            t, _ = best("gemm", "tiled", dtype, shape, "tflops")
            v, _ = best("gemm", "vendor", dtype, shape, "tflops")
            if t or v:
                line = f"  gemm {dtype} {shape}: tiled {t or 0:.1f}, vendor {v or 0:.1f} TFLOP/s"
                if t and v:
                    line += f", tiled {100 * t / v:.0f}% of vendor (goal 70%)"
                if v and dtype == "bf16":
                    line += pct(v, spec and spec[1])
                    a = anchors.get(("matmul", shape))
                    if a:
                        line += f"; torch.matmul {a['tflops']:.1f} ({v / a['tflops']:.2f}x)"
                print(line)
    for shape in figure_shapes("prefill"):
        v, _ = best("attention.prefill", "fused", "bf16", shape, "tflops")
        if v:
            a = next((f for f in torch.get("figures", []) if f["op"] == "sdpa"), None)
            extra = f"; SDPA {a['tflops']:.1f} ({v / a['tflops']:.2f}x)" if a else ""
            print(f"  prefill fused bf16 {shape}: {v:.1f} TFLOP/s{extra}")
    for shape in figure_shapes("decode"):
        v, _ = best("attention.decode", "split_kv", "bf16", shape)
        if v:
            print(f"  decode split_kv bf16 {shape}: {v:.0f} GB/s{pct(v, spec and spec[0])}  (goal 80%)")
    for variant in ("dispatch", "roundtrip"):
        v, _ = best("latency.launch", variant, key="us_per_launch")
        if v:
            print(f"  latency.launch {variant}: {v:.1f} us per launch")
    for w in ("transfer.h2d", "transfer.d2h"):
        v, _ = best(w)
        if v:
            print(f"  {w}: {v:.1f} GB/s")
    copy = next((f for f in torch.get("figures", []) if f["op"] == "copy"), None)
    v, _ = best("stream.copy")
    if copy and v:
        print(f"  stream.copy against torch copy_: {v / copy['gbs']:.2f}x")
    if torch.get("error"):
        print(f"  torch: {torch['error']}")
    # The memory curve's knee and plateau, and what NVML saw while the GPU's cases ran.
    curve = sorted((int(r["shape"][2:]) * 4, r["metrics"]["gbs"]) for r in mine
                   if r["workload"] == "stream.sweep" and r.get("metrics", {}).get("gbs"))
    if curve:
        print("  stream.sweep (working set: GB/s): " + ", ".join(f"{b >> 10} KiB: {g:.0f}" for b, g in curve))
    seen = [r["timing"]["telemetry"] for r in mine if (r.get("timing") or {}).get("telemetry")]
    clocks = [t[k] for t in seen for k in ("clock_mhz_min", "clock_mhz_max") if t.get(k)]
    if clocks:
        hot = max((t.get("temperature_c_max") or 0) for t in seen)
        watts = max((t.get("power_w_avg") or 0) for t in seen)
        throttled = sum(1 for t in seen if t.get("throttled"))
        print(f"  NVML: clock {min(clocks):.0f}-{max(clocks):.0f} MHz, hottest {hot:.0f} C, highest average {watts:.0f} W, {throttled} of {len(seen)} cases throttled")
    elif seen:
        why = next(iter(seen[0].get("not_available", {}).values()), "no readings")
        print(f"  telemetry: not available: {why}")
    bad = [r for r in results if r["status"] in ("failed", "error")]
    for r in bad[:10]:
        print(f"  {r['status']}: {r['device']} {r['workload']}/{r['variant']}/{r['dtype']}/{r['shape']}: {r.get('reason', '')[:120]}")
    print(f"  everything: {os.path.join(out, 'gpu-check.json')}, log {os.path.join(out, 'gpu-check.log')}")


if __name__ == "__main__":
    main()
