#!/usr/bin/env bash
# The sentence-embedding table on the default corpus: the corpus and its tokenizer, one MLM run (the
# warm start of the others), then unsupervised SimCSE, supervised SimCSE and ConSERT over SEEDS, the
# ConSERT augmentation ablation at the first seed, and the baselines (TF-IDF, fastText, the untrained
# encoder) on the val and test sets. A finished run (its summary.json) is not run again.
# usage: SEEDS="0 1 2" MLM_SECONDS=600 SECONDS_EACH=180 bash scripts/text_table.sh runs/text
set -euo pipefail
OUT=${1:?usage: bash scripts/text_table.sh OUT}
SEEDS=${SEEDS:-"0 1 2"}
MLM_SECONDS=${MLM_SECONDS:-600}
SECONDS_EACH=${SECONDS_EACH:-180}
SELFSUP=${SELFSUP:-build/selfsup}
C=$OUT/corpus
DATA=(--set data.tokenizer=$C/tokenizer.model --set data.eval=$C)
mkdir -p "$OUT"
[ -f "$C/corpus.json" ] || "$SELFSUP" text corpus --out "$C" --seed 0 >/dev/null
[ -f "$C/tokenizer.model" ] || "$SELFSUP" text tokenizer --corpus "$C/train.txt" --out "$C/tokenizer.model" >/dev/null

# train NAME CONFIG SECONDS [extra flags...]
train() {
  local name=$1 config=$2 seconds=$3
  shift 3
  [ -f "$OUT/$name/summary.json" ] && return 0
  local start=$(date +%s)
  "$SELFSUP" text train --config "$config" --out "$OUT/$name" --time-limit "$seconds" --overwrite --quiet \
    "${DATA[@]}" "$@" >/dev/null
  echo "$name: $(( $(date +%s) - start )) s wall"
}

train mlm configs/text/mlm.yaml "$MLM_SECONDS" --set data.train=$C/train.txt
for seed in $SEEDS; do
  train simcse_s$seed configs/text/simcse.yaml "$SECONDS_EACH" --seed "$seed" --init "$OUT/mlm" --set data.train=$C/train.txt
  train simcse_sup_s$seed configs/text/simcse_sup.yaml "$SECONDS_EACH" --seed "$seed" --init "$OUT/mlm" \
    --set data.pairs=$C/pairs_train.tsv
done
# ConSERT: the shipped pair over the seeds, the other pairs at the first seed (the ablation).
first=${SEEDS%% *}
train consert_s$first configs/text/consert.yaml "$SECONDS_EACH" --seed "$first" --init "$OUT/mlm" --set data.train=$C/train.txt
for pair in none,none token_cutoff,feature_cutoff shuffle,token_cutoff; do
  train "consert_${pair/,/+}_s$first" configs/text/consert.yaml "$SECONDS_EACH" --seed "$first" --init "$OUT/mlm" \
    --set data.train=$C/train.txt --set "method.augment=[$pair]"
done
for split in val test; do
  [ -f "$OUT/baselines_$split.json" ] ||
    "$SELFSUP" text eval --baseline tfidf --baseline fasttext --baseline untrained --config configs/text/mlm.yaml \
      --corpus "$C" --split "$split" --out "$OUT/baselines_$split.json" --quiet >/dev/null
done
for seed in ${SEEDS#"$first"}; do
  train consert_s$seed configs/text/consert.yaml "$SECONDS_EACH" --seed "$seed" --init "$OUT/mlm" --set data.train=$C/train.txt
done
echo "done: $OUT"
