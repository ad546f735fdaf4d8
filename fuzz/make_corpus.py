#!/usr/bin/env python3
"""Writes the seed inputs of fuzz/corpus/<target>/: small valid files of each format plus a few
near misses. The checkpoint seed comes from the target itself (SELFSUP_FUZZ_WRITE_SEED).
Usage: python3 fuzz/make_corpus.py [FUZZ_CHECKPOINT_BINARY]"""
import os
import struct
import subprocess
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))


def put(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def png(width, height, colour_type, channels, bit_depth=8):
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    rows = b"".join(b"\0" + bytes((x * 37 + y * 11 + c) % 256 for x in range(width) for c in range(channels))
                    for y in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def bmp(width, height):
    stride = (width * 3 + 3) // 4 * 4
    pixels = b"".join(bytes((x * 5 + y) % 256 for x in range(width) for _ in range(3)).ljust(stride, b"\0")
                      for y in range(height))
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, len(pixels), 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 14 + 40 + len(pixels), 0, 0, 54) + info + pixels


def main():
    # IDX: images (magic 0x803, n, rows, cols), labels (0x801, n), and near misses.
    images = struct.pack(">IIII", 0x803, 2, 3, 3) + bytes(range(18))
    put("idx", "images", images)
    put("idx", "labels", struct.pack(">II", 0x801, 3) + bytes([0, 9, 4]))
    put("idx", "images_truncated", images[:-4])
    put("idx", "images_huge_count", struct.pack(">IIII", 0x803, 0x7FFFFFFF, 28, 28) + bytes(16))
    put("idx", "wrong_magic", struct.pack(">IIII", 0x802, 1, 2, 2) + bytes(4))
    # CIFAR: one CIFAR-10 record (label, 3x32x32), one CIFAR-100 record (coarse, fine, pixels).
    pixels = bytes(i % 256 for i in range(3072))
    put("cifar", "cifar10_record", bytes([7]) + pixels)
    put("cifar", "cifar100_record", bytes([3, 42]) + pixels)
    put("cifar", "partial_record", bytes([1]) + pixels[:100])
    # Images: PNG grey / RGB / RGBA / 16-bit grey, BMP; JPEG seeds are written by torchvision when
    # it is there (python3-torchvision in scripts/setup.sh).
    put("image_folder", "grey.png", png(4, 3, 0, 1))
    put("image_folder", "rgb.png", png(4, 3, 2, 3))
    put("image_folder", "rgba.png", png(3, 3, 6, 4))
    put("image_folder", "grey16.png", png(2, 2, 0, 2, bit_depth=16))
    put("image_folder", "rgb.bmp", bmp(3, 2))
    try:
        import torch
        import torchvision.io as tio
        x = (torch.arange(3 * 8 * 8) % 251).to(torch.uint8).reshape(3, 8, 8)
        put("image_folder", "rgb.jpg", bytes(tio.encode_jpeg(x, quality=50).tolist()))
        put("image_folder", "grey.jpg", bytes(tio.encode_jpeg(x[:1], quality=50).tolist()))
    except ImportError:
        print("torchvision not found: no JPEG seeds", file=sys.stderr)
    # Configs: every shipped config, then overrides after ---set---.
    configs = os.path.join(HERE, "..", "configs")
    for root, _, files in sorted(os.walk(configs)):
        for f in sorted(files):
            if f.endswith(".yaml") and ("simclr" in f or "fixmatch" in f or "byol" in f):
                rel = os.path.relpath(os.path.join(root, f), configs).replace(os.sep, "_")
                with open(os.path.join(root, f)) as fh:
                    put("config", rel, fh.read())
    put("config", "with_sets", "train: {lr: 0.1, max_steps: 4}\nmethod: {name: simclr}\n---set---\n"
        "train.lr=0.5\nmodel.channels=[8, 16]\naugment.views=[{crop: 28}]\nseed=3\n")
    put("config", "anchors", "base: &b {lr: 0.1}\ntrain: *b\nlist: [1, 2, {a: 1}]\n")
    if len(sys.argv) > 1:
        out = os.path.join(HERE, "corpus", "checkpoint", "tiny.ckpt")
        os.makedirs(os.path.dirname(out), exist_ok=True)
        subprocess.run([sys.argv[1]], env=dict(os.environ, SELFSUP_FUZZ_WRITE_SEED=out), check=True)


if __name__ == "__main__":
    main()
