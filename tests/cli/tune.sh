#!/usr/bin/env bash
# selfsup tune end to end: successive halving over two semi-supervised methods and a learning rate
# on a small subset, stopped after its first trial and resumed; each rung's trials are the best of
# the one before by validation accuracy; the ranked table, the plot and best.yaml are written;
# --resume of a finished search reruns nothing; a metric of the test set and a bad space fail with
# one error line each. A pipeline search pretrains each trial for its share of the budget and
# starts the method from that encoder.
# Usage: bash tune.sh <selfsup binary> <source dir> <build dir>
set -u
SELFSUP=$1
TMP=$(mktemp -d "${TMPDIR:-/tmp}/selfsup_tune.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
source "$(dirname "$0")/../support/cli.sh"

cat >"$TMP/base.yaml" <<YAML
method: {name: supervised}
data: {name: fashion-mnist, limit: 600, labels_per_class: 5, val_per_class: 10}
model: {backbone: convnet, channels: [4, 8, 8]}
train: {max_steps: 100000, batch_size: 16, lr: 0.03, momentum: 0.9, threads: 1}
seed: 0
report: {map: pca}  # t-SNE costs seconds a run; tests/cli/report.sh checks the t-SNE map
YAML
cat >"$TMP/space.yaml" <<YAML
metric: val_acc
trials: 4
eta: 2
seed: 3
space:
  method.name: {choice: [supervised, pseudo_label]}
  train.lr: {loguniform: [0.003, 0.3]}
YAML
# Stopped after its first finished trial (SIGTERM, passed on to the running trial), the search
# exits non-zero with one line naming --resume; --resume runs only what had not finished.
"$SELFSUP" tune --config "$TMP/base.yaml" --space "$TMP/space.yaml" --time-limit 6 --out "$TMP/t" \
  >/dev/null 2>"$TMP/s.err" &
pid=$!
for _ in $(seq 600); do
  if [ -f "$TMP/t/tune_state.json" ] && grep -q '"status": "done"' "$TMP/t/tune_state.json"; then break; fi
  sleep 0.1
done
kill -TERM "$pid"
if wait "$pid"; then fail "a stopped search exited 0"; fi
grep -q "^error: tune stopped; .*selfsup tune --resume --out" "$TMP/s.err" || fail "stop: $(tail -2 "$TMP/s.err")"
cp "$TMP/t/tune_state.json" "$TMP/stopped.json"
"$SELFSUP" tune --resume --out "$TMP/t" >"$TMP/t.out" 2>"$TMP/t.err" || fail "--resume after a stop: $(tail -3 "$TMP/t.err")"
/usr/bin/python3 - "$TMP/stopped.json" "$TMP/t/tune_state.json" <<'PY' || fail "resume after a stop"
import json, sys
before, after = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
done = lambda st: {(t["id"], r["rung"]): r for t in st["trials"] for r in t["results"]}
b, a = done(before), done(after)
assert 1 <= len(b) < 7, len(b)
assert len(a) == 7, a
assert all(a[k] == v for k, v in b.items()), "a finished trial was run again"
print("ok: stopped after", len(b), "of 7 trials, resumed to 7")
PY
/usr/bin/python3 - "$TMP/t" <<'PY' || fail "the search"
import json, os, sys
d = sys.argv[1]
st = json.load(open(f"{d}/tune_state.json"))
res = json.load(open(f"{d}/tune_results.json"))
assert [r["trials"] for r in res["plan"]] == [4, 2, 1], res["plan"]
by_rung = {}
for t in st["trials"]:
    for r in t["results"]:
        assert r["status"] == "done", r
        by_rung.setdefault(r["rung"], {})[t["id"]] = r["score"]
        assert os.path.exists(os.path.join(r["run"], "summary.json"))
assert sorted(by_rung) == [0, 1, 2] and len(by_rung[0]) == 4 and len(by_rung[1]) == 2 and len(by_rung[2]) == 1
def top(scores, k):  # the k best, ties to the lower trial
    return sorted(sorted(scores), key=lambda t: -scores[t])[:k]
assert sorted(by_rung[1]) == sorted(top(by_rung[0], 2)), (by_rung[0], by_rung[1])
assert list(by_rung[2]) == top(by_rung[1], 1), (by_rung[1], by_rung[2])
best = res["ranked"][0]
assert best["trial"] == list(by_rung[2])[0] and best["rungs"] == 3
# Scored on the validation split only.
s = json.load(open(os.path.join(st["trials"][best["trial"]]["results"][-1]["run"], "summary.json")))
assert abs(s["val_acc"] - best["score"]) < 1e-12
for f in ["tune_results.md", "tune.png", "best.yaml"]:
    assert os.path.getsize(f"{d}/{f}") > 0, f
print("ok: promotions", by_rung)
PY
# Resuming a finished search runs nothing again and ranks alike.
cp "$TMP/t/tune_results.json" "$TMP/before.json"
"$SELFSUP" tune --resume --out "$TMP/t" >/dev/null 2>"$TMP/r.err" || fail "--resume: $(cat "$TMP/r.err")"
[ ! -s "$TMP/r.err" ] || fail "--resume ran trials again: $(cat "$TMP/r.err")"
cmp -s "$TMP/before.json" "$TMP/t/tune_results.json" || fail "--resume changed the results"
echo "ok: resume"

# A pipeline: SimCLR for half of each trial's budget, then the method from its encoder (--init);
# the `pretrain.` keys set the pretraining config, the others the method's.
cat >"$TMP/pre.yaml" <<YAML
method: {name: simclr, proj_hidden_dim: 16, proj_output_dim: 8}
data: {name: fashion-mnist, limit: 600}
model: {backbone: convnet, channels: [4, 8, 8]}
train: {max_steps: 100000, batch_size: 16, lr: 0.05, threads: 1}
seed: 0
YAML
cat >"$TMP/pipe.yaml" <<YAML
metric: val_acc
trials: 2
eta: 2
seed: 5
pretrain: {config: $TMP/pre.yaml, share: 0.5}
space:
  pretrain.train.lr: {loguniform: [0.01, 0.1]}
  train.lr: {choice: [0.01, 0.03]}
YAML
"$SELFSUP" tune --config "$TMP/base.yaml" --space "$TMP/pipe.yaml" --time-limit 4 --out "$TMP/p" >/dev/null \
  2>"$TMP/p.err" || fail "pipeline search: $(tail -3 "$TMP/p.err")"
/usr/bin/python3 - "$TMP/p" <<'PY' || fail "the pipeline search"
import json, os, re, sys
d = sys.argv[1]
st = json.load(open(f"{d}/tune_state.json"))
assert "train:" in st["pretrain_config"], "the pretraining config is not kept in the state"
results = [(t, r) for t in st["trials"] for r in t["results"]]
assert len(results) == 3, results
for t, r in results:
    assert r["status"] == "done", r
    assert r["pretrain_seconds"] == r["seconds"] / 2, r
    s = json.load(open(os.path.join(r["run"], "summary.json")))
    assert os.path.dirname(s["init"]) == r["pretrain_run"], (s["init"], r["pretrain_run"])  # its checkpoint
    assert os.path.exists(os.path.join(r["pretrain_run"], "last.ckpt")), r
    assert s["train_seconds"] <= r["seconds"] / 2 + 0.5, (s["train_seconds"], r["seconds"])
    pre = open(os.path.join(r["pretrain_run"], "config.yaml")).read()
    lr = [float(x) for x in re.findall(r"^train:.*\blr: ([-+0-9.eE]+)", pre, re.M)]
    assert lr and abs(lr[0] / float(t["params"]["pretrain.train.lr"]) - 1) < 1e-9, (lr, t["params"])
    main = open(os.path.join(r["run"], "config.yaml")).read()
    assert "pretrain" not in main and "simclr" not in main, main
best = json.load(open(f"{d}/tune_results.json"))["ranked"][0]
assert best["pretrain_share"] == 0.5 and os.path.getsize(f"{d}/best_pretrain.yaml") > 0, best
print("ok: pipeline", [(t["id"], r["rung"], r["score"]) for t, r in results])
PY
# tune_results.md ends with the winner as commands; run as printed, they train it again.
grep -q -- "--init RUN_pretrain" "$TMP/p/tune_results.md" || fail "tune_results.md lacks the winner's commands"
grep '^    selfsup ' "$TMP/p/tune_results.md" | sed "s|^    selfsup |\"$SELFSUP\" |; s|\bRUN_pretrain\b|$TMP/again_pretrain|g; s|\bRUN\b|$TMP/again|g" >"$TMP/again.sh"
[ "$(wc -l <"$TMP/again.sh")" = 2 ] || fail "expected two commands for the winner: $(cat "$TMP/again.sh")"
bash "$TMP/again.sh" >/dev/null 2>"$TMP/again.err" || fail "the winner's commands: $(tail -2 "$TMP/again.err")"
[ -f "$TMP/again/summary.json" ] && [ -f "$TMP/again_pretrain/last.ckpt" ] || fail "the winner's commands wrote no run"
echo "ok: the winner's commands train it again"
sed '/^pretrain:/d' "$TMP/pipe.yaml" >"$TMP/nopre.yaml"
expect_error "a pretrain. key without a pretrain block" 'needs a `pretrain:` block' tune --config "$TMP/base.yaml" \
  --space "$TMP/nopre.yaml" --time-limit 4 --out "$TMP/bad4"
grep -v '^pretrain:' "$TMP/pipe.yaml" >"$TMP/semipre.yaml"
echo "pretrain: {config: $TMP/base.yaml}" >>"$TMP/semipre.yaml"
expect_error "a semi-supervised method as the pretraining stage" "is not a self-supervised method" tune \
  --config "$TMP/base.yaml" --space "$TMP/semipre.yaml" --time-limit 4 --out "$TMP/bad5"
sed 's/share: 0.5/share: 1.5/' "$TMP/pipe.yaml" >"$TMP/share.yaml"
expect_error "a share outside [0, 1)" "pretrain.share must be in" tune --config "$TMP/base.yaml" \
  --space "$TMP/share.yaml" --time-limit 4 --out "$TMP/bad6"

sed 's/metric: val_acc/metric: test_acc/' "$TMP/space.yaml" >"$TMP/test.yaml"
expect_error "a metric of the test set" "reads the test set" tune --config "$TMP/base.yaml" --space "$TMP/test.yaml" \
  --time-limit 6 --out "$TMP/bad1"
sed 's/loguniform: \[0.003, 0.3\]/normal: [0, 1]/' "$TMP/space.yaml" >"$TMP/kind.yaml"
expect_error "an unknown kind of range" "unknown kind 'normal'" tune --config "$TMP/base.yaml" --space "$TMP/kind.yaml" \
  --time-limit 6 --out "$TMP/bad2"
expect_error "a search folder in use" "holds a search" tune --config "$TMP/base.yaml" --space "$TMP/space.yaml" \
  --time-limit 6 --out "$TMP/t"
expect_error "no time limit" "needs --time-limit" tune --config "$TMP/base.yaml" --space "$TMP/space.yaml" --out "$TMP/bad3"
echo "PASS: tune"
