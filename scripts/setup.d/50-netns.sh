#!/usr/bin/env bash
# iproute2 (`ip`) and nftables (`nft`) from Debian, for the network-namespace test
# (tests/it/netns.rs): a client in a namespace of the test's own whose UDP to vroom is dropped.
# Installed only when missing, and only as root: the test itself needs root, and skips without it
# (saying so) except under CI=true.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib/apt.sh
[ "$(id -u)" -eq 0 ] || exit 0
apt_install_once /usr/sbin/ip iproute2
apt_install_once /usr/sbin/nft nftables
