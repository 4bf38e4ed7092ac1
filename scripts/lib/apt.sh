# Sourced by scripts/setup.d/*.sh: installs a Debian package once, when the program it provides is
# missing.
#   apt_install_once /usr/bin/chromium chromium
apt_install_once() {
  local program="$1" package="$2"
  [ -x "$program" ] && return 0
  echo "setup: installing Debian's $package" >&2
  export DEBIAN_FRONTEND=noninteractive
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  if ! $sudo apt-get install -y -q --no-install-recommends "$package" >/dev/null; then
    # The package lists may be missing or stale on a fresh machine.
    $sudo apt-get update -q >/dev/null
    $sudo apt-get install -y -q --no-install-recommends "$package" >/dev/null
  fi
  [ -x "$program" ] || { echo "setup: $package was installed but $program is missing" >&2; return 1; }
}
