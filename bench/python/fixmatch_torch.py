#!/usr/bin/python3
"""FixMatch on Fashion-MNIST the way USB writes it: the Python side of the FixMatch speed benchmark.

The same step as configs/fashion_mnist/semi/fixmatch.yaml: ConvNet [32, 64, 128] (conv3x3-BN-ReLU,
max-pool between stages, global average pool) and a linear head to 10 classes; 64 labeled images
(weak view) and 7 x 64 unlabeled images, each in a weak and a strong view, through the network in
one forward pass; cross-entropy on the labeled images, cross-entropy of the strong view to the weak
view's argmax where its confidence is >= 0.95; SGD lr 0.03, Nesterov momentum 0.9, weight decay
5e-4 on the weights; an EMA copy of the model (0.999) updated after every step.
Views: weak = RandomCrop(28, padding 4, reflect) + horizontal flip; strong = weak + RandAugment
(2 ops) + Cutout (a square of up to half the side, grey). As in USB, augmentation runs per image
on PIL images inside Datasets, batched by DataLoaders with worker processes.

Phases (each after `--warmup` untimed steps), one parseable line each:
  python phase=e2e steps_per_s=...       loaders + forward + backward + step + EMA, as in training
  python phase=augment steps_per_s=...   the two DataLoaders alone
  python phase=compute steps_per_s=...   forward + backward + step + EMA on one ready batch
Run it with GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=4294967296 for
"allocator fixed" (bench/run_fixmatch_bench.py does).

Training mode (`--split FILE --budget SECONDS`): trains on the labeled, unlabeled and validation
images of a draw written by `selfsup semi --dump-split FILE` (the same indices into the training
set), with the real labels, for a wall-clock budget. The learning rate follows USB's cosine
lr cos(7 pi k / 16 K), K the steps the budget holds, estimated from the first steps and refitted
every 30 s, as selfsup fits its schedule to --time-limit. At each `--log-at` point of training time
the clock stops while the EMA model is scored on the validation split and the test set; only the
comparison benchmark reads the test figures (bench/run_semi_compare.py), nothing is chosen by
them. Writes a JSON summary with `--out`.
"""
import argparse
import copy
import gzip
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, Dataset, RandomSampler
from torchvision import transforms as T

from simclr_torch import ConvNet, read_idx_images, time_steps


class Cutout:
    """A grey square of side up to `size` x the image side at a random place (FixMatch's Cutout)."""

    def __init__(self, size=0.5, fill=0.5):
        self.size, self.fill = size, fill

    def __call__(self, x):  # x: [C, H, W] in [0, 1]
        h, w = x.shape[-2:]
        s = int(np.random.uniform(0, self.size) * min(h, w))
        if s == 0:
            return x
        cy, cx = np.random.randint(h), np.random.randint(w)
        y0, y1 = max(0, cy - s // 2), min(h, cy + s - s // 2)
        x0, x1 = max(0, cx - s // 2), min(w, cx + s - s // 2)
        x = x.clone()
        x[..., y0:y1, x0:x1] = self.fill
        return x


class Views(Dataset):
    """Each item: the listed views of one image (PIL in, normalised tensors out)."""

    def __init__(self, images, transforms):
        self.images = [Image.fromarray(a, "L") for a in images]
        self.transforms = transforms

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return tuple(t(self.images[i]) for t in self.transforms)


class Classifier(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.backbone = ConvNet()
        self.head = nn.Linear(self.backbone.dim, classes)

    def forward(self, x):
        return self.head(self.backbone(x))


def two_streams(labeled, unlabeled, args):
    """USB's two DataLoaders, each drawing with replacement (for as many steps as any run takes)."""
    lb = DataLoader(labeled, batch_size=args.batch, sampler=RandomSampler(labeled, True, 10**8),
                    num_workers=args.workers, persistent_workers=args.workers > 0, drop_last=True)
    ulb = DataLoader(unlabeled, batch_size=args.batch * args.mu, sampler=RandomSampler(unlabeled, True, 10**9),
                     num_workers=args.workers, persistent_workers=args.workers > 0, drop_last=True)
    return iter(lb), iter(ulb)


def model_ema_optimizer(lr):
    """The classifier, its EMA copy (no gradients) and USB's SGD: Nesterov momentum 0.9, weight
    decay 5e-4 on weights but not on biases and norms."""
    model = Classifier()
    ema = copy.deepcopy(model)
    for q in ema.parameters():
        q.requires_grad_(False)
    decay = [q for q in model.parameters() if q.ndim > 1]
    plain = [q for q in model.parameters() if q.ndim <= 1]
    opt = torch.optim.SGD([{"params": decay, "weight_decay": 5e-4}, {"params": plain, "weight_decay": 0.0}],
                          lr=lr, momentum=0.9, nesterov=True)
    return model, ema, opt


def read_idx_labels(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    return np.frombuffer(data, dtype=np.uint8, offset=8).astype(np.int64)


@torch.no_grad()
def accuracy(model, images, labels, normalize, batch=1000):
    model.eval()
    correct = 0
    for i in range(0, len(images), batch):
        x = torch.tensor(images[i:i + batch]).float().div(255).unsqueeze(1)  # a copy: the file buffer is read-only
        x = normalize(x)
        correct += (model(x).argmax(1) == torch.from_numpy(labels[i:i + batch])).sum().item()
    return correct / len(images)


def train_for_budget(args, weak, strong, normalize):
    """FixMatch on a selfsup draw for a wall-clock budget (see the module's docstring)."""
    with open(args.split) as f:
        split = json.load(f)
    images = read_idx_images(os.path.join(args.root, "train-images-idx3-ubyte.gz"))
    labels = read_idx_labels(os.path.join(args.root, "train-labels-idx1-ubyte.gz"))
    test_x = read_idx_images(os.path.join(args.root, "t10k-images-idx3-ubyte.gz"))
    test_y = read_idx_labels(os.path.join(args.root, "t10k-labels-idx1-ubyte.gz"))
    if split["train_size"] != len(images):
        raise SystemExit(f"the split is of {split['train_size']} training images, the data set has {len(images)}")
    lab = np.array(split["labeled"], dtype=np.int64)
    unl = np.array(split["unlabeled"], dtype=np.int64)
    val = np.array(split["val"], dtype=np.int64)
    # The draw is read under this data set's own labels: labels_per_class of each class, or the
    # file is of another data set or order.
    counts = np.bincount(labels[lab], minlength=10)
    if not (counts == split["labels_per_class"]).all():
        raise SystemExit(f"the split's labeled images are {counts.tolist()} per class under {args.root}'s labels, "
                         f"expected {split['labels_per_class']} each")

    class Labeled(Dataset):
        def __init__(self):
            self.images = [Image.fromarray(a, "L") for a in images[lab]]
            self.labels = labels[lab]

        def __len__(self):
            return len(self.images)

        def __getitem__(self, i):
            return weak(self.images[i]), self.labels[i]

    labeled = Labeled()
    unlabeled = Views(images[unl], [weak, strong])
    lb_iter, ulb_iter = two_streams(labeled, unlabeled, args)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    model, ema, opt = model_ema_optimizer(args.lr)
    log_at = sorted(float(t) for t in args.log_at.split(",") if t) if args.log_at else []
    log_at = [t for t in log_at if t < args.budget] + [args.budget]
    points, step, trained, total_steps = [], 0, 0.0, None
    window_start, window_steps = 0.0, 0
    while trained < args.budget:
        start = time.perf_counter()
        x_lb, y_lb = next(lb_iter)
        x_w, x_s = next(ulb_iter)
        if total_steps is not None:
            for g in opt.param_groups:
                g["lr"] = args.lr * math.cos(7 * math.pi * min(step, total_steps) / (16 * total_steps))
        model.train()
        n = x_lb.shape[0]
        logits = model(torch.cat([x_lb, x_w, x_s]))
        lg_lb, lg_w, lg_s = logits[:n], logits[n:n + x_w.shape[0]], logits[n + x_w.shape[0]:]
        sup = F.cross_entropy(lg_lb, y_lb)
        conf, pseudo = torch.softmax(lg_w.detach(), dim=1).max(1)
        unsup = (F.cross_entropy(lg_s, pseudo, reduction="none") * (conf >= 0.95).float()).mean()
        opt.zero_grad(set_to_none=True)
        (sup + unsup).backward()
        opt.step()
        with torch.no_grad():
            d = min(1 - 1 / (step + 2), 0.999)
            for e, m in zip(ema.parameters(), model.parameters()):
                e.mul_(d).add_(m.detach(), alpha=1 - d)
            for e, m in zip(ema.buffers(), model.buffers()):
                e.copy_(m)
        step += 1
        trained += time.perf_counter() - start
        window_steps += 1
        # The schedule's length: from steps 10..40, then from each 30 s window.
        if (total_steps is None and step == 40) or trained - window_start >= 30:
            rate = window_steps / max(trained - window_start, 1e-9)
            total_steps = max(step + 1, step + int(rate * (args.budget - trained)))
            window_start, window_steps = trained, 0
        while log_at and trained >= log_at[0]:
            t = log_at.pop(0)
            points.append({"seconds": t, "steps": step, "val_acc_ema": accuracy(ema, images[val], labels[val], normalize),
                           "test_acc_ema": accuracy(ema, test_x, test_y, normalize)})
            print(json.dumps(points[-1]), flush=True)
    out = {"split": args.split, "seed": args.seed, "budget": args.budget, "steps": step, "threads": args.threads,
           "workers": args.workers, "labeled": len(lab), "unlabeled": len(unl), "validation": len(val),
           "points": points, "test_acc_ema": points[-1]["test_acc_ema"], "val_acc_ema": points[-1]["val_acc_ema"]}
    if args.out:
        tmp = args.out + ".tmp"
        with open(tmp, "w") as f:
            json.dump(out, f, indent=2)
        os.replace(tmp, args.out)
    print(json.dumps({k: v for k, v in out.items() if k != "points"}))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--steps", type=int, default=30, help="timed steps per phase")
    p.add_argument("--warmup", type=int, default=5, help="untimed steps before each phase")
    p.add_argument("--batch", type=int, default=64, help="labeled images per step")
    p.add_argument("--mu", type=int, default=7, help="unlabeled images per labeled image")
    p.add_argument("--workers", type=int, default=2, help="worker processes of each DataLoader")
    p.add_argument("--threads", type=int, default=2, help="torch intra-op threads of the training process")
    p.add_argument("--phases", default="e2e,augment,compute")
    p.add_argument("--split", help="training mode: a `selfsup semi --dump-split` file")
    p.add_argument("--budget", type=float, default=1800, help="training mode: seconds of training")
    p.add_argument("--log-at", default="300,600,900,1200,1800", help="training mode: seconds to score the EMA model at")
    p.add_argument("--lr", type=float, default=0.03)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="training mode: the JSON summary to write")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    np.random.seed(0)

    images = read_idx_images(os.path.join(args.root, "train-images-idx3-ubyte.gz"))
    labels = np.zeros(len(images), dtype=np.int64)  # the speed does not depend on them
    normalize = T.Normalize((0.2860,), (0.3530,))
    weak = T.Compose([T.RandomCrop(28, padding=4, padding_mode="reflect"), T.RandomHorizontalFlip(), T.ToTensor(),
                      normalize])
    strong = T.Compose([T.RandomCrop(28, padding=4, padding_mode="reflect"), T.RandomHorizontalFlip(),
                        T.RandAugment(num_ops=2), T.ToTensor(), Cutout(0.5, 0.5), normalize])
    if args.split:
        return train_for_budget(args, weak, strong, normalize)
    labeled = Views(images[:100], [weak])
    unlabeled = Views(images[100:], [weak, strong])
    lb_iter, ulb_iter = two_streams(labeled, unlabeled, args)
    y_lb = torch.from_numpy(labels[:args.batch])

    model, ema, opt = model_ema_optimizer(0.03)

    def next_batch():
        (x_lb,) = next(lb_iter)
        x_w, x_s = next(ulb_iter)
        return x_lb, x_w, x_s

    def train_step(x_lb, x_w, x_s):
        n = x_lb.shape[0]
        logits = model(torch.cat([x_lb, x_w, x_s]))
        lg_lb, lg_w, lg_s = logits[:n], logits[n:n + x_w.shape[0]], logits[n + x_w.shape[0]:]
        sup = F.cross_entropy(lg_lb, y_lb[:n])
        conf, pseudo = torch.softmax(lg_w.detach(), dim=1).max(1)
        mask = (conf >= 0.95).float()
        unsup = (F.cross_entropy(lg_s, pseudo, reduction="none") * mask).mean()
        loss = sup + unsup
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            for e, m in zip(ema.parameters(), model.parameters()):
                e.mul_(0.999).add_(m.detach(), alpha=0.001)
            for e, m in zip(ema.buffers(), model.buffers()):
                e.copy_(m)
        return loss.item()

    def timed(phase, step):
        sps = args.steps / time_steps(step, args.warmup, args.steps)
        print(f"python phase={phase} steps_per_s={sps:.3f} batch={args.batch} mu={args.mu} "
              f"workers={args.workers} threads={args.threads}", flush=True)

    phases = args.phases.split(",")
    if "e2e" in phases:
        timed("e2e", lambda: train_step(*next_batch()))
    if "augment" in phases:
        timed("augment", next_batch)
    if "compute" in phases:
        ready = next_batch()
        timed("compute", lambda: train_step(*ready))


if __name__ == "__main__":
    main()
