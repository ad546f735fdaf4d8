"""Self time per op of a LibTorch profiler trace (speed_bench --profile TRACE.json).

usage: python3 bench/profile_summary.py TRACE.json [--top 20]
Events nest on each thread (aten::conv2d holds aten::convolution ...): an op's self time is its
duration less that of the events directly inside it.
"""
import argparse
import collections
import json

p = argparse.ArgumentParser()
p.add_argument("trace")
p.add_argument("--top", type=int, default=20)
args = p.parse_args()
with open(args.trace) as f:
    text = f.read()
data = json.loads(text)
events = data["traceEvents"] if isinstance(data, dict) else data
spans = [e for e in events if e.get("ph") == "X" and "dur" in e]
self_us = collections.Counter()
calls = collections.Counter()
by_thread = collections.defaultdict(list)
for e in spans:
    by_thread[e.get("tid")].append(e)
for evs in by_thread.values():
    evs.sort(key=lambda e: (e["ts"], -e["dur"]))
    stack = []
    for e in evs:
        while stack and stack[-1]["ts"] + stack[-1]["dur"] <= e["ts"]:
            stack.pop()
        if stack:
            self_us[stack[-1]["name"]] -= e["dur"]
        self_us[e["name"]] += e["dur"]
        calls[e["name"]] += 1
        stack.append(e)
total = sum(self_us.values())
print(f"{'op':48s} {'self ms':>9s} {'share':>6s} {'calls':>6s}")
for name, us in self_us.most_common(args.top):
    print(f"{name[:48]:48s} {us / 1e3:9.1f} {100 * us / total:5.1f}% {calls[name]:6d}")
print(f"{'total':48s} {total / 1e3:9.1f}")
