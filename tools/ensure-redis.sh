#!/usr/bin/env bash
# The restart test runs a real redis-server; install Debian's package when it is missing.
set -euo pipefail
if command -v redis-server >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
echo "Installing redis-server (needed by the conversation-restart test)..."
DEBIAN_FRONTEND=noninteractive $SUDO apt-get update -qq </dev/null
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server </dev/null >/dev/null
