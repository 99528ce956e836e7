#!/usr/bin/env bash
# schemathesis in a virtual environment of its own (.venv-schemathesis): it needs newer hypothesis and
# attrs than Rasa 3.6 allows in .venv. Tests run its CLI against the voice gateway's OpenAPI schema.
set -euo pipefail
cd "$(dirname "$0")/.."
version="3.39.16"
if [ -x .venv-schemathesis/bin/st ] && .venv-schemathesis/bin/st --version 2>/dev/null | grep -q "$version"; then
  exit 0
fi
py=$(command -v python3)
"$py" -m venv .venv-schemathesis
.venv-schemathesis/bin/pip install -q --upgrade "pip<25"
.venv-schemathesis/bin/pip install -q "schemathesis==$version"
echo "schemathesis $version ready in .venv-schemathesis"
