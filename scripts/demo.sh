#!/usr/bin/env bash
# Run the demo lab under the same fault schedule on both runtimes:
# first the deterministic simulator, then real Ray processes.
# Traces are written to demo-sim.jsonl and demo-ray.jsonl in the repo root.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh
export RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0
export RAY_IGNORE_UNHANDLED_ERRORS=1
py=.venv/bin/python

echo "==> demo on the simulator"
"$py" -m labs run demo --runtime sim --schedule leader-isolated --seed 1 --trace demo-sim.jsonl
echo "==> demo on Ray"
"$py" -m labs run demo --runtime ray --schedule leader-isolated --seed 1 --trace demo-ray.jsonl
