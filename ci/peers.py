"""Summarises ci/peers.sh's files: per pair, each round's halbench/peer ratio of the best
figures and of the typical ones (halbench's median against BabelStream's average, the
figure BabelStream prints beside its best), and the median ratio over the rounds."""
import csv, glob, json, os, re, statistics, sys

out = sys.argv[1]
KERNELS = {"Copy": "stream.copy", "Mul": "stream.scale", "Add": "stream.add", "Triad": "stream.triad"}
BYTES = {"Copy": 2, "Mul": 2, "Add": 3, "Triad": 3}


def rounds(pattern):
    found = {}
    for path in glob.glob(os.path.join(out, pattern)):
        found[int(re.search(r"-(\d+)\.\w+$", path).group(1))] = path
    return [found[k] for k in sorted(found)]


def babelstream(path):
    rows = {}
    for row in csv.DictReader(l for l in open(path) if "," in l):
        if row["function"] in KERNELS:
            moved = BYTES[row["function"]] * int(row["n_elements"]) * int(row["sizeof"])
            rows[KERNELS[row["function"]]] = (moved / float(row["min_runtime"]) / 1e9,
                                              moved / float(row["avg_runtime"]) / 1e9)
    return rows


def halbench(path):
    rows = {}
    for r in json.load(open(path))["results"]:
        if r["status"] == "passed":
            m = r["metrics"]
            rows[r["workload"]] = (m["best_gbs"], m["gbs"], r["timing"]["samples"])
    return rows


def fmt(xs):
    return " ".join(f"{x:.2f}" for x in xs)


print("| pair | n | kernel | best: halbench/BabelStream by round | median | typical: halbench median/BabelStream average by round | median | GB/s halbench best, median; BabelStream best, average (median of rounds) |")
print("|---|---|---|---|---|---|---|---|")
for backend, peer in (("cpu", "omp"), ("opencl", "ocl")):
    for n in (33554432, 134217728):
        bs = [babelstream(p) for p in rounds(f"bs-{peer}-{n}-*.csv")]
        hb = [halbench(p) for p in rounds(f"hb-{backend}-{n}-*.json")]
        if not bs or not hb:
            continue
        for kernel in KERNELS.values():
            pairs = [(h[kernel], b[kernel]) for h, b in zip(hb, bs) if kernel in h and kernel in b]
            best = [h[0] / b[0] for h, b in pairs]
            typical = [h[1] / b[1] for h, b in pairs]
            med = lambda i, side: statistics.median(p[side][i] for p in pairs)
            print(f"| {backend} vs BabelStream {peer} | 2^{n.bit_length() - 1} | {kernel} | {fmt(best)} | "
                  f"**{statistics.median(best):.2f}** | {fmt(typical)} | **{statistics.median(typical):.2f}** | "
                  f"{med(0, 0):.1f}, {med(1, 0):.1f}; {med(0, 1):.1f}, {med(1, 1):.1f} |")

clpeak = []
for path in rounds("clpeak-*.txt"):
    text = open(path).read()
    section = text.split("Single-precision compute", 1)[-1]
    values = [float(v) for v in re.findall(r"float\d*\s*:\s*([\d.]+)", section.split("compute (", 1)[0])]
    clpeak.append(max(values) if values else float("nan"))
ours = []
for path in rounds("hb-vulkan-peak-*.json"):
    r = [r for r in json.load(open(path))["results"] if r["status"] == "passed"][0]
    ours.append(r["metrics"]["flops"] / r["timing"]["median_s"] / 1e9)
if clpeak and ours:
    ratios = [o / c for o, c in zip(ours, clpeak)]
    print()
    print("| pair | halbench peak.fma f32 GFLOP/s by round | clpeak best vector width GFLOP/s by round | ratio by round | median |")
    print("|---|---|---|---|---|")
    print(f"| vulkan (lavapipe) vs clpeak --vulkan | {fmt(ours)} | {fmt(clpeak)} | {fmt(ratios)} | **{statistics.median(ratios):.2f}** |")
