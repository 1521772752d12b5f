#!/usr/bin/env bash
# Shared by the README's two commands: installs the Debian 12 packages that are missing (as root,
# or through sudo), then configures and builds with the `release` CMake preset.
# Usage: app/setup.sh [cmake --build arguments, e.g. --target gradprobe]
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(build-essential cmake ninja-build pkg-config git
          libtorch-dev libgloo-dev libopenblas0-pthread nlohmann-json3-dev libpcre2-dev libcli11-dev
          qt6-base-dev libqcustomplot-dev libgl-dev
          xvfb xauth)

missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}" >&2
    as_root=()
    [ "$(id -u)" -eq 0 ] || as_root=(sudo)
    export DEBIAN_FRONTEND=noninteractive
    "${as_root[@]}" apt-get update -qq
    "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

cmake --preset release >/dev/null
cmake --build --preset release "$@"
