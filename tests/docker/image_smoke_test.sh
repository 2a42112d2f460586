#!/usr/bin/env bash
# CTest DockerImage.SmokeTest: the smoke-test half of scripts/image.sh (Processing and Training
# layouts, two hosts, merge) against the already-built image that ASSAY_IMAGE names. Without
# ASSAY_IMAGE it exits 77, which CTest reports as skipped (not passed). Building the image takes
# minutes, so neither this test nor scripts/test.sh builds it: run scripts/image.sh first.
set -euo pipefail
if [ -z "${ASSAY_IMAGE:-}" ]; then
  echo "SKIPPED: ASSAY_IMAGE names no image; build one with scripts/image.sh, then" \
       "ASSAY_IMAGE=assay:cpu ctest -R DockerImage"
  exit 77
fi
exec "$(dirname "$0")/../../scripts/image.sh" --smoke-only "$ASSAY_IMAGE"
