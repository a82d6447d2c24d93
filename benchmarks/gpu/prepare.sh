#!/usr/bin/env bash
# Download specc's own dependencies (pydantic and friends) as wheels into benchmarks/gpu/wheels,
# for a GPU machine that has torch, torchvision and timm but not these and no package index.
# Run here, with PyPI access; the folder is git-ignored (carry it to the GPU machine).
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p wheels
for python in 3.10 3.11 3.12 3.13; do
    pip download --quiet --dest wheels --only-binary=:all: --python-version "$python" \
        --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux_2_28_x86_64 \
        "pydantic>=2.6,<3" "pyyaml>=6" "click>=8.1" "rich>=13" "jinja2>=3.1" "networkx>=3.2"
done
ls wheels
