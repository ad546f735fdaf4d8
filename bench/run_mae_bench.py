#!/usr/bin/python3
"""MAE pretraining speed, `selfsup pretrain` against the PyTorch step written as the MAE reference code does.

In one run, alternating, REPS times each (medians reported), the same steps of the same MAE
(configs/fashion_mnist/mae.yaml: 256 images a step, 12 of 49 patches seen):
  selfsup   `selfsup pretrain`, steps/s between step WARMUP and WARMUP + STEPS of its metrics.jsonl
  python    bench/python/mae_torch.py, stock (glibc malloc as it comes) and allocator fixed
Both include loading, augmentation (random resized crop, flip), masking, forward, backward and the
AdamW step. Ratios, not absolute rates, are the result: the machine is shared.

usage: /usr/bin/python3 bench/run_mae_bench.py [--build build] [--reps 2] [--steps 20] [--warmup 10]
       [--precision fp32] [--json out.json]
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from step_bench import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(__doc__.splitlines()[0], "pretrain", "configs/fashion_mnist/mae.yaml", "mae_torch.py", steps=20, warmup=10))
