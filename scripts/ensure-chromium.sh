#!/usr/bin/env bash
# Playwright cannot download its own browser here, so we use Debian's chromium.
# Elsewhere, set MULTISTORE_CHROMIUM_PATH="" and run `playwright install chromium` instead.
set -euo pipefail
path="${MULTISTORE_CHROMIUM_PATH-/usr/bin/chromium}"
if [ -z "$path" ] || [ -x "$path" ]; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing Debian's chromium (needed by the browser pool)..."
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
else
  echo "chromium not found at $path: install it, or set MULTISTORE_CHROMIUM_PATH=\"\" and run 'playwright install chromium'" >&2
  exit 1
fi
