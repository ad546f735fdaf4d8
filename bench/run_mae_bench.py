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
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from run_speed_bench import FIXED_MALLOC  # noqa: E402  (one definition of "allocator fixed")


def selfsup_rate(build, warmup, steps, precision):
    with tempfile.TemporaryDirectory() as out:
        cmd = [os.path.join(build, "selfsup"), "pretrain", "--config",
               os.path.join(ROOT, "configs/fashion_mnist/mae.yaml"), "--out", out, "--quiet", "--no-eval",
               "--set", f"train.max_steps={warmup + steps}", "--set", "train.log_every_steps=1",
               "--set", f"precision={precision}", "--set", "train.checkpoint_every_steps=100000"]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        seconds = {}
        with open(os.path.join(out, "metrics.jsonl")) as f:
            for line in f:
                m = json.loads(line)
                seconds[m["step"]] = m["seconds"]
    return steps / (seconds[warmup + steps] - seconds[warmup])


def python_rate(warmup, steps, fixed):
    env = dict(os.environ)
    if fixed:
        env["GLIBC_TUNABLES"] = FIXED_MALLOC
    cmd = ["/usr/bin/python3", os.path.join(HERE, "python/mae_torch.py"), "--phases", "e2e",
           "--warmup", str(warmup), "--steps", str(steps)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env,
                         cwd=os.path.join(HERE, "python")).stdout
    return float(re.search(r"steps_per_s=([0-9.]+)", out).group(1))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--reps", type=int, default=2)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--precision", default="fp32", help="selfsup's precision (bf16 needs a CPU with native bf16)")
    p.add_argument("--json")
    args = p.parse_args()
    rates = {"selfsup": [], "python_stock": [], "python_allocator_fixed": []}
    for rep in range(args.reps):
        rates["selfsup"].append(selfsup_rate(args.build, args.warmup, args.steps, args.precision))
        rates["python_stock"].append(python_rate(args.warmup, args.steps, False))
        rates["python_allocator_fixed"].append(python_rate(args.warmup, args.steps, True))
        print(f"rep {rep}: " + " ".join(f"{k}={v[-1]:.3f}" for k, v in rates.items()), flush=True)
    med = {k: statistics.median(v) for k, v in rates.items()}
    result = {"steps_per_s": med, "runs": rates, "precision": args.precision, "steps": args.steps,
              "warmup": args.warmup,
              "selfsup_over_python_allocator_fixed": med["selfsup"] / med["python_allocator_fixed"],
              "selfsup_over_python_stock": med["selfsup"] / med["python_stock"]}
    print(json.dumps(result, indent=1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
