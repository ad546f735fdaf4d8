#!/usr/bin/env bash
# regularize + prune end to end on a small subset: a supervised ConvNet with filter group lasso
# (per-layer thresholds by layer pattern) writes sparsity.json with zero filters; prune thins it
# (fewer filters and MACs, the same logits), fine-tunes it, and eval loads the thinned checkpoint;
# bad regularize items fail with one error line each.
# Usage: bash sparse.sh <selfsup binary> <source dir> <build dir>
set -u
SELFSUP=$1
TMP=$(mktemp -d "${TMPDIR:-/tmp}/selfsup_sparse.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
source "$(dirname "$0")/../support/cli.sh"

# Each filter's group holds its batch norm's weight (1 at the start) and bias: the thresholds sit
# near the median of each layer's group norms at initialisation, so some filters go and some stay.
cat >"$TMP/gl.yaml" <<YAML
method: {name: supervised}
data: {name: fashion-mnist, limit: 1200, labels_per_class: 50, val_per_class: 10}
model: {backbone: convnet, channels: [8, 16, 32]}
train: {batch_size: 32, max_steps: 4, lr: 0.03, momentum: 0.9, threads: 1}
regularize:
  - {type: group_lasso, group: filters, strength: 1.0e-3, layers: student.backbone.features.0, threshold: 1.118}
  - {type: group_lasso, group: filters, strength: 1.0e-3, layers: '*.features.4', threshold: 1.414}
  - {type: group_lasso, group: filters, strength: 1.0e-3, layers: '*.features.8', threshold: 1.414}
seed: 1
report: {map: pca}  # t-SNE costs seconds a run; tests/cli/report.sh checks the t-SNE map
YAML
"$SELFSUP" semi --config "$TMP/gl.yaml" --out "$TMP/gl" --quiet >"$TMP/gl.out" 2>"$TMP/gl.err" ||
  fail "semi with regularize failed: $(tail -3 "$TMP/gl.err")"
grep -q "sparsity per layer" "$TMP/gl.err" || fail "no sparsity table printed"
python3 - "$TMP/gl" <<'PY' || fail "sparsity report"
import json, sys
d = sys.argv[1]
r = json.load(open(f"{d}/sparsity.json"))
s = json.load(open(f"{d}/summary.json"))
names = [l["name"] for l in r["layers"]]
assert names[:3] == ["student.backbone.features.0", "student.backbone.features.4", "student.backbone.features.8"], names
for l in r["layers"][:3]:
    assert 0 < l["zero_filters"] < l["filters"], l
    assert l["macs_after"] <= l["macs_nonzero"] < l["macs"], l
assert s["sparsity"]["zero_filters"] == r["total"]["zero_filters"] > 0, s["sparsity"]
m = [json.loads(x) for x in open(f"{d}/metrics.jsonl")]
assert m and all(x["reg_penalty"] > 0 for x in m), m
PY
echo "ok: group lasso zeroes filters and writes the sparsity report"

"$SELFSUP" prune --checkpoint "$TMP/gl" --out "$TMP/pruned" --quiet --set train.max_steps=2 --set 'regularize=[]' \
  >"$TMP/pr.out" 2>"$TMP/pr.err" || fail "prune failed: $(tail -3 "$TMP/pr.err")"
python3 - "$TMP/pruned/summary.json" <<'PY' || fail "prune summary"
import json, sys
p = json.load(open(sys.argv[1]))["prune"]
assert p["filters_after"] < p["filters_before"] and p["macs_after"] < p["macs_before"], p
assert p["params_after"] < p["params_before"], p
assert p["max_logit_change"] < 1e-3, p
assert p["infer_ms_before"] > 0 and p["infer_ms_after"] > 0, p
PY
grep -q "channels:" "$TMP/pruned/config.yaml" || fail "the thinned config names no widths"
"$SELFSUP" eval --checkpoint "$TMP/pruned" --protocol knn --threads 1 >"$TMP/ev.out" 2>"$TMP/ev.err" ||
  fail "eval of the thinned checkpoint failed: $(tail -3 "$TMP/ev.err")"
echo "ok: prune thins, keeps the logits, fine-tunes, and its checkpoint evaluates"

bad() {  # expected message, --set value
  expect_error "regularize item $2" "$1" semi --config "$TMP/gl.yaml" --out "$TMP/bad" --overwrite --quiet --no-eval --set "$2"
}
bad "unknown group 'filter'" 'regularize=[{type: group_lasso, group: filter, strength: 1}]'
bad "regularize[0].strength must be a finite number >= 0, got -1" 'regularize=[{type: l1, strength: -1}]'
bad "matches no layer" 'regularize=[{type: l2, strength: 1, layers: encoder.*}]'
bad "unknown key 'strenght'" 'regularize=[{type: l1, strenght: 1}]'
expect_error "prune without a source" "prune needs --checkpoint" prune --out "$TMP/p2"
expect_error "prune with a negative time limit" "must be a number >= 0" prune --checkpoint "$TMP/gl" --out "$TMP/p2" --time-limit -1
echo "ok: bad regularize items are one error line each"
echo "PASS"
