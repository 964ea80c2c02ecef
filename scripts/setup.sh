#!/usr/bin/env bash
# Installs what Sluice needs to build, test and run, from Debian 12 packages only. Idempotent:
# packages already present are left alone, and apt is not touched when nothing is missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  # The linker: lld links the ASan test binaries several times faster than GNU ld (the build
  # falls back to ld without it; cmake/SluiceBuildSpeed.cmake).
  lld
  qt6-base-dev qt6-charts-dev qt6-httpserver-dev
  # Needed but not declared by Qt's own packages: without these, CMake cannot find
  # HttpServer (WebSockets) and Charts (OpenGL).
  qt6-websockets-dev libqt6opengl6-dev libgl-dev
  libhiredis-dev nlohmann-json3-dev redis-server
  # Boost.Beast's HTTP parser (header-only) for the intake's lean front (engine/net/httpfront).
  libboost-dev
  # The allocator of the release binary (app/CMakeLists.txt says what it measured).
  libjemalloc-dev
  # The console under a virtual display, screenshots, and the format check.
  xvfb xauth clang-format
  # The lint CI runs (scripts/tidy.sh, .clang-tidy): clang-tidy 14 and run-clang-tidy.
  clang-tidy
  # The .deb and its checks: dpkg-shlibdeps for the Depends, the desktop file and AppStream
  # validators (tests/packaging fails without them).
  dpkg-dev desktop-file-utils appstream
  openssl curl ca-certificates
)

missing=()
for pkg in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "setup: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
