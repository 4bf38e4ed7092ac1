#!/usr/bin/env bash
# schemathesis (PyPI) for the API conformance test (tests/it/schemathesis.rs): a virtualenv at
# .venv-schemathesis with tests/schemathesis/requirements.txt. Reinstalled only when that pinned
# list (or Python's version) changed since the last install (a stamp holds its checksum), so a
# second run does nothing.
set -euo pipefail
cd "$(dirname "$0")/../.."

venv=.venv-schemathesis
requirements=tests/schemathesis/requirements.txt
want="$(sha256sum "$requirements" | cut -d' ' -f1)-$(python3 -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')"
if [ ! -x "$venv/bin/st" ] || [ "$(cat "$venv/.vroom-stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing schemathesis into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r "$requirements"
  echo "$want" > "$venv/.vroom-stamp"
fi
