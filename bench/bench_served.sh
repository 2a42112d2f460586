#!/usr/bin/env bash
# Generation through `evaluate serve` and the `openai` generator against the same run in process:
# `evaluate run` on the same model and test set, greedy, batch 32, both in this call (in-process
# and served alternate run by run, so both see the same machine). The model is the random ≈110M
# Llama of bench_generate with stories260K's tokenizer (or --model DIR). Also sends 64 concurrent
# requests straight at `evaluate serve` and counts the answers. Prints a table.
#
#   bench/bench_served.sh [--model DIR] [--runs N] [--samples N] [--new-tokens N]
set -euo pipefail
cd "$(dirname "$0")/.."
EVALUATE=${EVALUATE:-build/eval/evaluate}
BENCH_GENERATE=${BENCH_GENERATE:-build/bench/bench_generate}
model="" runs=3 samples=128 new_tokens=64
while [ $# -gt 0 ]; do
  case "$1" in
    --model) model=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --samples) samples=$2; shift 2 ;;
    --new-tokens) new_tokens=$2; shift 2 ;;
    *) echo "usage: $0 [--model DIR] [--runs N] [--samples N] [--new-tokens N]" >&2; exit 2 ;;
  esac
done
work=$(mktemp -d)
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill -TERM "$server_pid" 2>/dev/null && wait "$server_pid" || true
  rm -rf "$work"
}
trap cleanup EXIT
if [ -z "$model" ]; then
  model=/tmp/assay-bench-served-llama110m
  "$BENCH_GENERATE" --write-model "$model"
fi
clean="env -u MODEL_PATH -u EVAL_CONFIG -u JUDGE_PROVIDER -u GEN_BACKEND -u GEN_BASE_URL -u GEN_API_KEY"

python3 - "$work/data.jsonl" "$samples" <<'PY'
import json, sys
rows = [json.loads(l) for l in open("configs/sample/llmtwin_test.jsonl")]
with open(sys.argv[1], "w") as f:
    for i in range(int(sys.argv[2])):
        r = rows[i % len(rows)]
        f.write(json.dumps({"id": f"q{i:04d}", "instruction": r["instruction"], "output": r["output"]}) + "\n")
PY

$clean "$EVALUATE" --log-level warn serve --model "$model" --port 0 --max-batch-size 32 \
  > "$work/serve.out" 2> "$work/serve.err" &
server_pid=$!
for _ in $(seq 600); do grep -q "/v1" "$work/serve.out" 2>/dev/null && break; sleep 0.1; done
url=$(grep -o 'http://[0-9.:]*/v1' "$work/serve.out")

common=(--dataset "$work/data.jsonl" --metrics exact_match --max-new-tokens "$new_tokens"
  --chat-format none)
# Prints "completion_tokens generate_s" of a finished run folder.
figures() {
  python3 -c 'import json,sys; d=sys.argv[1]; s=json.load(open(d+"/summary.json")); m=json.load(open(d+"/manifest.json")); print(s["generation"]["completion_tokens"], m["timings"]["generate_s"])' "$1"
}
declare -a local_rates served_rates
for ((i = 0; i < runs; ++i)); do
  rm -rf "$work/local" "$work/served"
  $clean "$EVALUATE" --log-level warn run --model "$model" --output "$work/local" "${common[@]}" >/dev/null
  read -r tok s < <(figures "$work/local")
  local_rates+=("$(python3 -c "print($tok / $s)")")
  $clean GEN_BASE_URL="$url" "$EVALUATE" --log-level warn run --generator openai \
    --output "$work/served" "${common[@]}" >/dev/null
  read -r tok2 s2 < <(figures "$work/served")
  served_rates+=("$(python3 -c "print($tok2 / $s2)")")
  cmp -s <(sort "$work/local/generations.jsonl") <(sort "$work/served/generations.jsonl") ||
    { echo "served generations differ from local ones" >&2; exit 1; }
done

# 64 clients at once, straight at the server: every request must be answered.
python3 - "$url" <<'PY' > "$work/burst.txt"
import json, sys, threading, urllib.request
url, ok, errors = sys.argv[1], [0], []
lock = threading.Lock()
def one(i):
    body = json.dumps({"prompt": f"Request {i}: once upon a time", "max_tokens": 32, "temperature": 0}).encode()
    try:
        r = json.load(urllib.request.urlopen(urllib.request.Request(url + "/completions", body, {"Content-Type": "application/json"}), timeout=600))
        assert r["usage"]["completion_tokens"] >= 0
        with lock: ok[0] += 1
    except Exception as e:
        with lock: errors.append(repr(e))
threads = [threading.Thread(target=one, args=(i,)) for i in range(64)]
[t.start() for t in threads]; [t.join() for t in threads]
print(ok[0], len(errors))
PY
read -r burst_ok burst_err < "$work/burst.txt"

python3 - "$model" "$samples" "$new_tokens" "$burst_ok" "$burst_err" "${local_rates[*]}" "${served_rates[*]}" <<'PY'
import statistics, sys
model, samples, new, ok, err = sys.argv[1:6]
loc = [float(x) for x in sys.argv[6].split()]
srv = [float(x) for x in sys.argv[7].split()]
ml, ms = statistics.median(loc), statistics.median(srv)
print(f"model {model}, {samples} samples, max_new_tokens {new}, batch 32, float32, greedy")
print("| generator | tokens/s median (min-max) | ratio |")
print("|---|---|---|")
print(f"| local (in process) | {ml:.0f} ({min(loc):.0f}-{max(loc):.0f}) | 1.00 |")
print(f"| openai via evaluate serve | {ms:.0f} ({min(srv):.0f}-{max(srv):.0f}) | {ms/ml:.2f} |")
print(f"64 concurrent clients straight at evaluate serve: {ok} answered, {err} failed")
PY
