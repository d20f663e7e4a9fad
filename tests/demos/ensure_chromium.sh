#!/usr/bin/env bash
# Make sure a Chromium exists for the desktop UI's browser test (tests/demos/test_desktop_ui.py).
# Playwright drives Debian's chromium: `playwright install` would download its own browser, and the
# machines that run the tests reach only package mirrors.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "ensure_chromium: chromium is missing and installing it needs root (apt-get install chromium)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium >/dev/null
command -v chromium >/dev/null
