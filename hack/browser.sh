#!/usr/bin/env bash
# The browser the dashboard's tests drive: Debian's chromium, installed with apt-get when
# missing (Playwright's Python package drives it; `playwright install` is never called, as its
# own browser download is not reachable here). Prints the browser's path.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

for candidate in "${KUBETUNE_CHROMIUM:-}" /usr/bin/chromium /usr/bin/chromium-browser; do
  if [ -n "$candidate" ] && [ -x "$candidate" ]; then echo "$candidate"; exit 0; fi
done
apt_install chromium
echo /usr/bin/chromium
