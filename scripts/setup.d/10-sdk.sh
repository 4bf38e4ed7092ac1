#!/usr/bin/env bash
# Twilio's official helper libraries for the SDK conformance suite (tests/sdk, run by tests/it/sdk.rs):
# - Python: a virtualenv at .venv-sdk with tests/sdk/python/requirements.txt;
# - Node: tests/sdk/node/node_modules from package-lock.json (npm ci).
# Each is (re)installed only when its pinned list changed since the last install (a stamp holds the
# list's checksum), so a second run does nothing.
set -euo pipefail
cd "$(dirname "$0")/../.."

checksum() {
  sha256sum "$@" | sha256sum | cut -d' ' -f1
}

# Python
venv=.venv-sdk
requirements=tests/sdk/python/requirements.txt
want="$(checksum "$requirements")-$(python3 -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.vroom-stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing Twilio's Python helper library into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r "$requirements"
  echo "$want" > "$venv/.vroom-stamp"
fi

# Node
node_dir=tests/sdk/node
want="$(checksum "$node_dir/package.json" "$node_dir/package-lock.json")-$(node --version)"
if [ ! -d "$node_dir/node_modules" ] || [ "$(cat "$node_dir/node_modules/.vroom-stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing Twilio's Node helper library into $node_dir/node_modules"
  (cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$want" > "$node_dir/node_modules/.vroom-stamp"
fi
