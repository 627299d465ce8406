#!/usr/bin/env bash
# Runs every workload at smoke scale through the CLI and checks the JSON: every required
# backend present and passing, every case passed or unsupported-with-a-reason.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cargo run --release -q -- run --scale smoke --json "$out/smoke.json" --format markdown
python3 - "$out/smoke.json" <<'PY'
import json, os, sys
doc = json.load(open(sys.argv[1]))
assert doc["schema_version"] == 1, "unexpected schema version"
results = doc["results"]
required = [b for b in os.environ.get("HALBENCH_REQUIRE", "").split(",") if b]
# A backend that is unavailable here is fine unless CI requires it (checked below).
bad = [r for r in results if r["status"] not in ("passed", "unsupported", "unavailable")]
bad += [r for r in results if r["status"] == "unsupported" and not r.get("reason")]
for b in required:
    if not any(r["backend"] == b and r["status"] == "passed" for r in results):
        sys.exit(f"required backend {b} has no passing case")
if bad:
    for r in bad:
        print(f"{r['status']}: {r['device']} {r['workload']} {r['variant']} {r['dtype']} {r['shape']}: {r.get('reason')}")
    sys.exit(f"{len(bad)} of {len(results)} cases did not pass")
print(f"smoke run: {len(results)} cases, all passed or unsupported with a reason")
PY
