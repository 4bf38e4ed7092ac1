#!/usr/bin/env bash
# The browser tests' dependencies: Debian's Chromium (/usr/bin/chromium) and tests/browser's npm
# packages (twilio-video.js, playwright-core, jsonwebtoken), installed exactly from package-lock.json.
# Idempotent: does nothing when both are present and package.json and package-lock.json have not
# changed since the last install (a stamp in node_modules remembers). Playwright never downloads a
# browser of its own here; it drives Debian's.
set -euo pipefail
cd "$(dirname "$0")/../.."

. scripts/lib/apt.sh
apt_install_once /usr/bin/chromium chromium

dir=tests/browser
stamp="$dir/node_modules/.vroom-lock.sha256"
want="$(cat "$dir/package.json" "$dir/package-lock.json" | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: npm ci in $dir" >&2
  # playwright-core never downloads browsers; the variable keeps any future dependency from trying.
  (cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
  echo "$want" >"$stamp"
fi
