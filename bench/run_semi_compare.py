#!/usr/bin/python3
"""FixMatch on equal terms: `selfsup semi` against the Python FixMatch a user would otherwise run.

For each label draw (--seeds; 10 labels per class by default), `selfsup semi --dump-split` writes
the draw's labeled, unlabeled and validation indices, and both sides train on exactly those
images, from scratch, one at a time on the whole machine, their order alternating per draw:
  python    bench/python/fixmatch_torch.py --split (USB's FixMatch: per-image PIL augmentation,
            two DataLoaders, the allocator fixed) for --budget seconds, its EMA model scored on the
            validation split and the test set at each --log-at point (the clock stopped meanwhile);
  selfsup   `selfsup semi --config configs/fashion_mnist/semi/fixmatch.yaml --time-limit T` for each
            T of --selfsup-budgets (each its own run: the schedule fits its budget);
  tuned     with --tuned DIR, the pipeline `selfsup tune` chose in DIR (its winner's share of
            --budget in `selfsup pretrain --config DIR/best_pretrain.yaml`, the rest in `selfsup semi
            --config DIR/best.yaml --init` from it; share 0: semi alone), --budget seconds in all.
--sides picks which of python, selfsup and tuned run (default: python,selfsup, and tuned with --tuned);
--tuned-reuse takes the search's own last-rung run for the draw it trained on, when that rung had
--budget (the same two commands; the search never read its test figure).
The test figures serve this comparison only; nothing is chosen by them. Writes one JSON with every
run's figures and the CPU it ran on. With --json naming an existing file of the same settings, the
new draws join the draws already there: a side run again replaces that side of its draw, the sides
not run are kept, and each side records the CPU and date it ran on. The file holds
the measurements only: scripts/results_page.py (kind semi_compare) computes the means and the paired
differences. A draw's python and selfsup sides always run in one sitting on one machine.

usage: /usr/bin/python3 bench/run_semi_compare.py [--build build] [--seeds 0,1,2] [--budget 1800]
       [--selfsup-budgets 900,1800] [--labels-per-class 10] [--out runs/semi_compare] [--json out.json]
       [--tuned runs/tune/semi_pipeline [--tuned-reuse]] [--sides python,selfsup,tuned]
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


def semi_figures(run_dir):
    """What the JSON keeps of a `selfsup semi` run's summary."""
    with open(os.path.join(ROOT, run_dir, "summary.json")) as f:
        s = json.load(f)
    return {k: s[k] for k in ("test_acc_ema", "val_acc_ema", "test_acc", "steps", "train_seconds")}


def pretrain_figures(run_dir):
    """What the JSON keeps of the pipeline's `selfsup pretrain` run."""
    with open(os.path.join(ROOT, run_dir, "summary.json")) as f:
        s = json.load(f)
    return {"pretrain_steps": s["steps"], "pretrain_seconds": s["train_seconds"], "pretrain_run": run_dir}


def tuned_pipeline(folder, budget):
    """The winner of a `selfsup tune` search with a pretraining stage: its configs, its share and its
    run at the last rung (`full` when that rung's budget is --budget)."""
    path = os.path.join(ROOT, folder, "tune_results.json")
    if not os.path.exists(path):
        sys.exit(f"run_semi_compare: {path} does not exist (is {folder} a finished `selfsup tune` search?)")
    with open(path) as f:
        best = json.load(f)["ranked"][0]
    share = float(best.get("pretrain_share", 0))
    last = [r for r in best["results"] if r["status"] == "done"][-1]
    pipeline = {"share": share, "config": os.path.join(folder, "best.yaml"),
                "pretrain": os.path.join(folder, "best_pretrain.yaml"), "last_rung": last,
                "full": abs(last["seconds"] - budget) < 1e-6}
    pipeline["identity"] = {"share": share}
    for key in ("config",) + (("pretrain",) if share > 0 else ()):
        if not os.path.exists(os.path.join(ROOT, pipeline[key])):
            sys.exit(f"run_semi_compare: {pipeline[key]} does not exist")
        with open(os.path.join(ROOT, pipeline[key])) as f:
            pipeline["identity"][key] = f.read()
    return pipeline


def search_seed(config):
    """The label draw a search's trials trained on: the `seed:` of its best.yaml."""
    with open(os.path.join(ROOT, config)) as f:
        for line in f:
            if line.startswith("seed:"):
                return int(line.split(":", 1)[1])
    return 0


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
    p.add_argument("--tuned", default=None, help="a `selfsup tune` folder whose winning pipeline to run")
    p.add_argument("--sides", default=None, help="which of python, selfsup, tuned to run")
    p.add_argument("--tuned-reuse", action="store_true",
                   help="on the draw the search trained on, take its last rung's run when that rung had --budget")
    args = p.parse_args()
    sides = (args.sides or "python,selfsup" + (",tuned" if args.tuned else "")).split(",")
    for side in sides:
        if side not in ("python", "selfsup", "tuned"):
            sys.exit(f"run_semi_compare: --sides names '{side}' (expected python, selfsup or tuned)")
    if "tuned" in sides and not args.tuned:
        sys.exit("run_semi_compare: the tuned side needs --tuned DIR (a `selfsup tune` folder)")
    selfsup = os.path.join(ROOT, args.build, "selfsup")
    os.makedirs(os.path.join(ROOT, args.out), exist_ok=True)
    settings = {"config": args.config, "labels_per_class": args.labels_per_class, "budget": args.budget,
                "selfsup_budgets": args.selfsup_budgets, "threads": args.threads}
    pipeline = tuned_pipeline(args.tuned, args.budget) if args.tuned else None
    if pipeline:  # the winner itself, not the folder it is read from
        settings["tuned"] = pipeline["identity"]
    result = dict(settings, draws=[])
    if args.json and os.path.exists(args.json):
        with open(args.json) as f:
            result = json.load(f)
        for k, v in settings.items():
            if k == "tuned" and k not in result:
                result[k] = v  # the first tuned side joins a file of the other two
            elif k == "tuned" and result[k] != v:
                sys.exit(f"run_semi_compare: {args.json} holds another tuned pipeline than {args.tuned}'s winner")
            elif result.get(k) != v:
                sys.exit(f"run_semi_compare: {args.json} was written with {k}={result.get(k)!r}, not {v!r}")
    for seed in (int(s) for s in args.seeds.split(",")):
        out = os.path.join(args.out, f"seed{seed}")
        os.makedirs(os.path.join(ROOT, out), exist_ok=True)
        split = os.path.join(out, "split.json")
        sets = ["--set", f"data.labels_per_class={args.labels_per_class}", "--set", f"train.threads={args.threads}"]
        run([selfsup, "semi", "--config", args.config, "--seed", str(seed), "--dump-split", split] + sets)
        old = [d for d in result["draws"] if d["seed"] == seed]
        draw = old[0] if old else {"seed": seed, "split": split, "selfsup": {}, "python": None}
        if not old or "python" in sides or "selfsup" in sides:
            draw.update(cpu=cpu_model(), date=time.strftime("%Y-%m-%d"))

        def python_side():
            js = os.path.join(out, "python.json")
            env = dict(os.environ, GLIBC_TUNABLES=ALLOC_FIXED)
            wall = run(["/usr/bin/python3", os.path.join(HERE, "python", "fixmatch_torch.py"), "--split", split,
                        "--budget", str(args.budget), "--log-at", args.log_at, "--seed", str(seed),
                        "--threads", str(args.threads), "--out", js], env=env, log=os.path.join(out, "python.log"))
            with open(os.path.join(ROOT, js)) as f:
                draw["python"] = dict(json.load(f), wall_seconds=wall)

        def semi_run(config, run_dir, budget, init=None):
            wall = run([selfsup, "semi", "--config", config, "--seed", str(seed), "--out", run_dir, "--overwrite",
                        "--quiet", "--time-limit", str(budget)] + (["--init", init] if init else []) + sets,
                       log=run_dir + ".log")
            return dict(semi_figures(run_dir), wall_seconds=wall, run=run_dir)

        def selfsup_side():
            for budget in (float(b) for b in args.selfsup_budgets.split(",")):
                draw["selfsup"][f"{budget:.0f}"] = semi_run(args.config, os.path.join(out, f"selfsup_{budget:.0f}"),
                                                            budget)

        def tuned_side():
            share = pipeline["share"]
            entry = {"share": share, "cpu": cpu_model(), "date": time.strftime("%Y-%m-%d")}
            if args.tuned_reuse and pipeline["full"] and seed == search_seed(pipeline["config"]):
                # The search's last rung trained this very pipeline on this draw for --budget: its
                # run is the measurement (the search chose it on validation; its test figure was not read).
                last = pipeline["last_rung"]
                entry.update(semi_figures(last["run"]), wall_seconds=last["wall_seconds"], run=last["run"],
                             from_search=True)
                if share > 0:
                    entry.update(pretrain_figures(last["pretrain_run"]))
                draw["tuned"] = entry
                return
            init = None
            if share > 0:
                init = os.path.join(out, "tuned_pretrain")
                entry["pretrain_wall_seconds"] = run(
                    [selfsup, "pretrain", "--config", pipeline["pretrain"], "--seed", str(seed), "--out", init,
                     "--overwrite", "--quiet", "--no-eval", "--time-limit", str(args.budget * share),
                     "--set", f"train.threads={args.threads}"], log=init + ".log")
                entry.update(pretrain_figures(init))
            entry.update(semi_run(pipeline["config"], os.path.join(out, "tuned"), args.budget * (1 - share), init))
            draw["tuned"] = entry

        # Which side goes first alternates with the seed, so draws run in separate sittings still alternate.
        order = [python_side, selfsup_side] if seed % 2 == 0 else [selfsup_side, python_side]
        for side in order + [tuned_side]:
            if side.__name__[:-len("_side")] in sides:
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
