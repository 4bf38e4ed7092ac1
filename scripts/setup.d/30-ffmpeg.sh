#!/usr/bin/env bash
# ffmpeg (ffprobe) from Debian: the recording tests read the recorded files with ffprobe, and
# compositions are made with ffmpeg. Installed only when missing.
set -euo pipefail
if command -v ffprobe >/dev/null 2>&1 && command -v ffmpeg >/dev/null 2>&1; then
  exit 0
fi
echo "setup: installing ffmpeg"
if [ "$(id -u)" = 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg >/dev/null
else
  sudo apt-get update -qq
  sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg >/dev/null
fi
