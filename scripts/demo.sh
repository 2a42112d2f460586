#!/usr/bin/env bash
# The main job on the bundled defaults: installs what is missing, builds `evaluate`, and scores
# the sample dataset (configs/sample/) into runs/sample. Safe to run twice: the second run sees
# the completed run folder and only prints its summary.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh evaluate
BUILD_DIR=${ASSAY_BUILD_DIR:-build}
"$BUILD_DIR/eval/evaluate" score \
  --config configs/sample/score.json \
  --dataset configs/sample/llmtwin_test.jsonl \
  --output runs/sample
echo "Run folder: runs/sample (manifest.json, scores.jsonl, summary.json)"
