#!/usr/bin/python3
"""FixMatch training speed, `selfsup semi` against the PyTorch + torchvision step written as USB does.

In one run, alternating, REPS times each (medians reported), the same steps of the same FixMatch
(configs/fashion_mnist/semi/fixmatch.yaml: 64 labeled + 2 x 448 unlabeled images a step):
  selfsup   `selfsup semi`, steps/s between step WARMUP and WARMUP + STEPS of its metrics.jsonl
  python    bench/python/fixmatch_torch.py, stock (glibc malloc as it comes) and allocator fixed
Both include loading, augmentation (weak and strong views), forward, backward, the optimizer step
and the EMA update. Ratios, not absolute rates, are the result: the machine is shared.

usage: /usr/bin/python3 bench/run_fixmatch_bench.py [--build build] [--reps 2] [--steps 30] [--warmup 20]
       [--precision fp32] [--json out.json]
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from step_bench import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(__doc__.splitlines()[0], "semi", "configs/fashion_mnist/semi/fixmatch.yaml", "fixmatch_torch.py", steps=30, warmup=20))
