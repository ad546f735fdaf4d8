"""The side-by-side step benchmark shared by run_fixmatch_bench.py and run_mae_bench.py: a selfsup
command's steps/s read from its metrics.jsonl against a PyTorch script's, stock and with the
allocator fixed, alternating, medians of the repetitions.
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


def selfsup_rate(build, command, config, warmup, steps, precision):
    with tempfile.TemporaryDirectory() as out:
        cmd = [os.path.join(build, "selfsup"), command, "--config", os.path.join(ROOT, config), "--out", out,
               "--quiet", "--no-eval",
               "--set", f"train.max_steps={warmup + steps}", "--set", "train.log_every_steps=1",
               "--set", f"precision={precision}", "--set", "train.checkpoint_every_steps=100000"]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        seconds = {}
        with open(os.path.join(out, "metrics.jsonl")) as f:
            for line in f:
                m = json.loads(line)
                seconds[m["step"]] = m["seconds"]
    return steps / (seconds[warmup + steps] - seconds[warmup])


def python_rate(script, warmup, steps, fixed):
    env = dict(os.environ)
    if fixed:
        env["GLIBC_TUNABLES"] = FIXED_MALLOC
    cmd = ["/usr/bin/python3", os.path.join(HERE, "python", script), "--phases", "e2e",
           "--warmup", str(warmup), "--steps", str(steps)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env,
                         cwd=os.path.join(HERE, "python")).stdout
    return float(re.search(r"steps_per_s=([0-9.]+)", out).group(1))


def main(description, command, config, script, steps, warmup):
    """command and config: the selfsup side; script: the PyTorch side, in bench/python/."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--reps", type=int, default=2)
    p.add_argument("--steps", type=int, default=steps)
    p.add_argument("--warmup", type=int, default=warmup)
    p.add_argument("--precision", default="fp32", help="selfsup's precision (bf16 needs a CPU with native bf16)")
    p.add_argument("--json")
    args = p.parse_args()
    rates = {"selfsup": [], "python_stock": [], "python_allocator_fixed": []}
    for rep in range(args.reps):
        rates["selfsup"].append(selfsup_rate(args.build, command, config, args.warmup, args.steps, args.precision))
        rates["python_stock"].append(python_rate(script, args.warmup, args.steps, False))
        rates["python_allocator_fixed"].append(python_rate(script, args.warmup, args.steps, True))
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

