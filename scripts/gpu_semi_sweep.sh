#!/usr/bin/env bash
# FixMatch candidates side by side on a borrowed GPU, scored on the validation split only (the
# test figures are dropped from what comes back). Each candidate asks for the 6300 steps FixMatch
# gets in 1800 s on the 2-core CPU; sharing one H200 eleven ways, LIMIT=360 s gave ~2,400 each
# (docs/semi.md has the table; a second round of four ran with LIMIT=190).
# Run from the repository root, with the Debian headers and data carried in .devdeps/ as for
# scripts/cuda_check.sh, and a SimCLR checkpoint in runs/simclr_1800/ for the --init candidates:
#   bash scripts/gpu_semi_sweep.sh   (writes $OUT/sweep.json, $OUT/build.log, $OUT/metrics.tgz)
set -u
ROOT=$PWD
T0=$(date +%s)
TP=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
D=$ROOT/.devdeps
cmake -S . -B build-cuda -G Ninja -DCMAKE_BUILD_TYPE=Release -DSELFSUP_BUILD_BENCH=OFF -DSELFSUP_BUILD_TESTS=OFF \
  "-DCMAKE_PREFIX_PATH=$TP;$D/root/usr" "-DCMAKE_CXX_FLAGS=-isystem $D/gloo/usr/include -isystem $D/root/usr/include" \
  -DZLIB_LIBRARY=$(ls /lib/x86_64-linux-gnu/libz.so* /usr/lib/x86_64-linux-gnu/libz.so* 2>/dev/null | head -1) -DZLIB_INCLUDE_DIR=$D/root/usr/include > $OUT/build.log 2>&1
ninja -C build-cuda selfsup_cli >> $OUT/build.log 2>&1 || { tail -40 $OUT/build.log; exit 1; }
echo "built in $(( $(date +%s) - T0 )) s"
S=$ROOT/build-cuda/selfsup
C=$ROOT/configs/fashion_mnist/semi
W=/tmp/sweep; mkdir -p $W
LIMIT=${LIMIT:-360}
go() {  # name, config, args...
  local name=$1 cfg=$2; shift 2
  timeout $((LIMIT + 60)) $S semi --config $C/$cfg.yaml --out $W/$name --time-limit $LIMIT \
    --set device=cuda --set data.root=$D/fashion-mnist --set train.threads=1 --set train.max_steps=${STEPS:-6300} "$@" \
    > $W/$name.log 2>&1 &
}
INIT="--init $ROOT/runs/simclr_1800/last.ckpt"
go base fixmatch
go flex flexmatch
go thr98 fixmatch --set method.threshold=0.98
go wd1e3 fixmatch --set train.weight_decay=1.0e-3
go lr01 fixmatch --set train.lr=0.01
go accepted fixmatch --set method.masked_mean=accepted
go uda uda
go base_init fixmatch $INIT
go flex_init flexmatch $INIT
go thr98_init fixmatch $INIT --set method.threshold=0.98
STEPS=20000 go base_20k fixmatch
sleep 30; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv > $OUT/smi.txt
for f in $W/*.log; do echo "== $f"; tail -n 2 $f; done >> $OUT/smi.txt
wait
python3 - "$W" > $OUT/sweep.json <<'PY'
import json, os, sys
w = sys.argv[1]; out = {}
for n in sorted(os.listdir(w)):
    p = os.path.join(w, n, "summary.json")
    if os.path.exists(p):
        s = json.load(open(p)); out[n] = {k: s[k] for k in s if not isinstance(s[k], (dict, list)) and not k.startswith("test")}
    else:
        out[n] = {"error": open(os.path.join(w, n + ".log")).read()[-600:] if os.path.exists(os.path.join(w, n + ".log")) else "no log"}
print(json.dumps(out, indent=1))
PY
python3 -c "
import json; d=json.load(open('$OUT/sweep.json'))
for n,s in d.items(): print(n, s.get('steps'), s.get('val_acc'), s.get('val_acc_ema'), s.get('unlabeled_pseudo_label_acc'), s.get('error','')[-200:])"
tar czf $OUT/metrics.tgz -C $W $(cd $W && ls -d */metrics.jsonl) 2>/dev/null
echo "total $(( $(date +%s) - T0 )) s"
