"""A/B of one lever for the fp32 speed target: the SimCLR step (forward, backward, SGD step on
ready tensors, batch 256 images x 2 views; images/s counts images, as run_speed_bench.py does) with oneDNN convolutions on and off (off: im2col + OpenBLAS), in
one process, alternating, medians of 4 repetitions. Run it with the allocator fixed:
GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=4294967296 /usr/bin/python3 bench/python/mkldnn_ab.py
"""
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from simclr_torch import SimCLR
torch.set_num_threads(2)
torch.manual_seed(0)
m = SimCLR()
opt = torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
x1 = torch.randn(256, 1, 28, 28); x2 = torch.randn(256, 1, 28, 28)
def step():
    opt.zero_grad(); loss = m(x1, x2); loss.backward(); opt.step()
res = {True: [], False: []}
for rep in range(4):
    for on in (True, False):
        torch.backends.mkldnn.enabled = on
        for _ in range(3): step()
        t = time.perf_counter()
        for _ in range(10): step()
        res[on].append(256 * 10 / (time.perf_counter() - t))
for on in (True, False):
    v = sorted(res[on]); print('mkldnn', on, 'images/s median', round(v[len(v)//2]), [round(a) for a in res[on]])
