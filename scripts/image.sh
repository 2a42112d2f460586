#!/usr/bin/env bash
# Builds the CPU container image (docker/Dockerfile.cpu) with the container engine at hand and
# smoke-tests it as SageMaker would run it: the image's entrypoint, no flags, inside a SageMaker
# Processing layout and a Training layout (two hosts each); checks each host's shard folder, the
# exit codes, and that `evaluate merge` of the two shards equals a single-host run. Prints the
# time of every step and the image size. Details and recorded output: docker/README.md.
#
#   scripts/image.sh                      build assay:cpu, then smoke-test it
#   scripts/image.sh --smoke-only IMAGE   smoke-test an image already built (tests/docker uses it)
#   options: --tag TAG (default assay:cpu), --keep (keep the smoke-test folder), --help
#
# Engines: docker when its daemon answers, else podman (builds with --isolation=chroot). When no
# registry answers, the Debian 12 base (debian:12, debian:12-slim) is made from Debian's archive
# with debootstrap. Where `run` is refused (this sandbox: the OCI runtime may not set rlimits),
# the image runs by `create` + `mount` and chroot into its root, with /opt/ml bind-mounted and
# /proc, /sys, /dev mounted, in a private mount namespace. Needs root for debootstrap, podman
# and chroot; python3 for the checks. Exits 0 when everything passed, 1 naming the failed step.
set -Eeuo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD

TAG=assay:cpu
SMOKE_ONLY=""
KEEP=0
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke-only) SMOKE_ONLY=${2:?--smoke-only needs an image name}; shift 2 ;;
    --tag) TAG=${2:?--tag needs a name}; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "image.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
IMAGE=${SMOKE_ONLY:-$TAG}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

# ---- output, timing, failure ----------------------------------------------------------------
STEP_NAMES=()
STEP_SECS=()
CURRENT_STEP="setup"
STEP_START=$(date +%s.%N)
say() { printf '[image.sh] %s\n' "$*"; }
exec 3>&2 4>&1  # the terminal's stderr and stdout, for failures inside steps whose output goes to a log
fail() { printf '[image.sh] FAILED in step "%s": %s\n' "$CURRENT_STEP" "$*" >&3; exit 1; }
begin() {
  CURRENT_STEP=$1
  STEP_START=$(date +%s.%N)
  printf '\n[image.sh] ==> %s\n' "$1"
}
end() {
  local secs
  secs=$(awk -v a="$STEP_START" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  STEP_NAMES+=("$CURRENT_STEP")
  STEP_SECS+=("$secs")
  printf '[image.sh] <== %s: ok (%s s)\n' "$CURRENT_STEP" "$secs"
}
summary() {
  printf '\n[image.sh] %-66s %8s\n' "step" "seconds"
  local i
  for i in "${!STEP_NAMES[@]}"; do
    printf '[image.sh] %-66s %8s\n' "${STEP_NAMES[$i]}" "${STEP_SECS[$i]}"
  done
}

# ---- cleanup: containers, mounts and the work folder this run made, also on failure ---------
WORK=$(mktemp -d /var/tmp/assay-image.XXXXXX)
CONTAINERS=()
cleanup() {
  local rc=$?
  trap - ERR
  set +e
  exec 1>&4 2>&3  # a failure inside a step whose output went to a log ends here
  local cid
  for cid in "${CONTAINERS[@]}"; do
    "$ENGINE" umount "$cid" >/dev/null 2>&1
    "$ENGINE" rm -f "$cid" >/dev/null 2>&1
  done
  if [ "$rc" != 0 ] && [ "${#STEP_NAMES[@]}" -gt 0 ]; then
    printf '\n[image.sh] steps that passed before the failure:\n'
    summary
  fi
  if [ "$KEEP" = 1 ] || [ "$rc" != 0 ]; then
    say "work folder kept: $WORK"
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
ENGINE=""
trap cleanup EXIT
trap 'fail "interrupted"' INT TERM
trap 'fail "unexpected failure (exit $?) of: $BASH_COMMAND"' ERR

need() { command -v "$1" >/dev/null 2>&1 || fail "$1 is not installed ($2)"; }

# ---- the engine -----------------------------------------------------------------------------
begin "engine"
if command -v docker >/dev/null 2>&1 && timeout 20 docker info >/dev/null 2>&1; then
  ENGINE=docker
  BUILD_FLAGS=()
elif command -v podman >/dev/null 2>&1; then
  ENGINE=podman
  # chroot isolation: builds without the OCI runtime (which this sandbox refuses).
  BUILD_FLAGS=(--isolation=chroot)
else
  fail "no container engine: install podman (apt-get install podman buildah) or start docker"
fi
need python3 "the checks parse the run folders' JSON"
say "engine: $ENGINE ($("$ENGINE" --version 2>/dev/null | head -1))"
end

# ---- the Debian 12 base, from a registry or from Debian's archive ---------------------------
have_image() {
  if [ "$ENGINE" = podman ]; then podman image exists "$1"; else docker image inspect "$1" >/dev/null 2>&1; fi
}
if [ -z "$SMOKE_ONLY" ]; then
  begin "base image debian:12 / debian:12-slim"
  if have_image debian:12 && have_image debian:12-slim; then
    say "present already"
  elif timeout 300 "$ENGINE" pull docker.io/library/debian:12 >/dev/null 2>&1 &&
       timeout 300 "$ENGINE" pull docker.io/library/debian:12-slim >/dev/null 2>&1; then
    say "pulled from docker.io"
  else
    say "no registry answered: making it with debootstrap from $DEBIAN_MIRROR"
    need debootstrap "apt-get install debootstrap"
    [ "$(id -u)" = 0 ] || fail "debootstrap needs root"
    nice -n 10 debootstrap --variant=minbase bookworm "$WORK/rootfs" "$DEBIAN_MIRROR" \
      >"$WORK/debootstrap.log" 2>&1 || { tail -20 "$WORK/debootstrap.log" >&2; fail "debootstrap failed (log above)"; }
    # The Docker Official Image also lists the updates and security suites.
    printf 'deb %s bookworm main\ndeb %s bookworm-updates main\ndeb http://deb.debian.org/debian-security bookworm-security main\n' \
      "$DEBIAN_MIRROR" "$DEBIAN_MIRROR" >"$WORK/rootfs/etc/apt/sources.list"
    rm -rf "$WORK/rootfs/var/cache/apt/archives/"*.deb "$WORK/rootfs/var/lib/apt/lists/"*
    tar -C "$WORK/rootfs" -c . | "$ENGINE" import - debian:12 >/dev/null || fail "import of the rootfs failed"
    "$ENGINE" tag debian:12 debian:12-slim
    rm -rf "$WORK/rootfs"
  fi
  end

  begin "build $TAG (docker/Dockerfile.cpu)"
  nice -n 10 "$ENGINE" build "${BUILD_FLAGS[@]}" -f docker/Dockerfile.cpu -t "$TAG" . \
    >"$WORK/build.log" 2>&1 || { tail -40 "$WORK/build.log" >&2; fail "image build failed (last lines above; full log $WORK/build.log)"; }
  say "$(grep 'STEP [0-9]' "$WORK/build.log" | grep -vc ': FROM ' || true) build steps after FROM, $(grep -c 'Using cache' "$WORK/build.log" || true) from the layer cache (log: $WORK/build.log, kept with --keep)"
  end
fi

begin "image $IMAGE"
have_image "$IMAGE" || fail "no image $IMAGE (build it with scripts/image.sh, or name one that exists)"
SIZE_BYTES=$("$ENGINE" image inspect --format '{{.Size}}' "$IMAGE")
say "image $IMAGE: $SIZE_BYTES bytes ($(awk -v b="$SIZE_BYTES" 'BEGIN { printf "%.2f GB", b / 1e9 }'))"
end

# ---- running the image ----------------------------------------------------------------------
# run_image DIR [COMMAND...]: runs the image with DIR at /opt/ml: its entrypoint when no command
# is given (as SageMaker does), else COMMAND. Returns the exit status of what ran.
RUN_MODE=""
ENTRYPOINT_JSON=$("$ENGINE" image inspect --format '{{json .Config.Entrypoint}}' "$IMAGE")
ENV_JSON=$("$ENGINE" image inspect --format '{{json .Config.Env}}' "$IMAGE")
# RUN_ENV: NAME=VALUE settings the job itself passes (SageMaker's Environment), on top of the
# image's own.
RUN_ENV=()
run_image() {
  local dir=$1
  shift
  if [ "$RUN_MODE" = run ]; then
    local env_flags=() kv
    for kv in "${RUN_ENV[@]}"; do env_flags+=(-e "$kv"); done
    if [ $# -eq 0 ]; then
      "$ENGINE" run --rm "${env_flags[@]}" -v "$dir:/opt/ml" "$IMAGE"
    else
      "$ENGINE" run --rm "${env_flags[@]}" -v "$dir:/opt/ml" --entrypoint "$1" "$IMAGE" "${@:2}"
    fi
    return
  fi
  local argv
  if [ $# -eq 0 ]; then
    mapfile -t argv < <(python3 -c 'import json,sys; print("\n".join(json.loads(sys.argv[1])))' "$ENTRYPOINT_JSON")
  else
    argv=("$@")
  fi
  local env_args
  mapfile -t env_args < <(python3 -c 'import json,sys; print("\n".join(json.loads(sys.argv[1]) or []))' "$ENV_JSON")
  # A fresh container per run, as each SageMaker host gets one.
  local cid root rc=0
  cid=$("$ENGINE" create "$IMAGE" 2>"$WORK/create.log") || fail "$ENGINE create $IMAGE: $(cat "$WORK/create.log")"
  CONTAINERS+=("$cid")
  root=$("$ENGINE" mount "$cid" 2>"$WORK/mount.log") || fail "$ENGINE mount: $(cat "$WORK/mount.log")"
  # A private mount namespace: the mounts vanish with it, whatever happens. HOME as docker run
  # sets it when the image does not.
  # shellcheck disable=SC2016  # expanded by the inner shell
  unshare --mount --propagation private /bin/sh -euc '
    root=$1; dir=$2; shift 2
    mkdir -p "$root/opt/ml" "$root/proc" "$root/sys" "$root/dev"
    mount --bind "$dir" "$root/opt/ml"
    mount -t proc proc "$root/proc"
    mount --rbind /sys "$root/sys"
    mount --rbind /dev "$root/dev"
    exec chroot "$root" "$@"' sh "$root" "$dir" env -i HOME=/root "${env_args[@]}" "${RUN_ENV[@]}" "${argv[@]}" || rc=$?
  "$ENGINE" umount "$cid" >/dev/null
  "$ENGINE" rm "$cid" >/dev/null
  return "$rc"
}
begin "how to run $IMAGE"
if timeout 60 "$ENGINE" run --rm --entrypoint /bin/true "$IMAGE" >"$WORK/run-probe.log" 2>&1; then
  RUN_MODE=run
  say "$ENGINE run works"
else
  RUN_MODE=chroot
  say "$ENGINE run is refused here: $(tail -1 "$WORK/run-probe.log")"
  [ "$(id -u)" = 0 ] || fail "the create + mount + chroot route needs root"
  need unshare "util-linux"
  [ "$ENTRYPOINT_JSON" != null ] || fail "$IMAGE has no ENTRYPOINT (SageMaker runs the image's entrypoint)"
  say "running by create + mount + chroot, a fresh container per run"
fi
end

# ---- the smoke test -------------------------------------------------------------------------
# The run config: greedy, local metrics with corpus BLEU, the offline dummy judge, dummy mode
# (the first 16 samples, at most 32 new tokens) so that a run takes seconds.
RUN_CONFIG='{"metrics": ["squad", "bleu", "rouge"], "dummy": true, "dummy_samples": 16,
  "fields": {"id": "id", "instruction": "instruction", "reference": "output"},
  "prompt": {"chat_format": "none"}, "judge": {"provider": "dummy", "rubric": "handbook"},
  "bootstrap": {"resamples": 200, "seed": 1234}}'

# make_host LAYOUT DIR HOST HOSTS_JSON: the /opt/ml tree of one host.
make_host() {
  local layout=$1 dir=$2 host=$3 hosts=$4 inputs config
  if [ "$layout" = processing ]; then
    inputs=$dir/processing/input
    config=$dir/config
  else
    inputs=$dir/input/data
    config=$dir/input/config
  fi
  mkdir -p "$inputs/model" "$inputs/data" "$inputs/config" "$config"
  cp -r "$REPO/models/stories260K/." "$inputs/model/"
  cp "$REPO/configs/sample/llmtwin_test.jsonl" "$inputs/data/test.jsonl"
  if [ "$layout" = processing ]; then
    printf '%s\n' "$RUN_CONFIG" >"$inputs/config/run.json"
    printf '{"ProcessingJobName": "assay-image-smoke"}\n' >"$config/processingjobconfig.json"
  else
    # Training: the run config in the config channel, the judge from hyperparameters (strings,
    # as SageMaker passes them; the SDK's JSON-quoted form for one of them).
    python3 -c 'import json,sys; c=json.loads(sys.argv[1]); c.pop("judge"); print(json.dumps(c))' \
      "$RUN_CONFIG" >"$inputs/config/run.json"
    printf '{"judge.provider": "\\"dummy\\"", "judge.rubric": "handbook"}\n' >"$config/hyperparameters.json"
  fi
  if [ -n "$hosts" ]; then
    printf '{"current_host": "%s", "hosts": %s}\n' "$host" "$hosts" >"$config/resourceconfig.json"
  fi
}

# smoke LAYOUT: hosts algo-1 and algo-2 of 2, a single host, merge, compare.
smoke() {
  local layout=$1 base=$WORK/$1 out data rc
  if [ "$layout" = processing ]; then
    out=processing/output/eval
    data=processing/input/data
    # The Processing layout alone, no Environment: evaluate finds everything under /opt/ml.
    RUN_ENV=()
  else
    out=model
    data=input/data/data
    # A training job as evalctl's Batch backend submits it (eval/submit/batch.cpp): each
    # channel's path in the Environment, OUTPUT_DIR left out (results go to /opt/ml/model).
    RUN_ENV=(MODEL_PATH=/opt/ml/input/data/model DATASET_PATH=/opt/ml/input/data/data/test.jsonl
             EVAL_CONFIG=/opt/ml/input/data/config/run.json)
  fi
  local i
  for i in 1 2; do
    begin "$layout: entrypoint, no flags, host algo-$i of 2"
    make_host "$layout" "$base/h$i" "algo-$i" '["algo-1", "algo-2"]'
    rc=0
    run_image "$base/h$i" >"$base/h$i.log" 2>&1 || rc=$?
    if [ "$rc" != 0 ]; then
      tail -20 "$base/h$i.log" >&2
      fail "evaluate exited $rc, expected 0 (log above)"
    fi
    check_shard "$layout" "$base/h$i" "$out" $((i - 1)) || fail "the shard folder is not a complete run (above)"
    end
  done
  begin "$layout: entrypoint, no flags, one host"
  make_host "$layout" "$base/single" "" ""
  rc=0
  run_image "$base/single" >"$base/single.log" 2>&1 || rc=$?
  [ "$rc" = 0 ] || { tail -20 "$base/single.log" >&2; fail "evaluate exited $rc, expected 0 (log above)"; }
  end
  begin "$layout: evaluate merge of the two shards equals the single host"
  RUN_ENV=()
  rc=0
  # The shards' manifests name the dataset at its /opt/ml path on their host; merged elsewhere,
  # --dataset names it (merge checks its SHA-256 against the shards').
  run_image "$base" /opt/assay/bin/evaluate merge --output "/opt/ml/merged" \
    --dataset "/opt/ml/h1/$data/test.jsonl" "/opt/ml/h1/$out" "/opt/ml/h2/$out" >"$base/merge.log" 2>&1 || rc=$?
  [ "$rc" = 0 ] || { tail -20 "$base/merge.log" >&2; fail "evaluate merge exited $rc (log above)"; }
  compare_merged "$base/merged" "$base/single/$out" 16 || fail "the merged run differs from the single host's (above)"
  end
}

# check_shard LAYOUT DIR OUT INDEX: DIR/OUT/shard-INDEX-of-2 is a complete run of this host's
# shard; for Training also its copies in output/data.
check_shard() {
  python3 - "$@" <<'EOF'
import json, os, sys
layout, root, out, index = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
shard = os.path.join(root, out, f"shard-{index}-of-2")
errors = []
def need(cond, what):
    if not cond: errors.append(what)
for name in ("manifest.json", "generations.jsonl", "scores.jsonl", "summary.json", "report.md", "report.html"):
    need(os.path.isfile(os.path.join(shard, name)), f"{shard}/{name} is missing")
if not errors:
    m = json.load(open(os.path.join(shard, "manifest.json")))
    need(m.get("status") == "completed", f"manifest status is {m.get('status')!r}, not 'completed'")
    need(m.get("shard") == {"index": index, "count": 2}, f"manifest shard is {m.get('shard')}")
    c = m.get("container", {})
    need(c.get("contract") == layout, f"manifest container.contract is {c.get('contract')!r}")
    need(c.get("current_host") == f"algo-{index + 1}", f"manifest container.current_host is {c.get('current_host')!r}")
    gens = [json.loads(l) for l in open(os.path.join(shard, "generations.jsonl")) if l.strip()]
    scores = [json.loads(l) for l in open(os.path.join(shard, "scores.jsonl")) if l.strip()]
    need(0 < len(gens) < 16, f"{len(gens)} generations: a shard of 2 should hold some of the 16")
    need(len(scores) == len(gens), f"{len(scores)} scores for {len(gens)} generations")
    s = json.load(open(os.path.join(shard, "summary.json")))
    need(s.get("n_samples") == len(gens), f"summary n_samples {s.get('n_samples')} != {len(gens)}")
    need("judges" in s and s["judges"], "summary has no judge results (dummy judge)")
    if layout == "training":
        copy = os.path.join(root, "output", "data", f"shard-{index}-of-2")
        for name in ("manifest.json", "summary.json", "scores.jsonl"):
            need(os.path.isfile(os.path.join(copy, name)), f"{copy}/{name} (the Training copy) is missing")
    print(f"[image.sh] {shard}: completed, {len(gens)} of 16 samples")
for e in errors:
    print(f"[image.sh]   {e}", file=sys.stderr)
sys.exit(1 if errors else 0)
EOF
}

# compare_merged MERGED SINGLE N: the merged run equals the single-host run.
compare_merged() {
  python3 - "$@" <<'EOF'
import json, os, sys
merged, single, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
def lines(d, f): return [json.loads(l) for l in open(os.path.join(d, f)) if l.strip()]
errors = []
def need(cond, what):
    if not cond: errors.append(what)
gm, gs = lines(merged, "generations.jsonl"), lines(single, "generations.jsonl")
need(len(gm) == n, f"merged: {len(gm)} generations, expected {n}")
need(sorted(g["id"] for g in gm) == sorted(g["id"] for g in gs), "merged and single hold different sample ids")
by_id = {g["id"]: g for g in gs}
need(all(g == by_id.get(g["id"]) for g in gm), "a merged generation differs from the single host's")
need(lines(merged, "scores.jsonl") == lines(single, "scores.jsonl"), "scores.jsonl differ")
sm, ss = json.load(open(os.path.join(merged, "summary.json"))), json.load(open(os.path.join(single, "summary.json")))
for key in ("n_samples", "metrics", "corpus", "judges", "bootstrap"):
    need(key in ss and sm.get(key) == ss.get(key), f"summary.json `{key}` differs")
mm = json.load(open(os.path.join(merged, "manifest.json")))
need(mm.get("status") == "completed", f"merged manifest status {mm.get('status')!r}")
need(len(mm.get("merged_from", [])) == 2, "merged manifest does not name 2 shards")
for e in errors:
    print(f"[image.sh]   {e}", file=sys.stderr)
if not errors:
    print(f"[image.sh] merged == single host: {len(gm)} samples, metrics {sorted(sm['metrics'])}")
sys.exit(1 if errors else 0)
EOF
}

smoke processing
smoke training

summary
say "image $IMAGE: $(awk -v b="$SIZE_BYTES" 'BEGIN { printf "%.2f GB", b / 1e9 }') ($SIZE_BYTES bytes); ran by: $RUN_MODE"
say "PASSED"
