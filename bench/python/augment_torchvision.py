#!/usr/bin/python3
"""Two-view SimCLR augmentation throughput of the pipeline as Python users write it.

torchvision transforms on PIL images inside a Dataset, two views per item, a DataLoader with
batch 256, two persistent worker processes. This is the baseline bench/augment_bench.cpp is
compared against (bench/run_augment_bench.sh runs both).

Prints one parseable line per shape:
  torchvision shape=28x28x1 images_per_s=1234.5 views_per_image=2 batch=256 workers=2
"""
import argparse
import time

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms as T


def simclr_transform(size):
    # Same parameters as the C++ benchmark: crop scale (0.2, 1), flip 0.5,
    # jitter 0.4/0.4/0.4/0.1 with p 0.8, grayscale 0.2.
    return T.Compose([
        T.RandomResizedCrop(size, scale=(0.2, 1.0)),
        T.RandomHorizontalFlip(p=0.5),
        T.RandomApply([T.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8),
        T.RandomGrayscale(p=0.2),
        T.ToTensor(),
    ])


class TwoViews(Dataset):
    def __init__(self, images, transform):
        mode = "L" if images.shape[-1] == 1 else "RGB"
        self.images = [Image.fromarray(a.squeeze(-1) if mode == "L" else a, mode) for a in images]
        self.transform = transform

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        img = self.images[i]
        return self.transform(img), self.transform(img)


def measure(h, w, c, args):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(args.images, h, w, c), dtype=np.uint8)
    loader = DataLoader(TwoViews(images, simclr_transform(h)), batch_size=args.batch,
                        shuffle=True, num_workers=args.workers, persistent_workers=True,
                        drop_last=True)
    # One pass to start the workers and warm their caches, then timed passes.
    for _ in loader:
        pass
    seen = 0
    start = time.perf_counter()
    for _ in range(args.epochs):
        for v1, v2 in loader:
            seen += v1.shape[0]
    elapsed = time.perf_counter() - start
    del loader
    return seen / elapsed


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=256 * 12, help="source images in the data set")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--epochs", type=int, default=1, help="timed passes over the data set")
    p.add_argument("--shapes", default="28x28x1,32x32x3", help="HxWxC list")
    args = p.parse_args()
    torch.set_num_threads(1)
    for shape in args.shapes.split(","):
        h, w, c = (int(v) for v in shape.split("x"))
        ips = measure(h, w, c, args)
        print(f"torchvision shape={shape} images_per_s={ips:.1f} views_per_image=2 "
              f"batch={args.batch} workers={args.workers}", flush=True)


if __name__ == "__main__":
    main()
