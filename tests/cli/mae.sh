#!/usr/bin/env bash
# MAE end to end on a small subset: pretrain writes reconstructions.png (8 test images in 4 rows)
# beside its checkpoint and is scored by kNN on its class token and, with --set model.pool=mean,
# on its mean patch token; `eval --reconstruct` draws the same picture from the checkpoint; a ViT
# classifier fine-tunes from it with layer-wise learning-rate decay; bad settings fail with one
# error line each.
# Usage: bash mae.sh <selfsup binary> <source dir> <build dir>
set -u
SELFSUP=$1
TMP=$(mktemp -d "${TMPDIR:-/tmp}/selfsup_mae.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
source "$(dirname "$0")/../support/cli.sh"
[ -x "$SELFSUP" ] || fail "selfsup binary '$SELFSUP' not found"

cat >"$TMP/mae.yaml" <<EOF
method: {name: mae, decoder_dim: 32, decoder_depth: 1, decoder_heads: 2, picture_every_epochs: 1}
data: {name: fashion-mnist, limit: 256}
model: {backbone: vit_mini, dim: 32, depth: 2, heads: 2}
augment: {pipeline: [{op: random_resized_crop, size: 28, scale: [0.2, 1.0]}, {op: hflip, p: 0.5}]}
train: {batch_size: 32, max_steps: 10, optimizer: adamw, lr: 0.002, betas: [0.9, 0.95], weight_decay: 0.05, threads: 1}
eval: {protocols: [knn], knn_k: 20}
seed: 2
report: {map: pca}  # t-SNE costs seconds a run; tests/cli/report.sh checks the t-SNE map
EOF

# PNG size: 8 columns and 4 rows of 28 px images enlarged 4 times, 2 px borders.
png_size() {
  python3 - "$1" <<'EOF'
import struct, sys
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
w, h = struct.unpack(">II", data[16:24])
assert (w, h) == (2 + 8 * 114, 2 + 4 * 114), (w, h)
EOF
}

"$SELFSUP" pretrain --config "$TMP/mae.yaml" --out "$TMP/mae" --quiet >"$TMP/mae.json" 2>"$TMP/mae.err" ||
  fail "mae pretrain failed: $(tail -3 "$TMP/mae.err")"
[ -f "$TMP/mae/reconstructions.png" ] || fail "no reconstructions.png in the run folder: $(ls "$TMP/mae")"
png_size "$TMP/mae/reconstructions.png" || fail "reconstructions.png is not the expected picture"
python3 -c 'import json,sys; s = json.load(open(sys.argv[1])); assert s["steps"] == 10 and 0.1 < s["knn_acc"] <= 1, s' \
  "$TMP/mae/summary.json" || fail "summary: $(cat "$TMP/mae/summary.json")"
echo "ok: pretrain writes the picture and is scored"

"$SELFSUP" eval --checkpoint "$TMP/mae" --reconstruct "$TMP/again.png" --threads 1 >"$TMP/rec.json" 2>"$TMP/rec.err" ||
  fail "eval --reconstruct failed: $(cat "$TMP/rec.err")"
cmp -s "$TMP/again.png" "$TMP/mae/reconstructions.png" ||
  fail "eval --reconstruct drew another picture than the run's last one"
"$SELFSUP" eval --checkpoint "$TMP/mae" --protocol knn --set model.pool=mean --summary "$TMP/mean.json" >/dev/null \
  2>"$TMP/mean.err" || fail "eval with model.pool=mean failed: $(cat "$TMP/mean.err")"
python3 - "$TMP/mae/summary.json" "$TMP/mean.json" <<'EOF' || fail "the mean-pooled features scored the same as the class token"
import json, sys
cls, mean = (json.load(open(p)) for p in sys.argv[1:])
assert mean["set"] == ["model.pool=mean"], mean
assert mean["knn_acc"] != cls["knn_acc"], (mean["knn_acc"], cls["knn_acc"])
EOF
echo "ok: eval draws the same picture and scores the mean patch token"

cat >"$TMP/ft.yaml" <<EOF
method: {name: supervised}
data: {name: fashion-mnist, limit: 600, labels_per_class: 5, val_per_class: 5}
model: {backbone: vit_mini, dim: 32, depth: 2, heads: 2, pool: mean}
train: {batch_size: 16, max_steps: 4, optimizer: adamw, lr: 0.001, layer_decay: 0.65, threads: 1}
seed: 2
report: {map: pca}  # t-SNE costs seconds a run; tests/cli/report.sh checks the t-SNE map
EOF
"$SELFSUP" semi --config "$TMP/ft.yaml" --init "$TMP/mae" --out "$TMP/ft" --quiet >/dev/null 2>"$TMP/ft.err" ||
  fail "fine-tuning from the MAE run failed: $(tail -3 "$TMP/ft.err")"
echo "ok: a ViT classifier fine-tunes from the MAE run with layer-wise decay"

sed 's/^model: .*/model: {backbone: convnet, channels: [8, 16, 32]}/' "$TMP/mae.yaml" >"$TMP/mae_convnet.yaml"
sed 's/^model: .*/model: {backbone: convnet, channels: [8, 16, 32]}/' "$TMP/ft.yaml" >"$TMP/ft_convnet.yaml"
run=(pretrain --config "$TMP/mae.yaml" --out "$TMP/bad" --overwrite --quiet --no-eval)
expect_error "a convnet encoder" "mae needs a ViT encoder: model.backbone must be vit or vit_mini, got convnet" \
  pretrain --config "$TMP/mae_convnet.yaml" --out "$TMP/bad" --quiet --no-eval
expect_error "a patch size that does not divide the image" "not divisible by patch_size 5" "${run[@]}" --set model.patch_size=5
expect_error "a mask ratio of 1" "method.mask_ratio must be in (0, 1), got 1" "${run[@]}" --set method.mask_ratio=1
expect_error "a decoder wider than the encoder" "method.decoder_dim must be at most the encoder's width (model.dim = 32), got 64" \
  "${run[@]}" --set method.decoder_dim=64
expect_error "layer decay on a convnet" "train.layer_decay applies to a ViT encoder" \
  semi --config "$TMP/ft_convnet.yaml" --out "$TMP/bad_ft" --quiet --no-eval
expect_error "layer decay above 1" "train.layer_decay must be in (0, 1], got 1.5" \
  semi --config "$TMP/ft.yaml" --out "$TMP/bad_ft" --overwrite --quiet --no-eval --set train.layer_decay=1.5
expect_error "--reconstruct on a supervised run" "does not reconstruct images" eval --checkpoint "$TMP/ft" --reconstruct "$TMP/x.png"
echo "PASS"
