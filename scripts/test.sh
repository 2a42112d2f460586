#!/usr/bin/env bash
# Builds everything and runs every test: installs what is missing, builds all targets, runs
# CTest. Tests that need something absent (a large tokenizer file, moto_server) skip visibly.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
BUILD_DIR=${ASSAY_BUILD_DIR:-build}
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$(nproc)"
