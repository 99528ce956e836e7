#!/usr/bin/env bash
# Create .venv with Python 3.10 (Rasa 3.6 does not run on 3.11) and install the locked packages.
set -euo pipefail
cd "$(dirname "$0")/.."
want=$(cat .python-version)
py=""
for candidate in "python${want%.*}" "$HOME/.pyenv/versions/$want/bin/python" /root/.pyenv/versions/$want/bin/python; do
  if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null; then
    py=$(command -v "$candidate"); break
  fi
done
if [ -z "$py" ] && command -v pyenv >/dev/null 2>&1; then
  pyenv install -s "$want"
  py="$(pyenv root)/versions/$want/bin/python"
fi
if [ -z "$py" ]; then
  echo "Python 3.10 is needed (Rasa 3.6 does not support 3.11). Install it with pyenv: pyenv install $want" >&2
  exit 1
fi
echo "Using $py"
"$py" -m venv .venv
.venv/bin/pip install -q --upgrade "pip<25" wheel
.venv/bin/pip install -q -r requirements.lock
.venv/bin/pip install -q --no-deps -e .
