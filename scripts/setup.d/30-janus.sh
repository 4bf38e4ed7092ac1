#!/usr/bin/env bash
# Janus (Debian's package), for vroom-bench's side-by-side driver and its CI smoke test
# (crates/bench/tests/smoke.rs). The bench starts its own Janus with its own configuration on
# loopback; the package's system service, where one runs, is not used.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib/apt.sh
apt_install_once /usr/bin/janus janus
