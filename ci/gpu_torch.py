"""The anchors a user would pick instead of halbench: the same operations through this
machine's PyTorch (bf16 matmul, scaled_dot_product_attention, a device-to-device copy),
timed with CUDA events, median of 20 after 5 warm-ups. Writes one JSON document.
With --dry-run it imports nothing and writes the same document with no figures."""
import argparse
import json
import statistics


def timed(torch, fn, reps=20, warm=5):
    for _ in range(warm):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / 1e3)
    return statistics.median(times)


def measure():
    import torch

    out = {"torch": torch.__version__, "device": torch.cuda.get_device_name(0), "figures": []}
    dev = "cuda"
    for n in (4096, 8192):
        a = torch.randn(n, n, device=dev, dtype=torch.bfloat16)
        b = torch.randn(n, n, device=dev, dtype=torch.bfloat16)
        t = timed(torch, lambda: torch.matmul(a, b))
        out["figures"].append({"op": "matmul", "dtype": "bf16", "shape": f"m={n},n={n},k={n}",
                               "seconds": t, "tflops": 2 * n**3 / t / 1e12})
    b_, h, hkv, s, d = 1, 32, 8, 4096, 128
    q = torch.randn(b_, h, s, d, device=dev, dtype=torch.bfloat16)
    k = torch.randn(b_, hkv, s, d, device=dev, dtype=torch.bfloat16)
    v = torch.randn(b_, hkv, s, d, device=dev, dtype=torch.bfloat16)
    # Grouped-query heads repeated up front, so any PyTorch version takes them.
    k, v = k.repeat_interleave(h // hkv, 1), v.repeat_interleave(h // hkv, 1)
    sdpa = torch.nn.functional.scaled_dot_product_attention
    t = timed(torch, lambda: sdpa(q, k, v, is_causal=True))
    out["figures"].append({"op": "sdpa", "dtype": "bf16", "shape": f"b={b_},h={h},hkv={hkv},s={s},d={d},causal=1",
                           "seconds": t, "tflops": 4 * b_ * h * s * s * d / 2 / t / 1e12})
    n = 1 << 28  # 1 GiB of f32
    src = torch.empty(n, device=dev, dtype=torch.float32)
    dst = torch.empty_like(src)
    t = timed(torch, lambda: dst.copy_(src))
    out["figures"].append({"op": "copy", "dtype": "f32", "shape": f"n={n}", "seconds": t, "gbs": 2 * 4 * n / t / 1e9})
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dry-run", action="store_true")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    if args.dry_run:
        doc = {"dry_run": True, "figures": []}
    else:
        try:
            doc = measure()
        except Exception as e:  # no torch, no GPU: say so in the document
            doc = {"error": f"{type(e).__name__}: {e}", "figures": []}
    with open(args.out, "w") as f:
        json.dump(doc, f, indent=1)
    print(json.dumps(doc))


if __name__ == "__main__":
    main()
