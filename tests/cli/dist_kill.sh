#!/usr/bin/env bash
# Two ranks started the way torchrun would (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT); rank 1 is
# killed with SIGKILL mid-run. Rank 0 must exit non-zero with an error line naming itself within
# dist.timeout_seconds, and its last checkpoint must still load.
# Usage: bash dist_kill.sh <selfsup binary> <source dir> <build dir>
set -u
SELFSUP=$1
TMP=$(mktemp -d "${TMPDIR:-/tmp}/selfsup_dist_kill.XXXXXX")
P0= P1=
cleanup() {
  for p in $P0 $P1; do kill -9 "$p" 2>/dev/null; done
  rm -rf "$TMP"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  for f in "$TMP"/*.err; do echo "--- $f"; tail -5 "$f"; done
  exit 1
}

cat >"$TMP/run.yaml" <<EOF
method: {name: simclr, proj_hidden_dim: 32, proj_output_dim: 16}
data: {name: fashion-mnist, limit: 512}
model: {backbone: convnet, channels: [8, 16, 32]}
train: {batch_size: 32, max_steps: 100000, checkpoint_every_steps: 2, log_every_steps: 1, threads: 1}
dist: {timeout_seconds: 20}
seed: 1
EOF
export MASTER_ADDR=127.0.0.1 MASTER_PORT=$((20000 + RANDOM % 20000)) WORLD_SIZE=2 LOCAL_WORLD_SIZE=2
RANK=0 LOCAL_RANK=0 "$SELFSUP" pretrain --config "$TMP/run.yaml" --out "$TMP/run" --no-eval --quiet \
  >/dev/null 2>"$TMP/rank0.err" &
P0=$!
RANK=1 LOCAL_RANK=1 "$SELFSUP" pretrain --config "$TMP/run.yaml" --out "$TMP/run" --no-eval --quiet \
  >/dev/null 2>"$TMP/rank1.err" &
P1=$!

# Wait until rank 0 has trained a few steps and written a checkpoint.
for _ in $(seq 1200); do
  if [ -f "$TMP/run/last.ckpt" ] && [ -f "$TMP/run/metrics.jsonl" ] && [ "$(wc -l <"$TMP/run/metrics.jsonl")" -ge 4 ]; then
    break
  fi
  kill -0 "$P0" 2>/dev/null || fail "rank 0 stopped before rank 1 was killed"
  sleep 0.1
done
[ -f "$TMP/run/last.ckpt" ] || fail "no checkpoint after 120 s"
kill -9 "$P1"
start=$(date +%s)
wait "$P0"
rc=$?
P0=
elapsed=$(($(date +%s) - start))
[ "$rc" -ne 0 ] || fail "rank 0 exited 0 after its peer was killed"
[ "$elapsed" -le 30 ] || fail "rank 0 took ${elapsed}s to notice (timeout 20 s)"
grep -q "^error: .*rank 0 of 2" "$TMP/rank0.err" || fail "rank 0 printed no error line naming its rank"
[ "$(grep -c '^error:' "$TMP/rank0.err")" -eq 1 ] || fail "expected one error line"
echo "ok: rank 0 stopped in ${elapsed}s with: $(grep '^error:' "$TMP/rank0.err")"

# The checkpoint it left is whole: it evaluates.
"$SELFSUP" eval --checkpoint "$TMP/run/last.ckpt" --protocol knn --threads 1 >"$TMP/eval.out" 2>"$TMP/eval.err" ||
  fail "the last checkpoint does not load: $(tail -1 "$TMP/eval.err")"
echo "ok: the last checkpoint loads and evaluates"
