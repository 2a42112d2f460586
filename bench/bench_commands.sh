#!/usr/bin/env bash
# Whole-command wall time of `evaluate`: --version, `score` on 10 pairs and on 10,000 pairs
# (squad,bleu,chrf,rouge_stem, the default 1,000 bootstrap resamples, no judge), each run into a
# fresh folder. With a second binary (a baseline, e.g. an older build) the two alternate run by
# run, so both see the same machine. Prints a table of medians (min-max) in milliseconds.
#
#   bench/bench_commands.sh [EVALUATE] [BASELINE_EVALUATE] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
A=${1:-build/eval/evaluate}
B=${2:-}
RUNS=${3:-10}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 - "$work" <<'PY'
import json, sys
rows = [json.loads(l) for l in open("tests/data/metrics/pairs.jsonl")]
for n in (10, 10000):
    with open(f"{sys.argv[1]}/pairs{n}.jsonl", "w") as f:
        for i in range(n):
            r = rows[i % len(rows)]
            f.write(json.dumps({"id": f"p{i:05d}", "instruction": "q", "output": r["reference"],
                                "prediction": r["prediction"]}) + "\n")
PY

# Prints the wall nanoseconds of one run of "$@".
wall() {
  local t0 t1
  t0=$(date +%s%N)
  "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }
  t1=$(date +%s%N)
  echo $((t1 - t0))
}
score() {  # score BINARY N: a fresh run folder each time
  local out="$work/out.$RANDOM$RANDOM"
  env -u JUDGE_PROVIDER -u EVAL_CONFIG -u EVAL_METRICS "$1" --log-level warn score \
    --dataset "$work/pairs$2.jsonl" --metrics squad,bleu,chrf,rouge_stem --output "$out"
  rm -rf "$out"
}

declare -A times
cases=("--version" "score 10 pairs" "score 10000 pairs")
for ((i = 0; i < RUNS; ++i)); do
  for bin in "$A" ${B:+"$B"}; do
    times["$bin|--version"]+=" $(wall "$bin" --version)"
    times["$bin|score 10 pairs"]+=" $(wall score "$bin" 10)"
    times["$bin|score 10000 pairs"]+=" $(wall score "$bin" 10000)"
  done
done

median() { python3 -c 'import sys,statistics as s; v=[int(x)/1e6 for x in sys.argv[1:]]; print(f"{s.median(v):.0f} ({min(v):.0f}-{max(v):.0f})")' "$@"; }
echo "machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) CPUs; $(date -u +%F); $RUNS runs each"
printf '%-20s %-22s %s\n' "command" "A: ${A}" "${B:+B: $B}"
for c in "${cases[@]}"; do
  # shellcheck disable=SC2086
  printf '%-20s %-22s %s\n' "$c" "$(median ${times["$A|$c"]})" \
    "$([ -n "$B" ] && median ${times["$B|$c"]})"
done
