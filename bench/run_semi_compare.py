#!/usr/bin/python3
"""FixMatch on equal terms: `selfsup semi` against the Python FixMatch a user would otherwise run.

For each label draw (--seeds; 10 labels per class by default), `selfsup semi --dump-split` writes
the draw's labeled, unlabeled and validation indices, and both sides train on exactly those
images, from scratch, one at a time on the whole machine, their order alternating per draw:
  python    bench/python/fixmatch_torch.py --split (USB's FixMatch: per-image PIL augmentation,
            two DataLoaders, the allocator fixed) for --budget seconds, its EMA model scored on the
            validation split and the test set at each --log-at point (the clock stopped meanwhile);
  selfsup   `selfsup semi --config configs/fashion_mnist/semi/fixmatch.yaml --time-limit T` for each
            T of --selfsup-budgets (each its own run: the schedule fits its budget).
The test figures serve this comparison only; nothing is chosen by them. Writes one JSON with every
run's figures and the CPU it ran on. With --json naming an existing file of the same settings, the
new draws join (or replace, by seed) the draws already there, each keeping its own CPU. The file holds
the measurements only: scripts/results_page.py (kind semi_compare) computes the means and the paired
differences. Each draw's two sides always run in one sitting on one machine.

usage: /usr/bin/python3 bench/run_semi_compare.py [--build build] [--seeds 0,1,2] [--budget 1800]
       [--selfsup-budgets 900,1800] [--labels-per-class 10] [--out runs/semi_compare] [--json out.json]
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
ALLOC_FIXED = "glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=4294967296"


def cpu_model():
    """The CPU's name, family/model and vector extensions: cloud CPUs often report only a brand."""
    info = {}
    with open("/proc/cpuinfo") as f:
        for line in f:
            if ":" in line:
                k, v = (x.strip() for x in line.split(":", 1))
                info.setdefault(k, v)
    simd = [f for f in ("avx2", "avx512f", "avx512_bf16", "avx512_fp16", "amx_tile") if f in info.get("flags", "").split()]
    return f"{info.get('model name', 'unknown')} (family {info.get('cpu family', '?')} model {info.get('model', '?')}; " \
           f"{' '.join(simd) or 'no avx2'}; {os.cpu_count()} cores)"


def run(cmd, env=None, log=None):
    start = time.time()
    with open(log, "w") if log else open(os.devnull, "w") as err:
        subprocess.run(cmd, check=True, env=env, stdout=subprocess.PIPE if log else None, stderr=err, cwd=ROOT)
    return time.time() - start


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--build", default="build")
    p.add_argument("--config", default="configs/fashion_mnist/semi/fixmatch.yaml")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--labels-per-class", type=int, default=10)
    p.add_argument("--budget", type=float, default=1800, help="the Python side's seconds of training")
    p.add_argument("--log-at", default="300,600,900,1200,1800")
    p.add_argument("--selfsup-budgets", default="900,1800")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default="runs/semi_compare")
    p.add_argument("--json", default=None)
    args = p.parse_args()
    selfsup = os.path.join(ROOT, args.build, "selfsup")
    os.makedirs(os.path.join(ROOT, args.out), exist_ok=True)
    settings = {"config": args.config, "labels_per_class": args.labels_per_class, "budget": args.budget,
                "selfsup_budgets": args.selfsup_budgets, "threads": args.threads}
    result = dict(settings, draws=[])
    if args.json and os.path.exists(args.json):
        with open(args.json) as f:
            result = json.load(f)
        for k, v in settings.items():
            if result.get(k) != v:
                sys.exit(f"run_semi_compare: {args.json} was written with {k}={result.get(k)!r}, not {v!r}")
    for seed in (int(s) for s in args.seeds.split(",")):
        out = os.path.join(args.out, f"seed{seed}")
        os.makedirs(os.path.join(ROOT, out), exist_ok=True)
        split = os.path.join(out, "split.json")
        sets = ["--set", f"data.labels_per_class={args.labels_per_class}", "--set", f"train.threads={args.threads}"]
        run([selfsup, "semi", "--config", args.config, "--seed", str(seed), "--dump-split", split] + sets)
        draw = {"seed": seed, "cpu": cpu_model(), "date": time.strftime("%Y-%m-%d"), "split": split,
                "selfsup": {}, "python": None}

        def python_side():
            js = os.path.join(out, "python.json")
            env = dict(os.environ, GLIBC_TUNABLES=ALLOC_FIXED)
            wall = run(["/usr/bin/python3", os.path.join(HERE, "python", "fixmatch_torch.py"), "--split", split,
                        "--budget", str(args.budget), "--log-at", args.log_at, "--seed", str(seed),
                        "--threads", str(args.threads), "--out", js], env=env, log=os.path.join(out, "python.log"))
            with open(os.path.join(ROOT, js)) as f:
                draw["python"] = dict(json.load(f), wall_seconds=wall)

        def selfsup_side():
            for budget in (float(b) for b in args.selfsup_budgets.split(",")):
                run_dir = os.path.join(out, f"selfsup_{budget:.0f}")
                wall = run([selfsup, "semi", "--config", args.config, "--seed", str(seed), "--out", run_dir,
                            "--overwrite", "--quiet", "--time-limit", str(budget)] + sets,
                           log=os.path.join(out, f"selfsup_{budget:.0f}.log"))
                with open(os.path.join(ROOT, run_dir, "summary.json")) as f:
                    s = json.load(f)
                draw["selfsup"][f"{budget:.0f}"] = {"test_acc_ema": s["test_acc_ema"], "val_acc_ema": s["val_acc_ema"],
                                                    "test_acc": s["test_acc"], "steps": s["steps"],
                                                    "train_seconds": s["train_seconds"], "wall_seconds": wall,
                                                    "run": run_dir}

        # Which side goes first alternates with the seed, so draws run in separate sittings still alternate.
        for side in ((python_side, selfsup_side) if seed % 2 == 0 else (selfsup_side, python_side)):
            side()
        result["draws"] = sorted([d for d in result["draws"] if d["seed"] != seed] + [draw], key=lambda d: d["seed"])
        if args.json:  # after every draw, atomically: a stopped benchmark keeps the draws it finished
            with open(args.json + ".tmp", "w") as f:
                f.write(json.dumps(result, indent=1) + "\n")
            os.replace(args.json + ".tmp", args.json)
        print(json.dumps(draw), flush=True)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    sys.exit(main())
