"""Checks of tests/cli/export.sh, in Debian's python3 with torch, torchvision and numpy.

  export_check.py same SUMMARY.json FILE EMBED_DIR DATA_DIR [LIMIT]
      the exported encoder, built by python/selfsup_nets.py and loaded strictly, gives the
      features `selfsup embed` wrote for the first LIMIT test images (default all; max difference
      below 1e-5 relative to the features' scale); labels.npy holds the test labels
  export_check.py torchvision OUT.pt CHANNELS
      writes torch.save(model.state_dict()) of a torchvision ResNet-18 with CHANNELS input
      channels (an OrderedDict, as users save it), for `--init`
"""
import gzip
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
import selfsup_nets  # noqa: E402


def idx(path):
    with gzip.open(path) as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def same(summary_path, path, embed_dir, data_dir, limit=None):
    torch.set_num_threads(1)
    with open(summary_path) as f:
        summary = json.load(f)
    model = selfsup_nets.from_export(path, summary["definition"])
    images = torch.from_numpy(idx(os.path.join(data_dir, "t10k-images-idx3-ubyte.gz")).copy()).float().div(255)
    images = images.unsqueeze(1)
    count = len(images) if limit is None else int(limit)
    assert 0 < count <= len(images), f"LIMIT {limit} outside 1..{len(images)}"
    images = images[:count]
    norm = summary["normalization"]
    mean = torch.tensor(norm["mean"]).view(1, -1, 1, 1)
    std = torch.tensor(norm["std"]).view(1, -1, 1, 1)
    with torch.no_grad():
        ours = torch.cat([model((images[i:i + 1000] - mean) / std) for i in range(0, len(images), 1000)])
    theirs = torch.from_numpy(np.load(os.path.join(embed_dir, "features.npy")))
    labels = np.load(os.path.join(embed_dir, "labels.npy"))
    assert theirs.dtype == torch.float32 and theirs.shape[1:] == ours.shape[1:], (theirs.shape, ours.shape)
    assert len(theirs) == len(labels), (theirs.shape, labels.shape)
    theirs = theirs[:count]
    assert labels.dtype == np.int64 and (labels == idx(os.path.join(data_dir, "t10k-labels-idx1-ubyte.gz"))).all()
    scale = theirs.abs().max().item()
    diff = (ours - theirs).abs().max().item()
    assert diff <= 1e-5 * max(1.0, scale), f"max difference {diff} (features up to {scale})"
    print(f"{summary['definition']['module']} from {os.path.basename(path)}: max difference {diff:.2e} "
          f"over {tuple(ours.shape)} features up to {scale:.2f}")


def torchvision_state(out, channels):
    torch.manual_seed(0)
    model = selfsup_nets.resnet(18, channels, cifar_stem=False)
    torch.save(model.state_dict(), out)


if __name__ == "__main__":
    if sys.argv[1] == "same":
        same(*sys.argv[2:7])
    elif sys.argv[1] == "torchvision":
        torchvision_state(sys.argv[2], int(sys.argv[3]))
    else:
        sys.exit(f"unknown check {sys.argv[1]}")
