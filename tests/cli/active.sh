#!/usr/bin/env bash
# selfsup active end to end on a small subset: a simulated loop writes its curve (JSON and PNG),
# metrics and summary; the same loop answered by a person's files (one process per round, each
# resuming the last) queries exactly what the uninterrupted loop queried and ends with the same
# curve; a linear, a fine-tuned and a semi-supervised (FixMatch) model all run; `active compare` draws several runs; bad input
# fails with one error line.
# Usage: bash active.sh <selfsup binary> <source dir> <build dir>
set -u
SELFSUP=$1
SRC=$2
TMP=$(mktemp -d "${TMPDIR:-/tmp}/selfsup_active.XXXXXX")
source "$(dirname "$0")/../support/cli.sh"
trap 'rm -rf "$TMP"' EXIT
[ -x "$SELFSUP" ] || fail "selfsup binary '$SELFSUP' not found"

printf '%s\n' "method: {name: simclr}" "data: {name: fashion-mnist, limit: 600}" \
  "model: {backbone: convnet, channels: [8, 16]}" "train: {batch_size: 32, max_steps: 3, threads: 1}" "seed: 1" \
  >"$TMP/pre.yaml"
"$SELFSUP" pretrain --config "$TMP/pre.yaml" --out "$TMP/pre" --no-eval --quiet >/dev/null 2>"$TMP/err" ||
  fail "pretrain failed: $(tail -3 "$TMP/err")"

# One thread: the runs compared below must do their arithmetic in the same order.
printf '%s\n' "strategy: {name: badge}" "active: {initial_size: 10, batch: 10, budget: 40}" \
  "data: {name: fashion-mnist, limit: 600}" "train: {threads: 1}" "seed: 2" >"$TMP/badge.yaml"
"$SELFSUP" active --config "$TMP/badge.yaml" --init "$TMP/pre" --out "$TMP/sim" --quiet >"$TMP/sim.json" 2>"$TMP/err" ||
  fail "active failed: $(tail -3 "$TMP/err")"
python3 - "$TMP/sim" <<'EOF' || fail "the simulated loop's files"
import json, sys
d = sys.argv[1]
c = json.load(open(f"{d}/curve.json"))
assert c["strategy"] == "badge" and c["model"] == "linear" and c["split"] == "test", c
assert [r["labeled"] for r in c["rounds"]] == [10, 20, 30, 40], c["rounds"]
assert all(0 <= r["acc"] <= 1 for r in c["rounds"]), c["rounds"]
s = json.load(open(f"{d}/summary.json"))
assert s["labeled"] == 40 and s["rounds"] == 4 and s["final_acc"] == c["rounds"][-1]["acc"], s
m = [json.loads(l) for l in open(f"{d}/metrics.jsonl")]
assert [l["round"] for l in m] == [0, 1, 2, 3], m
st = json.load(open(f"{d}/active_state.json"))
assert len(st["labeled"]) == 40 and len(set(st["labeled"])) == 40 and st["pending"] == [], st
assert all(0 <= i < 600 for i in st["labeled"]), st["labeled"]
png = open(f"{d}/curve.png", "rb").read()
assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000, len(png)
page = open(f"{d}/report.html").read()
assert '"labeled":[10,20,30,40]' in page and '"strategy":"badge"' in page, "report.html lacks the loop's curve or summary"
assert "no last.ckpt" not in page, "report.html notes a checkpoint that an active loop never has"
EOF
echo "ok: a simulated loop: curve.json, curve.png, metrics, summary, report.html"

# A person answers: each process stops at a query; the answers come from the simulated run's labels.
"$SELFSUP" active --config "$TMP/badge.yaml" --init "$TMP/pre" --out "$TMP/files" --oracle files --quiet \
  >"$TMP/out.json" 2>"$TMP/err" || fail "active --oracle files failed: $(tail -3 "$TMP/err")"
for round in 000 001 002 003; do
  python3 - "$TMP/out.json" "$TMP/sim/active_state.json" "$TMP/files/labels_round_$round.csv" "$round" <<'EOF' || fail "round $round"
import json, sys
out = json.load(open(sys.argv[1]))
assert out["waiting_for"] == sys.argv[3], out
st = json.load(open(sys.argv[2]))
truth = dict(zip(st["labeled"], st["labels"]))
q = [int(l) for l in open(out["query"]).read().split()[1:]]
assert len(q) == 10, q
missing = [i for i in q if i not in truth]
assert not missing, f"queried {missing}, which the uninterrupted loop did not"
with open(sys.argv[3], "w") as f:
    f.write("index,label\n" + "".join(f"{i},{truth[i]}\n" for i in reversed(q)))
EOF
  "$SELFSUP" active --out "$TMP/files" --resume --quiet >"$TMP/out.json" 2>"$TMP/err" ||
    fail "resume after round $round failed: $(tail -3 "$TMP/err")"
done
python3 - "$TMP/sim" "$TMP/files" <<'EOF' || fail "the loop answered by files differs from the simulated one"
import json, sys
a, b = (json.load(open(f"{d}/active_state.json")) for d in sys.argv[1:])
assert a["labeled"] == b["labeled"] and a["labels"] == b["labels"], (a["labeled"], b["labeled"])
ca, cb = (json.load(open(f"{d}/curve.json")) for d in sys.argv[1:])
assert [r["acc"] for r in ca["rounds"]] == [r["acc"] for r in cb["rounds"]], (ca, cb)
EOF
echo "ok: a loop answered by files, one process per round, queries and scores what the simulated one does"

expect_error "resuming a finished loop" "has finished" active --out "$TMP/sim" --resume --quiet
"$SELFSUP" active --config "$TMP/badge.yaml" --init "$TMP/pre" --out "$TMP/bad" --oracle files --quiet >/dev/null 2>&1
q=$(sed -n 2p "$TMP/bad/query_round_000.csv")
printf 'index,label\n599999,3\n' >"$TMP/bad/labels_round_000.csv"
expect_error "a labels file with an index not queried" "index 599999 is not one of the images" active --out "$TMP/bad" --resume --quiet
printf 'index,label\n%s,10\n' "$q" >"$TMP/bad/labels_round_000.csv"
expect_error "a label outside the classes" "label 10 is outside the classes 0..9" active --out "$TMP/bad" --resume --quiet
printf 'index,label\n%s,Sneaker\n' "$q" >"$TMP/bad/labels_round_000.csv"
expect_error "a labels file missing queried images" "gives no label for 9 of the 10 queried images" active --out "$TMP/bad" --resume --quiet

for s in random margin typiclust; do
  "$SELFSUP" active --config "$TMP/badge.yaml" --init "$TMP/pre" --out "$TMP/$s" --set strategy.name=$s \
    --set active.initial=random --quiet >/dev/null 2>"$TMP/err" || fail "$s failed: $(tail -3 "$TMP/err")"
done
"$SELFSUP" active --config "$TMP/badge.yaml" --init "$TMP/pre" --out "$TMP/ft" --set active.model=finetune \
  --set active.finetune.steps=3 --set active.budget=20 --quiet >/dev/null 2>"$TMP/err" ||
  fail "the fine-tuned model failed: $(tail -3 "$TMP/err")"
"$SELFSUP" active --config "$TMP/badge.yaml" --init "$TMP/pre" --out "$TMP/semi" --set active.model=semi \
  --set active.semi.config="$SRC/configs/fashion_mnist/semi/fixmatch.yaml" --set active.semi.steps=2 \
  --set active.budget=20 --quiet >/dev/null 2>"$TMP/err" || fail "the semi-supervised model failed: $(tail -3 "$TMP/err")"
"$SELFSUP" active compare "$TMP/sim" "$TMP/files" "$TMP/random" "$TMP/margin" "$TMP/typiclust" "$TMP/ft" "$TMP/semi" \
  --out "$TMP/compare.png" >"$TMP/compare.txt" 2>"$TMP/err" || fail "active compare failed: $(cat "$TMP/err")"
grep -q "^badge  *2 " "$TMP/compare.txt" || fail "compare did not group the two badge runs: $(cat "$TMP/compare.txt")"
grep -q "^badge (finetune)" "$TMP/compare.txt" || fail "compare did not name the fine-tuned run: $(cat "$TMP/compare.txt")"
grep -q "^badge (semi)" "$TMP/compare.txt" || fail "compare did not name the semi-supervised run: $(cat "$TMP/compare.txt")"
head -c 8 "$TMP/compare.png" | od -c | grep -q "P   N   G" || fail "compare wrote no PNG"
echo "ok: random, margin, typiclust, a fine-tuned and a semi-supervised model, and active compare"

expect_error "a budget below the initial set" "active.budget (5) is below the initial set" active --config "$TMP/badge.yaml" \
  --init "$TMP/pre" --out "$TMP/e1" --set active.budget=5 --quiet
expect_error "a batch larger than the pool" "is larger than the pool" active --config "$TMP/badge.yaml" \
  --init "$TMP/pre" --out "$TMP/e2" --set active.batch=595 --quiet
expect_error "an unknown strategy" "unknown strategy 'marginal'" active --config "$TMP/badge.yaml" \
  --init "$TMP/pre" --out "$TMP/e3" --set strategy.name=marginal --quiet
expect_error "a key the strategy does not declare" "strategy.passes" active --config "$TMP/badge.yaml" \
  --init "$TMP/pre" --out "$TMP/e4" --set strategy.passes=3 --quiet
expect_error "a model-based first set" "cannot choose the first labeled set" active --config "$TMP/badge.yaml" \
  --init "$TMP/pre" --out "$TMP/e5" --set active.initial=margin --quiet
expect_error "no encoder" "active needs --init" active --config "$TMP/badge.yaml" --out "$TMP/e6" --quiet
expect_error "a folder holding another run" "holds another run" active --config "$TMP/badge.yaml" \
  --init "$TMP/pre" --out "$TMP/sim" --quiet
expect_error "compare of a folder without a curve" "has no learning curve" active compare "$TMP/pre" --out "$TMP/c.png"
echo "PASS"
