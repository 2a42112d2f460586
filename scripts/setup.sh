#!/usr/bin/env bash
# Installs every Debian package Assay needs to build, test and run. Idempotent: it installs only
# what is missing, so running it twice is cheap. Needs root or sudo for apt-get.
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config git ca-certificates python3
  # libraries (see README "Dependencies")
  nlohmann-json3-dev libcurl4-openssl-dev libssl-dev libcli11-dev libtbb-dev libarchive-dev
  libutf8proc-dev libcpp-httplib-dev libpcre2-dev
  # tests and benchmarks (chromium: headless rendering of report.html in tests/e2e)
  libgtest-dev libgmock-dev libbenchmark-dev chromium
  # inference: libtorch (CPU) and OpenBLAS, which replaces the slow reference libblas.so.3
  libtorch-dev libopenblas0-pthread
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

# libtorch calls whatever libblas.so.3 points to; make sure that is OpenBLAS (~50x faster than
# the reference BLAS for fp32 GEMM on this machine kind).
blas=$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 2>/dev/null || true)
case "$blas" in
  *openblas*) ;;
  *)
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    $SUDO update-alternatives --set libblas.so.3-x86_64-linux-gnu \
      /usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3 || \
      echo "setup: warning: could not switch libblas.so.3 to OpenBLAS (now: $blas)" >&2
    ;;
esac
