#!/usr/bin/python3
"""SimCLR on Fashion-MNIST the way PyTorch users write it: the Python side of the speed benchmark.

The same model, batch, optimizer and loss as configs/fashion_mnist/simclr.yaml: ConvNet
[32, 64, 128] (conv3x3-BN-ReLU, max-pool between stages, global average pool), projector
128 -> 512 (BN, ReLU) -> 128, NT-Xent with temperature 0.2, SGD with Nesterov momentum 0.9,
lr 0.5 and weight decay 5e-4 on the weights (not on biases and BN), batch 256, two views of
RandomResizedCrop(28, scale=(0.6, 1)), horizontal flip, ColorJitter(0.4, 0.4, 0.4, 0.1) with
p 0.8, ToTensor, Normalize. Augmentation runs per image on PIL images inside a Dataset, batched
by a DataLoader with worker processes, the way torchvision's tutorials do it.

Phases (each after `--warmup` untimed steps), one parseable line each:
  python phase=e2e images_per_s=...       loader + forward + backward + step, as in training
  python phase=augment images_per_s=...   the DataLoader alone
  python phase=compute images_per_s=...   forward + backward + step on one ready batch
`--precision bf16` runs the model under torch.autocast("cpu", torch.bfloat16).
Run it with GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=4294967296 for
"allocator fixed" (bench/run_speed_bench.py runs both).
"""
import argparse
import gzip
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader
from torchvision import transforms as T

from augment_torchvision import TwoViews  # the same per-image two-view Dataset


def read_idx_images(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    n, h, w = (int.from_bytes(data[i:i + 4], "big") for i in (4, 8, 12))
    return np.frombuffer(data, dtype=np.uint8, offset=16).reshape(n, h, w)


class ConvNet(nn.Module):
    def __init__(self, channels=(32, 64, 128)):
        super().__init__()
        layers, cin = [], 1
        for s, c in enumerate(channels):
            if s > 0:
                layers.append(nn.MaxPool2d(2))
            layers += [nn.Conv2d(cin, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
            cin = c
        self.features = nn.Sequential(*layers)
        self.dim = cin

    def forward(self, x):
        return self.features(x).mean((2, 3))


class SimCLR(nn.Module):
    def __init__(self, temperature=0.2):
        super().__init__()
        self.backbone = ConvNet()
        self.projector = nn.Sequential(nn.Linear(128, 512, bias=False), nn.BatchNorm1d(512), nn.ReLU(inplace=True),
                                       nn.Linear(512, 128))
        self.temperature = temperature

    def forward(self, v1, v2):
        z = F.normalize(self.projector(self.backbone(torch.cat([v1, v2]))).float(), dim=1)
        n = v1.shape[0]
        logits = z @ z.t() / self.temperature
        logits.fill_diagonal_(float("-inf"))
        target = (torch.arange(2 * n) + n) % (2 * n)
        return F.cross_entropy(logits, target)


def time_steps(step, warmup, steps):
    """Seconds that `steps` calls of step() take after `warmup` untimed ones."""
    for _ in range(warmup):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return time.perf_counter() - start


def make_optimizer(model):
    decay = [p for p in model.parameters() if p.ndim > 1]
    plain = [p for p in model.parameters() if p.ndim <= 1]
    return torch.optim.SGD([{"params": decay, "weight_decay": 5e-4}, {"params": plain, "weight_decay": 0.0}],
                           lr=0.5, momentum=0.9, nesterov=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--steps", type=int, default=30, help="timed steps per phase")
    p.add_argument("--warmup", type=int, default=5, help="untimed steps before each phase")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--threads", type=int, default=2, help="torch intra-op threads of the training process")
    p.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    p.add_argument("--phases", default="e2e,augment,compute")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    images = read_idx_images(os.path.join(args.root, "train-images-idx3-ubyte.gz"))
    mean, std = images.mean() / 255.0, images.std() / 255.0
    transform = T.Compose([
        T.RandomResizedCrop(28, scale=(0.6, 1.0)),
        T.RandomHorizontalFlip(),
        T.RandomApply([T.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8),
        T.ToTensor(),
        T.Normalize((mean,), (std,)),
    ])
    loader = DataLoader(TwoViews(images[..., None], transform), batch_size=args.batch, shuffle=True, drop_last=True,
                        num_workers=args.workers, persistent_workers=args.workers > 0)
    model = SimCLR()
    opt = make_optimizer(model)
    bf16 = args.precision == "bf16"

    def train_step(v1, v2):
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = model(v1, v2)
        loss.backward()
        opt.step()
        return loss.item()

    def batches():
        while True:
            for b in loader:
                yield b

    stream = batches()

    def timed(phase, step):
        ips = args.steps * args.batch / time_steps(step, args.warmup, args.steps)
        print(f"python phase={phase} images_per_s={ips:.1f} precision={args.precision} batch={args.batch} "
              f"workers={args.workers} threads={args.threads}", flush=True)

    phases = args.phases.split(",")
    if "e2e" in phases:
        timed("e2e", lambda: train_step(*next(stream)))
    if "augment" in phases:
        timed("augment", lambda: next(stream))
    if "compute" in phases:
        ready = next(stream)
        timed("compute", lambda: train_step(*ready))


if __name__ == "__main__":
    main()
