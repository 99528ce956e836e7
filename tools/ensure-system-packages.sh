#!/usr/bin/env bash
# Debian packages the product and its tests use for real. Always: espeak-ng (pyttsx3's speech engine
# on Linux, for phone calls). With --tests also: redis-server (restart test), sox (audio checks and
# the synthetic callers of the voice tests) and chromium (the "talk to us" page is tested in headless
# Chromium, driven by Playwright).
set -euo pipefail
missing=()
command -v espeak-ng >/dev/null 2>&1 || missing+=(espeak-ng libespeak1)
if [ "${1:-}" = "--tests" ]; then
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
  command -v sox >/dev/null 2>&1 || missing+=(sox)
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
fi
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
echo "Installing ${missing[*]}..."
DEBIAN_FRONTEND=noninteractive $SUDO apt-get update -qq </dev/null
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" </dev/null >/dev/null
