#!/usr/bin/python3
"""End-to-end SimCLR pretraining speed, selfsup against the PyTorch + torchvision pipeline.

In one run, alternating, REPS times each (medians reported), the same number of steps:
  selfsup      `selfsup pretrain` on configs/fashion_mnist/simclr.yaml (fp32 and bf16) for the
               end-to-end rate and peak memory; bench/speed_bench for augmentation-only, compute-
               only and the fp32 GEMM rate.
  python       bench/python/simclr_torch.py: stock (glibc malloc as it comes), allocator fixed
               (GLIBC_TUNABLES below), and allocator fixed with bf16 autocast.
End-to-end rates are taken between step WARMUP and step WARMUP + STEPS of a training run.
Peak memory is the largest total PSS of the process and its children (DataLoader workers share
pages with their parent; PSS counts each shared page once across them), sampled every 0.1 s.

With --short (about 3 minutes): only `selfsup pretrain` end to end, in fp32, in bf16 and as the
shipped config runs (precision: auto, probing afresh each time with an empty decision cache):
whether the default trains within 5% of the faster fixed precision on this CPU.

The JSON names the CPU (model and flags) and LibTorch's thread count, since figures compare only
within one machine.

usage: /usr/bin/python3 bench/run_speed_bench.py [--build build] [--reps 3] [--steps 40] [--warmup 20] [--json out.json]
       /usr/bin/python3 bench/run_speed_bench.py --short [--json out.json]
(about 8.5 minutes a repetition with these defaults on 2 cores)
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FIXED_MALLOC = "glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=4294967296"


def tree_pss_kib(root_pid):
    """Total PSS (KiB) of root_pid and all its descendants."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
        except (OSError, IndexError, ValueError):
            pass
    total, todo = 0, [root_pid]
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            pass
    return total


def run(cmd, env_extra=None):
    """Runs cmd, returns (stdout + stderr text, peak tree PSS in MiB)."""
    env = dict(os.environ)
    env.update(env_extra or {})
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT)
    peak = [0]
    done = threading.Event()

    # Every 0.5 s: at 0.1 s the scans of /proc took a core often enough to slow the 2-thread
    # training step they were watching by 5% (selfsup fp32: 1660 against 1748 images/s).
    # Memory plateaus within the warm-up, so the peak is still seen.
    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], tree_pss_kib(proc.pid))
            time.sleep(0.5)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    out = proc.communicate()[0]
    done.set()
    t.join()
    if proc.returncode != 0:
        sys.exit(f"error: {' '.join(cmd)} exited with {proc.returncode}:\n{out[-3000:]}")
    return out, peak[0] / 1024.0


def phases(text, prefix):
    return {m.group(1): float(m.group(2))
            for m in re.finditer(rf"^{prefix} phase=(\w+) images_per_s=([0-9.]+)", text, re.M)}


def cpu_info():
    """The CPU's model name and flags, from /proc/cpuinfo."""
    info = {"model": "", "flags": []}
    with open("/proc/cpuinfo") as f:
        for line in f:
            key, _, value = line.partition(":")
            key = key.strip()
            if key == "model name" and not info["model"]:
                info["model"] = value.strip()
            elif key == "flags" and not info["flags"]:
                info["flags"] = value.split()
    info["vector_flags"] = sorted(f for f in info["flags"] if f.startswith(("avx", "amx", "fma")))
    info["cores"] = os.cpu_count()
    return info


def ours_e2e(selfsup, precision, args, batch, summary_out=None):
    """selfsup's end-to-end rate (images/s) between step WARMUP and WARMUP + STEPS, and peak MiB.
    precision=auto probes with an empty decision cache of its own."""
    with tempfile.TemporaryDirectory() as out, tempfile.TemporaryDirectory() as cache:
        text, peak = run([selfsup, "pretrain", "--config", "configs/fashion_mnist/simclr.yaml", "--out", out,
                          "--no-eval", "--quiet", "--set", f"precision={precision}",
                          "--set", f"train.max_steps={args.warmup + args.steps}",
                          "--set", f"train.log_every_steps={args.warmup}"], {"SELFSUP_CACHE_DIR": cache})
        with open(os.path.join(out, "metrics.jsonl")) as f:
            seconds = {j["step"]: j["seconds"] for j in map(json.loads, f)}
        if summary_out is not None:
            with open(os.path.join(out, "summary.json")) as f:
                summary_out.update(json.load(f))
    elapsed = seconds[args.warmup + args.steps] - seconds[args.warmup]
    return args.steps * batch / elapsed, peak


def short(args, selfsup, batch):
    """The default config's end-to-end rate against the faster fixed precision. The order of the
    three runs rotates each repetition, and the ratio is taken within a repetition (the default's
    rate over the faster fixed one's) before the median: a shared machine's speed drifts by more
    than 5% over minutes, which one ratio of medians would fold in."""
    samples, choices, ratios = {}, [], []
    order = ["fp32", "bf16", "auto"]
    for rep in range(args.reps):
        summary = {}
        for precision in order[rep % 3:] + order[:rep % 3]:
            ips, _ = ours_e2e(selfsup, precision, args, batch, summary if precision == "auto" else None)
            samples.setdefault(precision, []).append(ips)
        choices.append(summary["precision"])
        ratios.append(samples["auto"][-1] / max(samples["fp32"][-1], samples["bf16"][-1]))
        print(f"rep {rep + 1}/{args.reps}: images/s " + ", ".join(f"{k} {samples[k][-1]:.0f}" for k in order)
              + f"; auto chose {choices[-1]['precision']} ({choices[-1].get('probe_seconds', 0):.1f} s probe); "
              f"auto / faster {ratios[-1]:.3f}", flush=True)
    med = {k: statistics.median(v) for k, v in samples.items()}
    fastest = max(("fp32", "bf16"), key=lambda k: med[k])
    ratio = statistics.median(ratios)
    print(f"\nmedians of {args.reps} reps, {args.steps} timed steps of batch {batch} after {args.warmup} warm-up steps")
    for k in order:
        print(f"  {k:6s} {med[k]:8.0f} images/s")
    print(f"default (auto) / faster fixed precision, median of the repetitions' ratios: {ratio:.3f}  "
          f"{'within' if ratio >= 0.95 else 'NOT within'} 5%; auto chose "
          + ", ".join(sorted({c['precision'] for c in choices})))
    return {"mode": "short", "medians": med, "samples": samples, "auto_choices": choices, "fastest_fixed": fastest,
            "ratios": ratios, "default_vs_fastest": ratio, "within_5_percent": ratio >= 0.95}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--json", help="also write the medians here")
    p.add_argument("--short", action="store_true", help="only the default config against fp32 and bf16 (~3 min)")
    args = p.parse_args()
    if args.short and "--steps" not in sys.argv:
        args.steps = 80
    if args.warmup < 1 or args.steps % args.warmup:
        p.error("--steps must be a multiple of --warmup (selfsup logs every --warmup steps)")
    selfsup = os.path.join(args.build, "selfsup")
    bench = os.path.join(args.build, "bench", "speed_bench")
    batch = 256
    py = [sys.executable, os.path.join(HERE, "python", "simclr_torch.py"), "--steps", str(args.steps),
          "--warmup", str(args.warmup), "--batch", str(batch)]
    cpu = cpu_info()
    print(f"CPU: {cpu['model']}, {cpu['cores']} cores, {' '.join(cpu['vector_flags'])}", flush=True)
    if args.short:
        result = short(args, selfsup, batch)
        result.update({"cpu": cpu, "reps": args.reps, "steps": args.steps, "warmup": args.warmup, "batch": batch,
                       "date": time.strftime("%Y-%m-%d")})
        if args.json:
            with open(args.json, "w") as f:
                json.dump(result, f, indent=2)
        return
    samples = {}

    def add(key, value):
        samples.setdefault(key, []).append(value)

    print(f"load average before: {open('/proc/loadavg').read().split()[:3]}", flush=True)
    for rep in range(args.reps):
        for precision in ("fp32", "bf16"):
            ips, peak = ours_e2e(selfsup, precision, args, batch)
            add(f"selfsup_{precision}_e2e", ips)
            add(f"selfsup_{precision}_peak_mib", peak)
            text, _ = run([bench, "configs/fashion_mnist/simclr.yaml", "--steps", str(args.steps),
                           "--warmup", str(args.warmup), "--set", f"precision={precision}"])
            for k, v in phases(text, "selfsup").items():
                add(f"selfsup_{precision}_{k}", v)
            m = re.search(r"gemm_fp32_gflops=([0-9.e+]+) step_gflop=([0-9.e+]+) compute_gflops=([0-9.e+]+) "
                          r"share_of_gemm=([0-9.e+-]+)", text)
            add("gemm_fp32_gflops", float(m.group(1)))
            add(f"selfsup_{precision}_compute_gflops", float(m.group(3)))
            add(f"selfsup_{precision}_share_of_gemm", float(m.group(4)))
            # A lever tried: channels-last (NHWC) weights and inputs for the compute phase.
            text, _ = run([bench, "configs/fashion_mnist/simclr.yaml", "--steps", str(args.steps),
                           "--warmup", str(args.warmup), "--set", f"precision={precision}", "--set", "channels_last=true"])
            add(f"selfsup_{precision}_compute_channels_last", phases(text, "selfsup")["compute_channels_last"])
        for name, env, precision in (("python_stock_fp32", {}, "fp32"),
                                     ("python_fixed_fp32", {"GLIBC_TUNABLES": FIXED_MALLOC}, "fp32"),
                                     ("python_fixed_bf16", {"GLIBC_TUNABLES": FIXED_MALLOC}, "bf16")):
            text, peak = run(py + ["--precision", precision], env)
            for k, v in phases(text, "python").items():
                add(f"{name}_{k}", v)
            add(f"{name}_peak_mib", peak)
        # Each rep's end-to-end rates as they come (a long run stopped early still says something).
        e2e = {k: round(v[-1]) for k, v in samples.items() if k.endswith("_e2e")}
        print(f"rep {rep + 1}/{args.reps} done: end-to-end images/s {e2e}", flush=True)
    print(f"load average after: {open('/proc/loadavg').read().split()[:3]}", flush=True)

    med = {k: statistics.median(v) for k, v in samples.items()}
    print(f"\nmedians of {args.reps} reps, {args.steps} timed steps of batch {batch} after {args.warmup} warm-up steps\n")
    print(f"{'images/s':28s} {'e2e':>9s} {'augment':>9s} {'compute':>9s} {'peak MiB':>9s}")
    for name in ("selfsup_fp32", "python_stock_fp32", "python_fixed_fp32", "selfsup_bf16", "python_fixed_bf16"):
        print(f"{name:28s} {med[name + '_e2e']:9.0f} {med[name + '_augment']:9.0f} {med[name + '_compute']:9.0f} "
              f"{med[name + '_peak_mib']:9.0f}")
    ratios = {
        "e2e_fp32_vs_python_fixed": med["selfsup_fp32_e2e"] / med["python_fixed_fp32_e2e"],
        "e2e_fp32_vs_python_stock": med["selfsup_fp32_e2e"] / med["python_stock_fp32_e2e"],
        "e2e_bf16_vs_python_fixed_bf16": med["selfsup_bf16_e2e"] / med["python_fixed_bf16_e2e"],
        "augment_vs_python": med["selfsup_fp32_augment"] / med["python_fixed_fp32_augment"],
        "overhead_fp32": med["selfsup_fp32_compute"] / med["selfsup_fp32_e2e"] - 1,
        "overhead_bf16": med["selfsup_bf16_compute"] / med["selfsup_bf16_e2e"] - 1,
        "peak_memory_vs_python_fixed_fp32": med["selfsup_fp32_peak_mib"] / med["python_fixed_fp32_peak_mib"],
    }
    print()
    for k, v in ratios.items():
        print(f"{k:34s} {v:8.3f}")
    print(f"{'gemm_fp32_gflops':34s} {med['gemm_fp32_gflops']:8.1f}")
    for precision in ("fp32", "bf16"):
        print(f"{'compute_gflops_' + precision:34s} {med[f'selfsup_{precision}_compute_gflops']:8.1f}"
              f"   ({100 * med[f'selfsup_{precision}_share_of_gemm']:.1f}% of the fp32 GEMM rate)")
    for precision in ("fp32", "bf16"):
        print(f"{'compute_channels_last_' + precision:34s} {med[f'selfsup_{precision}_compute_channels_last']:8.0f}"
              f"   images/s (contiguous NCHW: {med[f'selfsup_{precision}_compute']:.0f})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"medians": med, "ratios": ratios, "samples": samples, "reps": args.reps,
                       "steps": args.steps, "warmup": args.warmup, "batch": batch, "cpu": cpu,
                       "date": time.strftime("%Y-%m-%d")}, f, indent=2)


if __name__ == "__main__":
    main()
