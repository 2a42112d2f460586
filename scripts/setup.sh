#!/usr/bin/env bash
# Installs every Debian package Assay needs to build, test and run. Idempotent: it installs only
# what is missing, so running it twice is cheap. Needs root or sudo for apt-get.
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config git ca-certificates python3
  # libraries (see README "Dependencies")
  nlohmann-json3-dev libcurl4-openssl-dev libssl-dev libcli11-dev libtbb-dev libarchive-dev
  libutf8proc-dev libcpp-httplib-dev libpcre2-dev libyaml-cpp-dev
  # tests and benchmarks (chromium: headless rendering of report.html in tests/e2e)
  libgtest-dev libgmock-dev libbenchmark-dev chromium
  # inference: libtorch (CPU) and OpenBLAS, which replaces the slow reference libblas.so.3
  libtorch-dev libopenblas0-openmp
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]})); then
  echo "setup: installing ${#missing[@]} Debian packages: ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "setup: all ${#PACKAGES[@]} Debian packages are installed"
fi

# libtorch calls whatever libblas.so.3 / liblapack.so.3 / libopenblas.so.0 point to. Make all
# three OpenBLAS's OpenMP build: ~50x faster than the reference BLAS, and its threads are
# libgomp's, the pool torch already uses. The pthread build (or a mix of both) keeps a second
# pool of 2 threads spinning against libgomp's: batch-1 fp32 decode ran at 6 tok/s instead of 21
# on a 2-core Zen 3 (2026-12-03).
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
for lib in libblas.so.3 liblapack.so.3 libopenblas.so.0; do
  want=/usr/lib/x86_64-linux-gnu/openblas-openmp/$lib
  now=$(readlink -f "/usr/lib/x86_64-linux-gnu/$lib" 2>/dev/null || true)
  [ "$now" = "$(readlink -f "$want")" ] && continue
  $SUDO update-alternatives --set "$lib-x86_64-linux-gnu" "$want" >/dev/null || \
    echo "setup: warning: could not point $lib at OpenBLAS (OpenMP) (now: $now)" >&2
done
