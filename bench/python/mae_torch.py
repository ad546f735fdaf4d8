#!/usr/bin/python3
"""MAE pretraining on Fashion-MNIST the way the MAE reference code writes it: the Python side of the
MAE speed benchmark.

The same step as configs/fashion_mnist/mae.yaml: a ViT (dim 128, depth 6, 4 heads, MLP ratio 4,
4x4 patches, fixed 2-D sine-cosine positions, class token) sees 12 of each image's 49 patches
(random_masking: argsort of uniform noise, 75% hidden), a decoder (Linear to 64, mask token, 2
blocks of 4 heads, LayerNorm, Linear to 16 pixels) predicts every patch; the loss is the mean
squared error of the hidden patches to their standardised pixels (norm_pix_loss); AdamW lr 1.5e-3,
betas (0.9, 0.95), weight decay 0.05 on weights of rank >= 2, batch 256. The blocks are timm's
(pre-norm, qkv Linear with bias, GELU MLP, LayerNorm eps 1e-6) written out, since models_mae.py
imports them from timm. Views: RandomResizedCrop(28, scale (0.2, 1), bicubic) + horizontal flip
on PIL images in a Dataset, batched by a DataLoader with worker processes, as main_pretrain.py.

Phases (each after `--warmup` untimed steps), one parseable line each:
  python phase=e2e steps_per_s=...       loader + forward + backward + step, as in training
  python phase=compute steps_per_s=...   forward + backward + step on one ready batch
Run it with GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=4294967296 for
"allocator fixed" (bench/run_mae_bench.py does).
"""
import argparse
import os

import numpy as np
import torch
import torch.nn as nn
from PIL import Image
from torch.utils.data import DataLoader, Dataset, RandomSampler
from torchvision import transforms as T

from simclr_torch import read_idx_images, time_steps


def sincos_2d(dim, grid):
    """MAE's get_2d_sincos_pos_embed with a class token row of zeros: [1 + grid^2, dim]."""
    omega = 1.0 / 10000 ** (np.arange(dim // 4, dtype=np.float64) / (dim / 4.0))
    gw, gh = np.meshgrid(np.arange(grid, dtype=np.float64), np.arange(grid, dtype=np.float64))

    def one(pos):
        out = np.einsum("m,d->md", pos.reshape(-1), omega)
        return np.concatenate([np.sin(out), np.cos(out)], axis=1)

    emb = np.concatenate([one(gw), one(gh)], axis=1)
    return torch.from_numpy(np.concatenate([np.zeros([1, dim]), emb], axis=0)).float()


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads, self.scale = heads, (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        attn = ((q @ k.transpose(-2, -1)) * self.scale).softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, c))


class Block(nn.Module):
    def __init__(self, dim, heads, mlp_ratio=4.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class MaskedAutoencoderViT(nn.Module):
    def __init__(self, img=28, patch=4, chans=1, dim=128, depth=6, heads=4, ddim=64, ddepth=2, dheads=4):
        super().__init__()
        self.patch, self.chans = patch, chans
        grid = img // patch
        self.patch_embed = nn.Conv2d(chans, dim, patch, patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(sincos_2d(dim, grid).unsqueeze(0), requires_grad=False)
        self.blocks = nn.ModuleList([Block(dim, heads) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.decoder_embed = nn.Linear(dim, ddim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, ddim))
        self.decoder_pos_embed = nn.Parameter(sincos_2d(ddim, grid).unsqueeze(0), requires_grad=False)
        self.decoder_blocks = nn.ModuleList([Block(ddim, dheads) for _ in range(ddepth)])
        self.decoder_norm = nn.LayerNorm(ddim, eps=1e-6)
        self.decoder_pred = nn.Linear(ddim, patch * patch * chans)
        torch.nn.init.normal_(self.cls_token, std=0.02)
        torch.nn.init.normal_(self.mask_token, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                torch.nn.init.xavier_uniform_(m.weight)
                nn.init.constant_(m.bias, 0)

    def patchify(self, imgs):
        p, n = self.patch, imgs.shape[0]
        h = imgs.shape[2] // p
        x = imgs.reshape(n, self.chans, h, p, h, p)
        x = torch.einsum("nchpwq->nhwpqc", x)
        return x.reshape(n, h * h, p * p * self.chans)

    def random_masking(self, x, mask_ratio):
        n, l, d = x.shape
        keep = int(l * (1 - mask_ratio))
        noise = torch.rand(n, l, device=x.device)
        ids_shuffle = torch.argsort(noise, dim=1)
        ids_restore = torch.argsort(ids_shuffle, dim=1)
        x_masked = torch.gather(x, 1, ids_shuffle[:, :keep].unsqueeze(-1).repeat(1, 1, d))
        mask = torch.ones([n, l], device=x.device)
        mask[:, :keep] = 0
        return x_masked, torch.gather(mask, 1, ids_restore), ids_restore

    def forward(self, imgs, mask_ratio=0.75):
        x = self.patch_embed(imgs).flatten(2).transpose(1, 2) + self.pos_embed[:, 1:, :]
        x, mask, ids_restore = self.random_masking(x, mask_ratio)
        cls = (self.cls_token + self.pos_embed[:, :1, :]).expand(x.shape[0], -1, -1)
        x = torch.cat((cls, x), dim=1)
        for blk in self.blocks:
            x = blk(x)
        x = self.decoder_embed(self.norm(x))
        mask_tokens = self.mask_token.repeat(x.shape[0], ids_restore.shape[1] + 1 - x.shape[1], 1)
        x_ = torch.cat([x[:, 1:, :], mask_tokens], dim=1)
        x_ = torch.gather(x_, 1, ids_restore.unsqueeze(-1).repeat(1, 1, x.shape[2]))
        x = torch.cat([x[:, :1, :], x_], dim=1) + self.decoder_pos_embed
        for blk in self.decoder_blocks:
            x = blk(x)
        pred = self.decoder_pred(self.decoder_norm(x))[:, 1:, :]
        target = self.patchify(imgs)
        mean, var = target.mean(dim=-1, keepdim=True), target.var(dim=-1, keepdim=True)
        target = (target - mean) / (var + 1.0e-6) ** 0.5
        loss = ((pred - target) ** 2).mean(dim=-1)
        return (loss * mask).sum() / mask.sum()


class Views(Dataset):
    def __init__(self, images, transform):
        self.images = [Image.fromarray(a, "L") for a in images]
        self.transform = transform

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return self.transform(self.images[i])


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--steps", type=int, default=20, help="timed steps per phase")
    p.add_argument("--warmup", type=int, default=5, help="untimed steps before each phase")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--workers", type=int, default=2, help="worker processes of the DataLoader")
    p.add_argument("--threads", type=int, default=2, help="torch intra-op threads of the training process")
    p.add_argument("--phases", default="e2e,compute")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    images = read_idx_images(os.path.join(args.root, "train-images-idx3-ubyte.gz"))
    transform = T.Compose([T.RandomResizedCrop(28, scale=(0.2, 1.0), interpolation=T.InterpolationMode.BICUBIC),
                           T.RandomHorizontalFlip(), T.ToTensor(), T.Normalize((0.2860,), (0.3530,))])
    data = Views(images, transform)
    loader = DataLoader(data, batch_size=args.batch, sampler=RandomSampler(data, True, 10**8),
                        num_workers=args.workers, persistent_workers=args.workers > 0, drop_last=True)
    it = iter(loader)
    model = MaskedAutoencoderViT()
    decay = [q for q in model.parameters() if q.requires_grad and q.ndim > 1]
    plain = [q for q in model.parameters() if q.requires_grad and q.ndim <= 1]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": plain, "weight_decay": 0.0}],
                            lr=1.5e-3, betas=(0.9, 0.95))

    def train_step(x):
        loss = model(x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()

    def timed(phase, step):
        sps = args.steps / time_steps(step, args.warmup, args.steps)
        print(f"python phase={phase} steps_per_s={sps:.3f} batch={args.batch} workers={args.workers} "
              f"threads={args.threads}", flush=True)

    for phase in args.phases.split(","):
        if phase == "e2e":
            timed("e2e", lambda: train_step(next(it)))
        elif phase == "compute":
            x = next(it)
            timed("compute", lambda: train_step(x))
        else:
            raise SystemExit(f"unknown phase '{phase}'")


if __name__ == "__main__":
    main()
