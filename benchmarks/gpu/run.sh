#!/usr/bin/env bash
# The GPU run (issue 12), from any folder of a specc checkout on a machine with torch,
# torchvision and timm: installs what specc itself needs from benchmarks/gpu/wheels (made by
# prepare.sh; no index used), then runs benchmarks/gpu_throughput.py on the card. Extra
# arguments go to it, e.g. `--models b0 --results "$OUT"`.
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! python -c "import pydantic, yaml, click, rich" 2>/dev/null; then
    pip install --quiet --no-index --find-links benchmarks/gpu/wheels \
        "pydantic>=2.6,<3" "pyyaml>=6" "click>=8.1" "rich>=13" "jinja2>=3.1" "networkx>=3.2"
fi
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
python benchmarks/gpu_throughput.py --device cuda "$@"
