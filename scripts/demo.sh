#!/usr/bin/env bash
# The main job on the bundled defaults: installs what is missing, builds `evaluate`, and runs a
# dummy evaluation (`evaluate run --dummy`) of the bundled tiny model models/stories260K on the
# first 8 samples of configs/sample/llmtwin_test.jsonl: generation, local metrics and the offline
# dummy judge, into runs/sample. Safe to run twice: the second run sees the completed run folder
# and only prints its summary.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh evaluate
BUILD_DIR=${ASSAY_BUILD_DIR:-build}
JUDGE_PROVIDER=dummy "$BUILD_DIR/eval/evaluate" run --dummy \
  --config configs/sample/run.json \
  --dataset configs/sample/llmtwin_test.jsonl \
  --output runs/sample
echo "Run folder: runs/sample (manifest.json, generations.jsonl, scores.jsonl, summary.json, report.md, report.html)"
