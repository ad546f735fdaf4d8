#!/usr/bin/env bash
# Hostile but realistic use of the command: a run's folder held by a live run, leftovers of a
# killed one, duplicate config keys, values that would be silently misapplied, absurd sizes,
# settings of later stages that must fail before training, and signals (a stopped run exits
# 128 + the signal, also when the signal comes during the evaluation).
# Usage: bash hardening.sh <selfsup binary> <source dir> <build dir>
set -u
SELFSUP=$1
TMP=$(mktemp -d "${TMPDIR:-/tmp}/selfsup_hardening.XXXXXX")
source "$(dirname "$0")/../support/cli.sh"
PID=
trap '[ -n "$PID" ] && kill -9 "$PID" 2>/dev/null; rm -rf "$TMP"' EXIT
# wait_for FILE: until FILE exists or the background run ends.
wait_for() {
  for _ in $(seq 1 3000); do
    [ -e "$1" ] && return 0
    kill -0 "$PID" 2>/dev/null || return 1
    sleep 0.02
  done
  return 1
}

cat >"$TMP/ok.yaml" <<YAML
method: {name: simclr, proj_hidden_dim: 32, proj_output_dim: 16}
data: {name: fashion-mnist, limit: 256}
model: {backbone: convnet, channels: [8, 16, 32]}
train: {batch_size: 32, max_steps: 2, threads: 1}
eval: {knn_k: 20, linear_max_iter: 20}
YAML

# Duplicate keys: the second value would be silently dropped.
printf 'method: {name: simclr}\ntrain:\n  max_steps: 4\n  max_steps: 6\n' >"$TMP/dup.yaml"
expect_error "a key given twice" "key 'train.max_steps' is given twice (line 3 and line 4)" \
  pretrain --config "$TMP/dup.yaml" --out "$TMP/dup"
printf 'method: {name: simclr}\ntrain: {max_steps: 4}\ntrain: {lr: 0.1}\n' >"$TMP/dup2.yaml"
expect_error "a section given twice" "key 'train' is given twice (line 2 and line 3)" \
  pretrain --config "$TMP/dup2.yaml" --out "$TMP/dup2"
expect_error "a folder as --config" "is a folder, not a YAML file" pretrain --config "$TMP" --out "$TMP/r0"

# Values that were silently misapplied.
expect_error "--set with no value" "--set train.lr= has no value" pretrain --config "$TMP/ok.yaml" --out "$TMP/r1" \
  --set train.lr=
expect_error "a negative seed" "--seed" pretrain --config "$TMP/ok.yaml" --out "$TMP/r2" --seed -5
expect_error "more epochs than steps can count" "more steps than can be counted" \
  pretrain --config "$TMP/ok.yaml" --out "$TMP/r3" --set train.max_steps=0 --set train.epochs=4611686018427387904
"$SELFSUP" pretrain --config "$TMP/ok.yaml" --out "$TMP/long_limit" --time-limit 1e300 --no-eval --quiet \
  >"$TMP/out" 2>"$TMP/err" || fail "--time-limit 1e300 failed: $(tail -1 "$TMP/err")"
python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))["steps"] == 2' "$TMP/long_limit/summary.json" ||
  fail "--time-limit 1e300 did not train the 2 steps"
echo "ok: --time-limit 1e300 trains the planned steps"
expect_error "--resume with overrides" "--resume continues with the config saved in the run; drop --config" \
  pretrain --resume --out "$TMP/long_limit" --config "$TMP/ok.yaml" --set train.lr=0.5

# Later stages' settings fail before the first step.
for bad in eval.knn_k=0 eval.linear_max_iter=-1 eval.knn_temperature=0; do
  expect_error "$bad" "${bad%%=*} must be positive" pretrain --config "$TMP/ok.yaml" --out "$TMP/bad_$bad" --set "$bad"
  [ -e "$TMP/bad_$bad/last.ckpt" ] && fail "$bad: trained before refusing"
done

# Absurd sizes are refused before anything is allocated.
expect_error "threads" "train.threads (100000) is more than 4x this machine's" \
  pretrain --config "$TMP/ok.yaml" --out "$TMP/r4" --set train.threads=100000
expect_error "--nproc" "--nproc 100000 is more than this machine's" pretrain --config "$TMP/ok.yaml" --out "$TMP/r5" \
  --nproc 100000
cat >"$TMP/semi.yaml" <<YAML
method: {name: fixmatch, mu: 2}
data: {name: fashion-mnist, limit: 1200, labels_per_class: 4, val_per_class: 10}
model: {backbone: convnet, channels: [8, 16, 32]}
train: {batch_size: 16, max_steps: 2, threads: 1}
YAML
expect_error "a semi batch larger than the data" "train.batch_size (1000000000) must be between 1 and" \
  semi --config "$TMP/semi.yaml" --out "$TMP/r6" --set train.batch_size=1000000000
expect_error "semi --resume of a pretrain run" "trains simclr (self-supervised), which \`selfsup semi\` does not" \
  semi --resume --out "$TMP/long_limit"

# A folder a live run holds is refused even with --overwrite; leftovers of a killed run go.
cat >"$TMP/slow.yaml" <<YAML
method: {name: simclr, proj_hidden_dim: 32, proj_output_dim: 16}
data: {name: fashion-mnist, limit: 512}
model: {backbone: convnet, channels: [8, 16, 32]}
train: {batch_size: 32, max_steps: 100000, threads: 1, checkpoint_every_steps: 5}
eval: {knn_k: 20, linear_max_iter: 20}
YAML
"$SELFSUP" pretrain --config "$TMP/slow.yaml" --out "$TMP/live" --quiet >"$TMP/live.out" 2>"$TMP/live.err" &
PID=$!
wait_for "$TMP/live/last.ckpt" || fail "the live run wrote no checkpoint: $(tail -2 "$TMP/live.err")"
expect_error "the folder of a live run" "is in use by a run that is still going (process $PID)" \
  pretrain --config "$TMP/ok.yaml" --out "$TMP/live" --overwrite
# SIGTERM: the run saves and exits 143 (128 + 15), its summary saying it stopped early.
kill -TERM "$PID"
wait "$PID"
rc=$?
PID=
[ "$rc" -eq 143 ] || fail "a run stopped by SIGTERM exited $rc, expected 143: $(tail -2 "$TMP/live.err")"
python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))["stopped_early"]' "$TMP/live/summary.json" ||
  fail "the stopped run's summary does not say it stopped early"
echo "ok: SIGTERM stops the run with exit code 143"
touch "$TMP/live/last.ckpt.tmp.4242" "$TMP/live/summary.json.tmp.4242"
"$SELFSUP" pretrain --resume --out "$TMP/live" --no-eval --quiet --time-limit 1 >"$TMP/out" 2>"$TMP/err" ||
  fail "resuming after SIGTERM failed: $(tail -1 "$TMP/err")"
ls "$TMP/live" | grep -q '\.tmp\.' && fail "a killed run's temporary files were left: $(ls "$TMP/live")"
echo "ok: leftovers of a killed run are removed when the folder is taken again"

# SIGINT during the evaluation: it stops within seconds, exits 130 and says where the model is.
cat >"$TMP/eval.yaml" <<YAML
method: {name: simclr, proj_hidden_dim: 32, proj_output_dim: 16}
data: {name: fashion-mnist}
model: {backbone: convnet, channels: [8, 16, 32]}
train: {batch_size: 64, max_steps: 2, threads: 1}
eval: {protocols: [knn, linear, finetune], finetune_steps: 100000}
YAML
"$SELFSUP" pretrain --config "$TMP/eval.yaml" --out "$TMP/ev" --quiet >"$TMP/ev.out" 2>"$TMP/ev.err" &
PID=$!
wait_for "$TMP/ev/last.ckpt" || fail "the run wrote no checkpoint: $(tail -2 "$TMP/ev.err")"
sleep 1
kill -INT "$PID"
start=$(date +%s)
wait "$PID"
rc=$?
PID=
[ $(($(date +%s) - start)) -le 10 ] || fail "the evaluation took more than 10 s to stop"
[ "$rc" -eq 130 ] || fail "a run stopped by SIGINT in its evaluation exited $rc, expected 130: $(cat "$TMP/ev.err")"
grep -q "^error: stopped by SIGINT during the evaluation; the trained model is saved in $TMP/ev/last.ckpt" "$TMP/ev.err" ||
  fail "unclear message: $(cat "$TMP/ev.err")"
echo "ok: SIGINT during the evaluation stops it with exit code 130"
echo PASS
