#!/usr/bin/python3
"""Writes torchvision_reference.txt: torchvision's outputs for fixed inputs and factors, which
tests/augment/torchvision_test.cpp compares against (torchvision 0.14, tensor backend).

Each line: `name count v1 v2 ...` (outputs flattened in [B, C, H, W] order, sample by sample).
The input is rebuilt in C++ from the same formula (see reference_input there).
Run: /usr/bin/python3 tests/augment/data/make_torchvision_reference.py
"""
import os

import torch
import torchvision.transforms.functional as F

B, C, H, W = 2, 3, 6, 7


def grid(shape):
    return torch.meshgrid(*[torch.arange(n) for n in shape], indexing="ij")


def reference_input():
    b, c, h, w = grid((B, C, H, W))
    q = (b * 131 + c * 71 + h * 29 + w * 13 + ((h * w) % 7) * 17) % 256
    return q.to(torch.uint8)


def equalize_input():
    # Larger and skewed toward dark values, so that equalization has something to do.
    b, c, h, w = grid((2, 3, 24, 24))
    q = (b * 53 + c * 31 + h * h * 3 + w * 5) % 97 + b * 40
    return q.to(torch.uint8)


def per_sample(fn, x, values):
    return torch.cat([fn(x[i:i + 1], v) for i, v in enumerate(values)])


def main():
    q = reference_input()
    x = q.float() / 255
    cases = {
        "brightness": per_sample(F.adjust_brightness, x, [1.3, 0.6]),
        "contrast": per_sample(F.adjust_contrast, x, [1.4, 0.5]),
        "saturation": per_sample(F.adjust_saturation, x, [1.6, 0.3]),
        "hue": per_sample(F.adjust_hue, x, [0.23, -0.41]),
        "sharpness": per_sample(F.adjust_sharpness, x, [1.8, 0.2]),
        "solarize": per_sample(F.solarize, x, [0.5, 0.3]),
        "autocontrast": F.autocontrast(x),
        "equalize": F.equalize(equalize_input()).float() / 255,
        "posterize": per_sample(F.posterize, q, [3, 6]).float() / 255,
        "blur": per_sample(lambda im, s: F.gaussian_blur(im, [5, 5], [s, s]), x, [0.8, 1.7]),
        # boxes (top, left, height, width) -> size (5, 8): an enlargement and a reduction
        "resized_crop": torch.cat([
            F.resized_crop(x[0:1], 1, 2, 4, 3, [5, 8], antialias=False),
            F.resized_crop(x[1:2], 0, 0, 6, 7, [5, 8], antialias=False)]),
    }
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "torchvision_reference.txt")
    with open(path, "w") as f:
        for name, t in cases.items():
            v = t.reshape(-1).tolist()
            f.write(name + " " + str(len(v)) + " " + " ".join(f"{a:.7g}" for a in v) + "\n")


if __name__ == "__main__":
    main()
