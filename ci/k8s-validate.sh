#!/usr/bin/env bash
# The Kubernetes manifests validated against the Kubernetes API schema, strictly (unknown
# fields are errors), by kubernetes-validate from PyPI (it carries the published schemas).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=target/kubernetes-validate
if [ ! -x "$dir/bin/kubernetes-validate" ]; then
  python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore --target "$dir" kubernetes-validate
fi
export PYTHONPATH="$PWD/$dir${PYTHONPATH:+:$PYTHONPATH}"
for f in deploy/kubernetes/*.yaml; do
  python3 "$dir/bin/kubernetes-validate" --strict "$f"
done
