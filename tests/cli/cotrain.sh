#!/usr/bin/env bash
# selfsup cotrain end to end on two synthetic feature views written as NumPy files (the files
# `selfsup embed` writes): the summary's rounds, the round chosen by validation accuracy, the
# labels added and their accuracy, the picture; bad input fails with one error line each.
# Usage: bash cotrain.sh <selfsup binary> <source dir> <build dir>
set -u
SELFSUP=$1
TMP=$(mktemp -d "${TMPDIR:-/tmp}/selfsup_cotrain.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
source "$(dirname "$0")/../support/cli.sh"

# Two views of 3,000 training and 1,000 test images of 5 classes: class means plus independent
# noise per view; a third folder lists the training images in another order.
/usr/bin/python3 - "$TMP" <<'PY' || fail "writing the views"
import os, sys
import numpy as np
t = sys.argv[1]
rng = np.random.default_rng(0)
mu = [rng.normal(size=(5, 40)), rng.normal(size=(5, 60))]
for split, n in [("train", 3000), ("test", 1000)]:
    y = np.arange(n) % 5
    for v in (0, 1):
        d = f"{t}/{split}{v + 1}"
        os.makedirs(d)
        np.save(f"{d}/features.npy", (mu[v][y] + 2.5 * rng.normal(size=(n, mu[v].shape[1]))).astype(np.float32))
        np.save(f"{d}/labels.npy", y.astype(np.int64))
os.makedirs(f"{t}/shuffled")
np.save(f"{t}/shuffled/features.npy", np.load(f"{t}/train2/features.npy")[::-1].copy())
np.save(f"{t}/shuffled/labels.npy", np.load(f"{t}/train2/labels.npy")[::-1].copy())
os.makedirs(f"{t}/flat")
np.save(f"{t}/flat/features.npy", np.zeros(3000, np.float32))
np.save(f"{t}/flat/labels.npy", np.zeros(3000, np.int64))
PY
views=(--train1 "$TMP/train1" --train2 "$TMP/train2" --test1 "$TMP/test1" --test2 "$TMP/test2")
"$SELFSUP" cotrain "${views[@]}" --labels-per-class 3 --val-per-class 20 --rounds 6 --per-class 8 --out "$TMP/c" \
  >"$TMP/c.out" 2>"$TMP/c.err" || fail "cotrain failed: $(tail -3 "$TMP/c.err")"
/usr/bin/python3 - "$TMP/c" <<'PY' || fail "the summary"
import json, sys
s = json.load(open(f"{sys.argv[1]}/cotrain.json"))
r = s["rounds"]
assert (s["labeled"], s["validation"], s["test"]) == (15, 100, 1000), s
assert [x["round"] for x in r] == list(range(7)), r
assert [x["labeled"] for x in r] == [15 + sum(y["added"] for y in r[:i]) for i in range(7)], r
assert all(8 * 5 <= x["added"] <= 2 * 8 * 5 for x in r[:-1]) and r[-1]["added"] == 0, r
best = max(range(7), key=lambda i: (r[i]["val_acc"], -i))
assert s["chosen_round"] == best and s["test_acc"] == r[best]["test_acc"], (s["chosen_round"], best)
right = sum(x["added_correct"] for x in r) / sum(x["added"] for x in r)
assert right > 0.8, right
assert r[-1]["test_acc"] > r[0]["test_acc"], (r[0]["test_acc"], r[-1]["test_acc"])
print("ok: round 0", r[0]["test_acc"], "last", r[-1]["test_acc"], "added right", round(right, 3))
PY
[ -s "$TMP/c/cotrain.png" ] || fail "no cotrain.png"
[ "$(grep -c '^round ' "$TMP/c.err")" -eq 7 ] || fail "expected a line per round: $(cat "$TMP/c.err")"

expect_error "an output folder in use" "holds a co-training run" cotrain "${views[@]}" --out "$TMP/c"
expect_error "views of differently ordered images" "label their rows differently" cotrain --train1 "$TMP/train1" \
  --train2 "$TMP/shuffled" --test1 "$TMP/test1" --test2 "$TMP/test2" --out "$TMP/e1"
expect_error "views of different sets" "the two views must be of the same images" cotrain --train1 "$TMP/train1" \
  --train2 "$TMP/test2" --test1 "$TMP/test1" --test2 "$TMP/test2" --out "$TMP/e2"
expect_error "features that are not a matrix" "must hold float features [N, D]" cotrain --train1 "$TMP/flat" \
  --train2 "$TMP/train2" --test1 "$TMP/test1" --test2 "$TMP/test2" --out "$TMP/e3"
expect_error "a missing folder" "cannot read --test2's features" cotrain --train1 "$TMP/train1" \
  --train2 "$TMP/train2" --test1 "$TMP/test1" --test2 "$TMP/nope" --out "$TMP/e4"
expect_error "test views of another width" "one width" cotrain --train1 "$TMP/train1" --train2 "$TMP/train2" \
  --test1 "$TMP/test2" --test2 "$TMP/test1" --out "$TMP/e5"
head -c 100 "$TMP/train1/features.npy" >"$TMP/cut.npy" && mkdir "$TMP/cut" && mv "$TMP/cut.npy" "$TMP/cut/features.npy" &&
  cp "$TMP/train1/labels.npy" "$TMP/cut/"
expect_error "a truncated features file" "features.npy" cotrain --train1 "$TMP/cut" --train2 "$TMP/train2" \
  --test1 "$TMP/test1" --test2 "$TMP/test2" --out "$TMP/e6"
echo "PASS: cotrain"
