#!/usr/bin/env bash
# Debian packages the tests use for real: redis-server (restart test), espeak-ng (pyttsx3's speech
# engine on Linux, and the synthetic callers of the voice tests) and sox (audio checks).
set -euo pipefail
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v espeak-ng >/dev/null 2>&1 || missing+=(espeak-ng libespeak1)
command -v sox >/dev/null 2>&1 || missing+=(sox)
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
echo "Installing ${missing[*]} (used by the tests)..."
DEBIAN_FRONTEND=noninteractive $SUDO apt-get update -qq </dev/null
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" </dev/null >/dev/null
