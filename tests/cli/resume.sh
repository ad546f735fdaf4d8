#!/usr/bin/env bash
# selfsup pretrain --resume: a run killed with SIGKILL after a checkpoint and resumed ends with the
# same weights as an uninterrupted run (same kNN accuracy on the whole test set, and the same
# tensors in the final checkpoint).
# Usage: bash resume.sh <selfsup binary> <source dir> <build dir>
set -u
SELFSUP=$1
TMP=$(mktemp -d "${TMPDIR:-/tmp}/selfsup_resume.XXXXXX")
PID=
cleanup() {
  [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*"
  exit 1
}

[ -x "$SELFSUP" ] || fail "selfsup binary '$SELFSUP' not found"

STEPS=60
# One thread: the intra-op thread count must be the same in every process of the comparison.
cat >"$TMP/run.yaml" <<EOF
method: {name: simclr, proj_hidden_dim: 32, proj_output_dim: 16}
data: {name: fashion-mnist, limit: 512}
model: {backbone: convnet, channels: [8, 16, 32]}
train: {batch_size: 64, lr: 0.05, max_steps: $STEPS, checkpoint_every_steps: 5, threads: 1}
eval: {knn_k: 20}
seed: 4
EOF

# A: straight through.
"$SELFSUP" pretrain --config "$TMP/run.yaml" --out "$TMP/A" --no-eval --quiet >"$TMP/A.out" 2>"$TMP/A.err" ||
  fail "run A failed: $(cat "$TMP/A.err")"
[ -f "$TMP/A/last.ckpt" ] || fail "run A wrote no checkpoint"
echo "ok: run A finished"

# B: the same run, killed without warning as soon as its first checkpoint exists.
"$SELFSUP" pretrain --config "$TMP/run.yaml" --out "$TMP/B" --no-eval --quiet >"$TMP/B1.out" 2>"$TMP/B1.err" &
PID=$!
for _ in $(seq 1 6000); do
  [ -f "$TMP/B/last.ckpt" ] && break
  kill -0 "$PID" 2>/dev/null || break
  sleep 0.02
done
kill -9 "$PID" 2>/dev/null
wait "$PID" 2>/dev/null
PID=
[ -f "$TMP/B/last.ckpt" ] || fail "run B wrote no checkpoint before it ended: $(cat "$TMP/B1.err")"
[ -f "$TMP/B/summary.json" ] && fail "run B finished before it could be killed (raise STEPS)"
echo "ok: run B killed after its first checkpoint"

# B resumed in a new process, with no config: it comes from the checkpoint.
"$SELFSUP" pretrain --resume --out "$TMP/B" --no-eval --quiet >"$TMP/B2.out" 2>"$TMP/B2.err" ||
  fail "resuming B failed: $(cat "$TMP/B2.err")"
resumed_at=$(sed -n 's/^resuming from .* at step \([0-9]*\) of .*/\1/p' "$TMP/B2.err")
[ -n "$resumed_at" ] || fail "the resumed run did not say where it resumed: $(cat "$TMP/B2.err")"
[ "$resumed_at" -ge 5 ] && [ "$resumed_at" -lt "$STEPS" ] ||
  fail "resumed at step $resumed_at, expected a checkpoint between 5 and $STEPS"
grep -q "\"steps\": $STEPS" "$TMP/B2.out" || fail "the resumed run did not reach step $STEPS: $(cat "$TMP/B2.out")"
echo "ok: run B resumed at step $resumed_at and finished"

# Same weights: the kNN accuracy of both final checkpoints on the whole test set...
knn_of() {
  "$SELFSUP" eval --checkpoint "$1" --protocol knn --threads 1 >"$TMP/eval.out" 2>"$TMP/eval.err" ||
    fail "eval of $1 failed: $(cat "$TMP/eval.err")"
  grep -o '"knn_acc": [0-9.eE+-]*' "$TMP/eval.out" || fail "no knn_acc in: $(cat "$TMP/eval.out")"
}
a=$(knn_of "$TMP/A/last.ckpt")
b=$(knn_of "$TMP/B/last.ckpt")
[ "$a" = "$b" ] || fail "kNN accuracy differs: A $a, B $b"
echo "ok: same kNN accuracy ($a)"

# ...and, where Python is at hand, the tensor records of the two checkpoints (zip archives) are
# byte-identical, except the 8-byte train_seconds. The optimizer's state is stored in the order of
# a hash map keyed by tensor addresses, so records are compared as a multiset.
PY=/usr/bin/python3
if [ -x "$PY" ]; then
  "$PY" "$(dirname "$0")/same_checkpoint_tensors.py" "$TMP/A/last.ckpt" "$TMP/B/last.ckpt" || fail "the final checkpoints hold different tensors"
fi

echo "PASS"
