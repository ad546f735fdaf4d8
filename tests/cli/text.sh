#!/usr/bin/env bash
# selfsup text end to end: the default corpus from Debian's WordNet and fortunes; a tokenizer on a
# small corpus; mlm, then simcse from it (--init), simcse_sup from pairs and consert, each on a tiny
# encoder whose loss falls, scored on a cut-down evaluation folder; a killed simcse run resumes to
# the weights of an uninterrupted one; embed writes one row per sentence, similar finds a sentence
# itself first, eval scores runs beside the baselines; bad input fails with one error line each.
# Usage: bash text.sh <selfsup binary> <source dir> <build dir>
set -u
SELFSUP=$1
TMP=$(mktemp -d "${TMPDIR:-/tmp}/selfsup_text.XXXXXX")
PID=
cleanup() {
  [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
source "$(dirname "$0")/../support/cli.sh"
PY=/usr/bin/python3

# The default corpus: split by synset, every file written.
"$SELFSUP" text corpus --out "$TMP/corpus" --seed 0 >"$TMP/corpus.json" 2>"$TMP/err" || fail "text corpus: $(cat "$TMP/err")"
"$PY" - "$TMP" <<'PY' || fail "the default corpus"
import json, os, sys
t = sys.argv[1]
j = json.load(open(f"{t}/corpus.json"))
assert j["synsets"] > 80000 and j["fortunes"] > 10000 and j["supervised_pairs"] > 5000, j
for f in ["train.txt", "val.txt", "test.txt", "pairs_train.tsv", "sts_val.tsv", "sts_test.tsv", "retrieval_val.tsv",
          "retrieval_test.tsv", "glosses_val.txt", "glosses_test.txt", "fortunes_train.tsv", "fortunes_val.tsv",
          "fortunes_test.tsv", "corpus.json"]:
    assert os.path.getsize(f"{t}/corpus/{f}") > 0, f
train = set(open(f"{t}/corpus/train.txt").read().splitlines())
held = open(f"{t}/corpus/glosses_test.txt").read().splitlines()
# WordNet repeats a few definitions word for word ("a genus of bacteria"): 95 of 8,212 at seed 0.
assert sum(g in train for g in held) < 0.02 * len(held), "test glosses among the training sentences"
PY

# A small world for the rest: 600 training sentences, and an evaluation folder cut down from the
# default one (its first glosses, the gloss pairs and queries among them, a tenth of the fortunes).
"$PY" - "$TMP" <<'PY' || fail "writing the small corpus"
import os, sys
t = sys.argv[1]
c, s = f"{t}/corpus", f"{t}/small"
os.makedirs(s)
lines = open(f"{c}/train.txt").read().splitlines()
open(f"{s}/train.txt", "w").write("\n".join(lines[::140][:600]) + "\n")
pairs = open(f"{c}/pairs_train.tsv").read().splitlines()
open(f"{s}/pairs.tsv", "w").write("\n".join(pairs[:300]) + "\n")
for split in ["val", "test"]:
    glosses = open(f"{c}/glosses_{split}.txt").read().splitlines()[:300]
    keep = set(glosses)
    open(f"{s}/glosses_{split}.txt", "w").write("\n".join(glosses) + "\n")
    sts = [l for l in open(f"{c}/sts_{split}.tsv").read().splitlines() if l.split("\t")[0] in keep and l.split("\t")[1] in keep]
    open(f"{s}/sts_{split}.tsv", "w").write("\n".join(sts) + "\n")
    ret = [l for l in open(f"{c}/retrieval_{split}.tsv").read().splitlines() if int(l.split("\t")[1]) < 300]
    open(f"{s}/retrieval_{split}.tsv", "w").write("\n".join(ret) + "\n")
    assert len(sts) > 20 and len(ret) > 20, (split, len(sts), len(ret))
train = open(f"{c}/fortunes_train.tsv").read().splitlines()[::10]
cats = {l.split("\t")[0] for l in train}
open(f"{s}/fortunes_train.tsv", "w").write("\n".join(train) + "\n")
for split in ["val", "test"]:
    rows = [l for l in open(f"{c}/fortunes_{split}.tsv").read().splitlines()[::10] if l.split("\t")[0] in cats]
    open(f"{s}/fortunes_{split}.tsv", "w").write("\n".join(rows) + "\n")
PY
S=$TMP/small
"$SELFSUP" text tokenizer --corpus "$S/train.txt" --out "$S/tok.model" --vocab-size 400 >"$TMP/tok.json" 2>"$TMP/err" ||
  fail "text tokenizer: $(cat "$TMP/err")"
grep -q '"vocab_size": 400' "$TMP/tok.json" || fail "text tokenizer: $(cat "$TMP/tok.json")"

# The sentences (every method but simcse_sup, which reads data.pairs).
TR=(--set data.train=$S/train.txt)
cat >"$TMP/base.yaml" <<YAML
model: {dim: 32, depth: 1, heads: 2, max_length: 24}
data: {tokenizer: $S/tok.model, eval: $S}
train: {max_steps: 60, batch_size: 32, optimizer: adamw, lr: 3.0e-3, weight_decay: 0.0, log_every_steps: 5,
        checkpoint_every_steps: 10, threads: 1}
seed: 0
precision: fp32
YAML

# check_run DIR: the loss fell, the summary has both splits' figures, the run keeps its tokenizer.
check_run() {
  "$PY" - "$1" <<'PY'
import json, sys
d = sys.argv[1]
m = [json.loads(x) for x in open(f"{d}/metrics.jsonl") if '"loss"' in x]
first = sum(r["loss"] for r in m[:3]) / 3
last = sum(r["loss"] for r in m[-3:]) / 3
assert len(m) >= 10 and last < first, (first, last)
s = json.load(open(f"{d}/summary.json"))
assert s["steps"] == 60, s["steps"]
for split in ["val", "test"]:
    e = s[split]
    assert -1 <= e["sts_spearman"] <= 1 and 0 < e["retrieval_mrr"] <= 1 and 0 <= e["knn_acc"] <= 1, e
    assert e["probe_classes"] > 10, e
print(d.rsplit("/", 1)[1], "loss", round(first, 3), "->", round(last, 3), "test", {k: round(s["test"][k], 3) for k in
      ["sts_spearman", "retrieval_mrr", "knn_acc", "linear_acc"]})
PY
}
"$SELFSUP" text train --config "$TMP/base.yaml" "${TR[@]}" --set method.name=mlm --out "$TMP/mlm" --quiet >/dev/null 2>"$TMP/err" ||
  fail "mlm: $(cat "$TMP/err")"
check_run "$TMP/mlm" || fail "mlm: loss or summary"
[ -s "$TMP/mlm/tokenizer.model" ] || fail "the mlm run keeps no tokenizer.model"
"$SELFSUP" text train --config "$TMP/base.yaml" "${TR[@]}" --set method.name=simcse --init "$TMP/mlm" --out "$TMP/simcse" --quiet \
  >/dev/null 2>"$TMP/err" || fail "simcse: $(cat "$TMP/err")"
check_run "$TMP/simcse" || fail "simcse: loss or summary"
"$SELFSUP" text train --config "$TMP/base.yaml" --set method.name=simcse_sup \
  --set data.pairs=$S/pairs.tsv --out "$TMP/sup" --quiet >/dev/null 2>"$TMP/err" || fail "simcse_sup: $(cat "$TMP/err")"
check_run "$TMP/sup" || fail "simcse_sup: loss or summary"
"$SELFSUP" text train --config "$TMP/base.yaml" "${TR[@]}" --set method.name=consert --set 'method.augment=[token_cutoff, shuffle]' \
  --out "$TMP/consert" --quiet >/dev/null 2>"$TMP/err" || fail "consert: $(cat "$TMP/err")"
check_run "$TMP/consert" || fail "consert: loss or summary"

# Exact resume: simcse (dropout draws, the MLP) killed after its first checkpoint and resumed ends
# with the tensors of the uninterrupted run above.
"$SELFSUP" text train --config "$TMP/base.yaml" "${TR[@]}" --set method.name=simcse --init "$TMP/mlm" --out "$TMP/B" --quiet \
  --no-eval >/dev/null 2>"$TMP/B1.err" &
PID=$!
for _ in $(seq 1 3000); do
  [ -f "$TMP/B/last.ckpt" ] && break
  kill -0 "$PID" 2>/dev/null || break
  sleep 0.01
done
kill -9 "$PID" 2>/dev/null
wait "$PID" 2>/dev/null
PID=
[ -f "$TMP/B/last.ckpt" ] || fail "the simcse run wrote no checkpoint before it ended: $(cat "$TMP/B1.err")"
[ -f "$TMP/B/summary.json" ] && fail "the simcse run finished before it could be killed"
"$SELFSUP" text train --resume --out "$TMP/B" --quiet --no-eval >/dev/null 2>"$TMP/B2.err" ||
  fail "resuming simcse failed: $(cat "$TMP/B2.err")"
"$PY" "$(dirname "$0")/same_checkpoint_tensors.py" "$TMP/simcse/last.ckpt" "$TMP/B/last.ckpt" ||
  fail "the resumed simcse run ends with other tensors than the uninterrupted one"
echo "ok: simcse killed at $(sed -n 's/^resuming from .* at step \([0-9]*\) of .*/\1/p' "$TMP/B2.err") resumes exactly"

# Two processes train the same global batches.
"$SELFSUP" text train --config "$TMP/base.yaml" "${TR[@]}" --set method.name=simcse --set train.max_steps=10 --nproc 2 \
  --out "$TMP/nproc" --quiet --no-eval >/dev/null 2>"$TMP/err" || fail "simcse --nproc 2: $(cat "$TMP/err")"
grep -q '"processes": 2' "$TMP/nproc/summary.json" || fail "--nproc 2: $(cat "$TMP/nproc/summary.json")"

# embed: one float32 row per sentence; similar: a sentence of the index is its own nearest.
"$SELFSUP" text embed --checkpoint "$TMP/simcse" --in "$S/glosses_test.txt" --out "$TMP/emb.npy" >/dev/null 2>"$TMP/err" ||
  fail "embed: $(cat "$TMP/err")"
"$PY" -c "
import sys, numpy as np
e = np.load(sys.argv[1]); n = len(open(sys.argv[2]).read().splitlines())
assert e.shape == (n, 32) and e.dtype == np.float32 and np.isfinite(e).all(), (e.shape, e.dtype, n)" \
  "$TMP/emb.npy" "$S/glosses_test.txt" || fail "embed's rows"
Q=$(sed -n 7p "$S/glosses_test.txt")
"$SELFSUP" text similar --checkpoint "$TMP/simcse/last.ckpt" --index "$S/glosses_test.txt" --query "$Q" \
  --query "a round object that is thrown" -k 3 >"$TMP/sim.json" 2>"$TMP/err" || fail "similar: $(cat "$TMP/err")"
"$PY" - "$TMP/sim.json" <<'PY' || fail "similar's hits"
import json, sys
j = json.load(open(sys.argv[1]))
assert len(j) == 2 and all(len(q["hits"]) == 3 for q in j), j
top = j[0]["hits"][0]
assert top["sentence"] == j[0]["query"] and top["index"] == 6 and top["cosine"] > 0.999, top
assert j[0]["hits"][0]["cosine"] >= j[0]["hits"][1]["cosine"] >= j[0]["hits"][2]["cosine"]
PY

# eval: a run beside the three baselines on the same sets; the run's figures are its summary's.
"$SELFSUP" text eval --checkpoint "$TMP/simcse" --baseline tfidf --baseline fasttext --baseline untrained \
  --split val --out "$TMP/eval.json" --quiet >/dev/null 2>"$TMP/err" || fail "eval: $(cat "$TMP/err")"
"$PY" - "$TMP" <<'PY' || fail "eval's figures"
import json, sys
t = sys.argv[1]
j = json.load(open(f"{t}/eval.json"))
assert set(j["methods"]) == {"simcse", "tfidf", "fasttext", "untrained"}, j["methods"].keys()
s = json.load(open(f"{t}/simcse/summary.json"))["val"]
for k in ["sts_spearman", "retrieval_mrr", "knn_acc", "linear_acc"]:
    assert abs(j["methods"]["simcse"][k] - s[k]) < 1e-6, (k, j["methods"]["simcse"][k], s[k])
# Word overlap finds a query's own gloss far above chance (1 / 300).
assert j["methods"]["tfidf"]["retrieval_mrr"] > 0.05, j["methods"]["tfidf"]
PY

# Bad input: one error line each.
printf '\n  \n' >"$TMP/empty.txt"
printf 'fine\nab\xffcd\n' >"$TMP/bad_utf8.txt"
printf 'a cat\ta feline\ta dog\nthe sky\tthe heavens\n' >"$TMP/short.tsv"
expect_error "an empty corpus" "no sentence" text tokenizer --corpus "$TMP/empty.txt" --out "$TMP/x.model"
expect_error "invalid UTF-8" "line 2" text tokenizer --corpus "$TMP/bad_utf8.txt" --out "$TMP/x.model"
expect_error "a pairs file with a missing column" "line 2 has 2 columns" text train --config "$TMP/base.yaml" \
  --set method.name=simcse_sup --set data.pairs=$TMP/short.tsv --out "$TMP/bad1"
expect_error "pairs for an unsupervised method" "set data.train" text train --config "$TMP/base.yaml" \
  --set method.name=simcse --set data.pairs=$S/pairs.tsv --out "$TMP/bad2"
expect_error "a negative temperature" "method.temperature must be positive, got -0.05" text train --config "$TMP/base.yaml" "${TR[@]}" \
  --set method.name=simcse --set method.temperature=-0.05 --out "$TMP/bad3"
expect_error "an image method" "method 'simclr' is self-supervised" text train --config "$TMP/base.yaml" "${TR[@]}" \
  --set method.name=simclr --out "$TMP/bad4"
expect_error "a file that is not a tokenizer" "is not a SentencePiece model" text train --config "$TMP/base.yaml" "${TR[@]}" \
  --set method.name=simcse --set data.tokenizer=$S/train.txt --out "$TMP/bad5"
"$SELFSUP" text tokenizer --corpus "$S/train.txt" --out "$TMP/other.model" --vocab-size 300 >/dev/null 2>&1 ||
  fail "a second tokenizer"
expect_error "an init run with another tokenizer" "another tokenizer" text train --config "$TMP/base.yaml" "${TR[@]}" \
  --set method.name=simcse --set data.tokenizer=$TMP/other.model --init "$TMP/mlm" --out "$TMP/bad6"
expect_error "an evaluation folder without its files" "no sts_val.tsv" text eval --checkpoint "$TMP/simcse" \
  --corpus "$TMP" --split val
expect_error "the output folder of another run" "holds another run" text train --config "$TMP/base.yaml" "${TR[@]}" \
  --set method.name=simcse --out "$TMP/mlm"
echo "PASS: text"
