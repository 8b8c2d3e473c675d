#!/usr/bin/env bash
# Install everything the tests need on a fresh machine, then run the test suite.
# Usage: scripts/test.sh [pytest args]
# The browser test (tests/test_browser.py) drives Debian's chromium at /usr/bin/chromium: it is installed here
# with apt-get when missing (as root, or with password-less sudo); otherwise that test is skipped, or fails when
# NER_STUDIO_REQUIRE_BROWSER=1 (.ci/run sets it).
set -euo pipefail
cd "$(dirname "$0")/.."

ensure_chromium() {
  [ -x /usr/bin/chromium ] && return 0
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "test.sh: /usr/bin/chromium is missing and apt-get is not available: the browser test will be skipped." >&2
    return 0
  fi
  local sudo=""
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      sudo="sudo -n"
    else
      echo "test.sh: /usr/bin/chromium is missing and installing it needs root (apt-get install chromium):" \
           "the browser test will be skipped." >&2
      return 0
    fi
  fi
  echo "test.sh: installing Debian's chromium for the browser test (about a minute)..."
  if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null; }; then
    echo "test.sh: apt-get install chromium failed: the browser test will be skipped." >&2
  fi
}

ensure_chromium
scripts/install.sh --dev
exec .venv/bin/python -m pytest "$@"
