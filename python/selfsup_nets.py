"""PyTorch twins of selfsup's encoders, for weights written by `selfsup export`.

    import torch, selfsup_nets
    model = selfsup_nets.from_export("encoder.safetensors")            # built and loaded, eval mode
    model = selfsup_nets.build(summary["definition"]); model.load_state_dict(torch.load("encoder.pt"))

The parameter names are the C++ modules' own: a selfsup state dict loads with strict=True, and a
module here saved with `torch.save(dict(model.state_dict()))` or as safetensors starts a selfsup
run with `--init`. Inputs are images in [0, 1] normalised per channel with the mean and std the
export names (summary["normalization"]). Needs torch (and torchvision for the ResNets).
"""
import json
import struct

import numpy as np
import torch
from torch import nn


class ConvNet(nn.Module):
    """Stages of (3x3 conv without bias, BatchNorm, ReLU) x blocks_per_stage, a 2x2 max-pool between
    stages, then the mean over the pixels."""

    def __init__(self, in_channels=1, channels=(32, 64, 128), blocks_per_stage=1):
        super().__init__()
        layers, c = [], in_channels
        for s, width in enumerate(channels):
            if s > 0:
                layers.append(nn.MaxPool2d(2))
            for _ in range(blocks_per_stage):
                layers += [nn.Conv2d(c, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
                c = width
        self.features = nn.Sequential(*layers)

    def forward(self, x):
        return self.features(x).mean((2, 3))


class PatchEmbed(nn.Module):
    def __init__(self, in_channels, patch_size, dim):
        super().__init__()
        self.proj = nn.Conv2d(in_channels, dim, patch_size, stride=patch_size)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


class Attention(nn.Module):
    def __init__(self, dim, heads, qkv_bias):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, d = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        attn = ((q * (d // self.heads) ** -0.5) @ k.transpose(-2, -1)).softmax(-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, d))


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(nn.functional.gelu(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim, heads, mlp_ratio, qkv_bias):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads, qkv_bias)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, max(1, round(dim * mlp_ratio)))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class ViT(nn.Module):
    """A ViT whose features are the normalised class token (pool "cls") or the mean of the
    normalised patch tokens (pool "mean")."""

    def __init__(self, in_channels=1, image_size=28, patch_size=4, dim=128, depth=6, heads=4, mlp_ratio=4.0,
                 qkv_bias=True, pool="cls"):
        super().__init__()
        self.pool = pool
        self.patch_embed = PatchEmbed(in_channels, patch_size, dim)
        patches = (image_size // patch_size) ** 2
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + patches, dim))
        self.blocks = nn.ModuleList([Block(dim, heads, mlp_ratio, qkv_bias) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, x):
        x = self.patch_embed(x) + self.pos_embed[:, 1:]
        cls = (self.cls_token + self.pos_embed[:, :1]).expand(x.shape[0], -1, -1)
        x = torch.cat([cls, x], 1)
        for block in self.blocks:
            x = block(x)
        return self.norm(x[:, 1:]).mean(1) if self.pool == "mean" else self.norm(x[:, 0])


def resnet(depth=18, in_channels=3, cifar_stem=True):
    """torchvision's ResNet-18/34 without its classifier; the CIFAR stem is a 3x3 stride-1
    convolution and no max-pool."""
    import torchvision

    model = {18: torchvision.models.resnet18, 34: torchvision.models.resnet34}[depth]()
    if cifar_stem:
        model.conv1 = nn.Conv2d(in_channels, 64, 3, 1, 1, bias=False)
        model.maxpool = nn.Identity()
    elif in_channels != 3:
        model.conv1 = nn.Conv2d(in_channels, 64, 7, 2, 3, bias=False)
    model.fc = nn.Identity()
    return model


def build(definition):
    """The module a `selfsup export` summary's "definition" describes."""
    name, args = definition["module"], definition.get("args", {})
    if name == "torchvision.models.resnet18":
        return resnet(18, 3, False, **args)
    builders = {"selfsup_nets.ConvNet": ConvNet, "selfsup_nets.ViT": ViT, "selfsup_nets.resnet": resnet}
    if name not in builders:
        raise ValueError(f"unknown module {name!r} (known: {', '.join(builders)}, torchvision.models.resnet18)")
    return builders[name](**args)


SAFETENSORS_DTYPES = {"F32": np.float32, "F64": np.float64, "F16": np.float16, "I64": np.int64, "I32": np.int32,
                      "U8": np.uint8, "BOOL": np.bool_}


def read_safetensors(path):
    """(tensors, metadata) of a safetensors file, read with numpy alone (bf16 excepted)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    metadata = header.pop("__metadata__", {})
    base, tensors = 8 + n, {}
    for name, e in header.items():
        begin, end = e["data_offsets"]
        if e["dtype"] == "BF16":
            raw = np.frombuffer(data[base + begin:base + end], dtype=np.uint16).astype(np.uint32) << 16
            t = torch.from_numpy(raw.view(np.float32).copy()).to(torch.bfloat16)
        else:
            t = torch.from_numpy(np.frombuffer(data[base + begin:base + end], dtype=SAFETENSORS_DTYPES[e["dtype"]]).copy())
        tensors[name] = t.reshape(e["shape"])
    return tensors, metadata


def from_export(path, definition=None):
    """The encoder in a `selfsup export` file, built and loaded, in eval mode: a safetensors file
    carries its definition; a torch file needs the export summary's `definition`."""
    if path.endswith(".safetensors"):
        state, metadata = read_safetensors(path)
        definition = definition or json.loads(metadata["selfsup.definition"])
    else:
        state = torch.load(path)
    if definition is None:
        raise ValueError("a torch file needs the definition printed by `selfsup export`")
    model = build(definition)
    model.load_state_dict(state, strict=True)
    return model.eval()
