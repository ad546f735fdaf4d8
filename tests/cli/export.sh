#!/usr/bin/env bash
# Weights and features out to PyTorch and weights back in: `selfsup export` writes a ConvNet's and
# a ViT's encoder as torch.save and safetensors files that python/selfsup_nets.py loads strictly
# into the PyTorch twin, which then gives the features `selfsup embed` wrote (NumPy files) for
# the 10,000 test images; a torchvision ResNet-18's state dict saved in Python starts `selfsup
# semi --init`; wrong and damaged files fail with one error line each.
# Usage: bash export.sh <selfsup binary> <source dir> <build dir>
set -u
SELFSUP=$1
SRC=$2
TMP=$(mktemp -d "${TMPDIR:-/tmp}/selfsup_export.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
source "$(dirname "$0")/../support/cli.sh"
[ -x "$SELFSUP" ] || fail "selfsup binary '$SELFSUP' not found"
PY=/usr/bin/python3  # Debian's, with python3-torch, python3-torchvision and python3-numpy (scripts/setup.sh)
"$PY" -c 'import torch, torchvision, numpy' 2>/dev/null ||
  fail "$PY lacks torch, torchvision or numpy (scripts/setup.sh installs them)"
CHECK="$SRC/tests/cli/export_check.py"
DATA=/usr/share/datasets/fashion-mnist

for net in convnet vit; do
  model="{backbone: convnet, channels: [16, 32]}"
  [ "$net" = vit ] && model="{backbone: vit_mini, dim: 32, depth: 2, heads: 2, pool: mean}"
  printf '%s\n' "method: {name: simclr}" "data: {name: fashion-mnist, limit: 256}" "model: $model" \
    "train: {batch_size: 32, max_steps: 3, threads: 2}" "seed: 1" >"$TMP/$net.yaml"
  "$SELFSUP" pretrain --config "$TMP/$net.yaml" --out "$TMP/$net" --no-eval --quiet >/dev/null 2>"$TMP/err" ||
    fail "$net pretrain failed: $(tail -3 "$TMP/err")"
  "$SELFSUP" embed --checkpoint "$TMP/$net" --out "$TMP/${net}_embed" --threads 2 >/dev/null 2>"$TMP/err" ||
    fail "$net embed failed: $(cat "$TMP/err")"
  for file in encoder.pt encoder.safetensors; do
    "$SELFSUP" export --checkpoint "$TMP/$net" --out "$TMP/$net-$file" >"$TMP/$net-$file.json" 2>"$TMP/err" ||
      fail "$net export to $file failed: $(cat "$TMP/err")"
    # The first 2,000 test images: PyTorch on one thread took ten seconds for all 10,000 of ViT's.
    "$PY" "$CHECK" same "$TMP/$net-$file.json" "$TMP/$net-$file" "$TMP/${net}_embed" "$DATA" 2000 ||
      fail "$net: the PyTorch twin loaded from $file does not give selfsup's features"
  done
  echo "ok: $net exported (torch, safetensors) gives the same features in PyTorch"
done

# Back in: torch.save(model.state_dict()) of a torchvision ResNet-18 (one input channel, its own stem)
# starts a semi run, fc.* left out.
printf '%s\n' "method: {name: supervised}" \
  "data: {name: fashion-mnist, limit: 300, labels_per_class: 2, val_per_class: 2}" \
  "model: {backbone: resnet18, cifar_stem: false}" "train: {batch_size: 8, max_steps: 1, lr: 1.0e-6, threads: 2}" \
  >"$TMP/semi.yaml"
"$PY" "$CHECK" torchvision "$TMP/resnet18.pt" 1 >/dev/null || fail "could not write the torchvision state dict"
"$SELFSUP" semi --config "$TMP/semi.yaml" --init "$TMP/resnet18.pt" --out "$TMP/semi" --no-eval --quiet >/dev/null \
  2>"$TMP/err" || fail "semi --init from a torchvision state dict failed: $(cat "$TMP/err")"
"$SELFSUP" export --checkpoint "$TMP/semi" --out "$TMP/back.safetensors" >/dev/null 2>"$TMP/err" ||
  fail "export of the semi run failed: $(cat "$TMP/err")"
"$PY" - "$TMP/resnet18.pt" "$TMP/back.safetensors" "$SRC/python" <<'PYEOF' || fail "the torchvision weights did not arrive"
import sys
import torch
sys.path.insert(0, sys.argv[3])
import selfsup_nets
start = torch.load(sys.argv[1])
back, _ = selfsup_nets.read_safetensors(sys.argv[2])
assert set(back) == set(start) - {"fc.weight", "fc.bias"}, sorted(set(start) ^ set(back))
# One step at a learning rate of 1e-6 left the weights where the file started them.
for name in ("conv1.weight", "layer4.1.conv2.weight"):
    d = (back[name] - start[name]).abs().max().item()
    assert d < 1e-4, (name, d)
PYEOF
echo "ok: a torchvision ResNet-18 state dict starts semi --init"

# Wrong and damaged files.
"$PY" -c 'import sys, torch; s = torch.load(sys.argv[1]); del s["layer2.0.bn1.running_var"]; torch.save(s, sys.argv[2])' \
  "$TMP/resnet18.pt" "$TMP/partial.pt"
expect_error "a state dict missing a tensor" "no tensor 'layer2.0.bn1.running_var'" \
  semi --config "$TMP/semi.yaml" --init "$TMP/partial.pt" --out "$TMP/e1" --no-eval --quiet
expect_error "a state dict of another network" "has shape" \
  semi --config "$TMP/semi.yaml" --set model.cifar_stem=true --init "$TMP/resnet18.pt" --out "$TMP/e2" --no-eval --quiet
head -c 3000 "$TMP/convnet-encoder.safetensors" >"$TMP/cut.safetensors"
expect_error "a truncated safetensors file" "truncated" \
  semi --config "$TMP/semi.yaml" --init "$TMP/cut.safetensors" --out "$TMP/e3" --no-eval --quiet
"$PY" -c 'import sys, torch; torch.save({"model": torch.load(sys.argv[1]), "epoch": 3}, sys.argv[2])' \
  "$TMP/resnet18.pt" "$TMP/checkpoint.pt"
expect_error "a training checkpoint holding a state dict" "entry 'model' is a dict" \
  semi --config "$TMP/semi.yaml" --init "$TMP/checkpoint.pt" --out "$TMP/e4" --no-eval --quiet
expect_error "export to an unknown format" "--format" export --checkpoint "$TMP/convnet" --out "$TMP/x" --format onnx
expect_error "embed of an unknown split" "--split" embed --checkpoint "$TMP/convnet" --out "$TMP/x" --split dev
echo "PASS"
