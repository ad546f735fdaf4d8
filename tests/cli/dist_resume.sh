#!/usr/bin/env bash
# --resume with the same world size: a two-rank run (`--nproc 2`) killed with SIGKILL, launcher and
# ranks together, after its first checkpoint, then resumed with --nproc 2, ends with the same
# tensors as a two-rank run that was never interrupted.
# Usage: bash dist_resume.sh <selfsup binary> <source dir> <build dir>
set -u
SELFSUP=$1
TMP=$(mktemp -d "${TMPDIR:-/tmp}/selfsup_dist_resume.XXXXXX")
PGID=
cleanup() {
  [ -n "$PGID" ] && kill -9 -- "-$PGID" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  exit 1
}

STEPS=40
cat >"$TMP/run.yaml" <<EOF
method: {name: simclr, proj_hidden_dim: 32, proj_output_dim: 16}
data: {name: fashion-mnist, limit: 512}
model: {backbone: convnet, channels: [8, 16, 32]}
train: {batch_size: 64, lr: 0.05, max_steps: $STEPS, checkpoint_every_steps: 5}
seed: 4
EOF

"$SELFSUP" pretrain --config "$TMP/run.yaml" --out "$TMP/A" --no-eval --quiet --nproc 2 >"$TMP/A.out" 2>"$TMP/A.err" ||
  fail "run A failed: $(tail -3 "$TMP/A.err")"
echo "ok: run A (2 ranks) finished"

# B: its own process group, so that SIGKILL reaches the launcher and both ranks at once.
setsid "$SELFSUP" pretrain --config "$TMP/run.yaml" --out "$TMP/B" --no-eval --quiet --nproc 2 \
  >"$TMP/B1.out" 2>"$TMP/B1.err" &
PGID=$!
for _ in $(seq 1 6000); do
  [ -f "$TMP/B/last.ckpt" ] && break
  kill -0 "$PGID" 2>/dev/null || break
  sleep 0.02
done
kill -9 -- "-$PGID" 2>/dev/null
sleep 0.5
PGID=
[ -f "$TMP/B/last.ckpt" ] || fail "run B wrote no checkpoint: $(tail -3 "$TMP/B1.err")"
[ -f "$TMP/B/summary.json" ] && fail "run B finished before it could be killed (raise STEPS)"

"$SELFSUP" pretrain --resume --out "$TMP/B" --no-eval --quiet --nproc 2 >"$TMP/B2.out" 2>"$TMP/B2.err" ||
  fail "resuming B failed: $(tail -3 "$TMP/B2.err")"
resumed_at=$(sed -n 's/^resuming from .* at step \([0-9]*\) of .*/\1/p' "$TMP/B2.err")
[ -n "$resumed_at" ] && [ "$resumed_at" -lt "$STEPS" ] || fail "did not resume mid-run: $(cat "$TMP/B2.err")"
echo "ok: run B killed, resumed at step $resumed_at with 2 ranks"

/usr/bin/python3 "$(dirname "$0")/same_checkpoint_tensors.py" "$TMP/A/last.ckpt" "$TMP/B/last.ckpt" ||
  fail "the final checkpoints hold different tensors"
echo "PASS"
