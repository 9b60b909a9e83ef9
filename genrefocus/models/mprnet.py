"""MPRNet (Zamir et al., "Multi-Stage Progressive Image Restoration", CVPR 2021) as JDRL's ``F_D``
backbone option (``JDRLConfig(backbone="mprnet")``; paper 004 uses MPRNet or Restormer).

Written from the MPRNet paper (§3), sized by ``width``:

* every stage starts from **shallow features** of its input — here the image *and* JDRL's defocus map
  ``B̂`` (conv + a channel-attention block): this is where F_B is fused into F_D by channel attention;
* **stage 1** restores the four quarters of the image independently and **stage 2** its two halves
  (one shared 3-level encoder–decoder of channel-attention blocks, CABs, per stage; bilinear
  down/up-sampling + 1×1 convs), each closed by a **supervised attention module** (SAM: an image
  estimate ``x + conv(F)`` that is supervised, and attention maps ``σ(conv(estimate))`` gating the
  features passed on) — stage 1's SAM per half, as stage 2 reads halves: nothing in stages 1–2 crosses
  the horizontal mid-line;
* **cross-stage feature fusion** (CSFF): stage 1's encoder and decoder features enter stage 2's
  encoder (1×1 convs, added), stage 2's enter stage 3;
* **stage 3** works at full resolution (original-resolution blocks, ORBs, of CABs — no downsampling)
  and returns the final estimate.

The restored images of all three stages are returned (``stages``), so training supervises each (the
paper's loss is summed over stages). No pretrained MPRNet weights are loaded (the public ones are for
3-channel input without ``B̂``); a GPU user trains it with ``training/train_jdrl.py --backbone mprnet``.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class CAB(nn.Module):
    """Channel-attention block: ``x + CA(conv(act(conv(x))))``."""

    def __init__(self, c: int, reduction: int = 4):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(c, c, 3, padding=1), nn.PReLU(), nn.Conv2d(c, c, 3, padding=1))
        self.ca = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(c, max(4, c // reduction), 1), nn.ReLU(inplace=True),
                                nn.Conv2d(max(4, c // reduction), c, 1), nn.Sigmoid())

    def forward(self, x):
        r = self.body(x)
        return x + r * self.ca(r)


def _resample(x, scale: float):
    return F.interpolate(x, scale_factor=scale, mode="bilinear", align_corners=False)


class EncoderDecoder(nn.Module):
    """3-level U-Net of CABs (channels ``c``, ``c + s``, ``c + 2s``); ``forward(x, csff=None) →
    (restored features at level 0, encoder features, decoder features)``; ``csff``: the previous stage's
    (encoder, decoder) features, fused into this encoder by 1×1 convs."""

    def __init__(self, c: int, step: int, fuse_previous: bool):
        super().__init__()
        ch = [c, c + step, c + 2 * step]
        self.enc = nn.ModuleList([nn.Sequential(CAB(k), CAB(k)) for k in ch])
        self.down = nn.ModuleList([nn.Conv2d(ch[i], ch[i + 1], 1) for i in range(2)])
        self.up = nn.ModuleList([nn.Conv2d(ch[i + 1], ch[i], 1) for i in range(2)])
        self.skip = nn.ModuleList([CAB(ch[i]) for i in range(2)])
        self.dec = nn.ModuleList([nn.Sequential(CAB(k), CAB(k)) for k in ch])
        if fuse_previous:
            self.csff_enc = nn.ModuleList([nn.Conv2d(k, k, 1) for k in ch])
            self.csff_dec = nn.ModuleList([nn.Conv2d(k, k, 1) for k in ch])

    def forward(self, x, csff=None):
        encs, h = [], x
        for i in range(3):
            h = self.enc[i](h)
            if csff is not None:
                h = h + self.csff_enc[i](csff[0][i]) + self.csff_dec[i](csff[1][i])
            encs.append(h)
            if i < 2:
                h = self.down[i](_resample(h, 0.5))
        decs = [None, None, self.dec[2](encs[2])]
        for i in (1, 0):
            decs[i] = self.dec[i](self.up[i](_resample(decs[i + 1], 2.0)) + self.skip[i](encs[i]))
        return decs[0], encs, decs


class SAM(nn.Module):
    """Supervised attention module: ``estimate = image + conv(F)``; features out ``F + conv(F)·σ(conv(estimate))``."""

    def __init__(self, c: int):
        super().__init__()
        self.to_img, self.feat, self.att = nn.Conv2d(c, 3, 3, padding=1), nn.Conv2d(c, c, 3, padding=1), nn.Conv2d(3, c, 3, padding=1)

    def forward(self, f, image, residual_fn):
        estimate = image + residual_fn(self.to_img(f))
        return f + self.feat(f) * torch.sigmoid(self.att(estimate)), estimate


def _split(x, rows: int, cols: int):
    return [t for row in x.chunk(rows, dim=-2) for t in row.chunk(cols, dim=-1)]


def _join(parts, rows: int, cols: int):
    return torch.cat([torch.cat(parts[r * cols:(r + 1) * cols], -1) for r in range(rows)], -2)


class MPRNetTrunk(nn.Module):
    """``forward(image (B, 3, H, W) in [0, 1], side (B, S, H, W), residual_fn) → [stage 1, 2, 3]``
    restored images, each ``image + residual_fn(...)``; ``side`` (JDRL's ``B̂``) joins the shallow
    features of every stage. H, W multiples of :attr:`stride`."""

    stride = 8

    def __init__(self, side_channels: int, c: int = 16, step: int | None = None, orbs: int = 2):
        super().__init__()
        step = step or max(4, c // 2)   # the paper: 96 channels, +48 per encoder level
        self.shallow = nn.ModuleList([nn.Sequential(nn.Conv2d(3 + side_channels, c, 3, padding=1), CAB(c))
                                      for _ in range(3)])
        self.stage1, self.stage2 = EncoderDecoder(c, step, False), EncoderDecoder(c, step, True)
        self.sam1, self.sam2 = SAM(c), SAM(c)
        self.concat12, self.concat23 = nn.Conv2d(2 * c, c, 3, padding=1), nn.Conv2d(2 * c, c, 3, padding=1)
        self.orbs = nn.ModuleList([nn.Sequential(CAB(c), CAB(c), nn.Conv2d(c, c, 3, padding=1)) for _ in range(orbs)])
        self.csff3_enc = nn.ModuleList([nn.Conv2d(k, c, 1) for k in (c, c + step, c + 2 * step)][:orbs])
        self.csff3_dec = nn.ModuleList([nn.Conv2d(k, c, 1) for k in (c, c + step, c + 2 * step)][:orbs])
        self.tail = nn.Conv2d(c, 3, 3, padding=1)
        nn.init.zeros_(self.tail.weight)
        nn.init.zeros_(self.tail.bias)

    def forward(self, image, side, residual_fn):
        xin = torch.cat([image * 2 - 1, side], 1)
        halves, half_imgs = _split(xin, 2, 1), _split(image, 2, 1)
        est1, est2, g1s, feats1 = [], [], [], []
        # stage 1: in each half, its two quarters through one encoder–decoder, joined; SAM per half
        for h_in, h_img in zip(halves, half_imgs):
            outs = [self.stage1(self.shallow[0](q)) for q in _split(h_in, 1, 2)]
            f = _join([o[0] for o in outs], 1, 2)
            enc = [_join([o[1][i] for o in outs], 1, 2) for i in range(3)]
            dec = [_join([o[2][i] for o in outs], 1, 2) for i in range(3)]
            g, e = self.sam1(f, h_img, residual_fn)
            g1s.append(g)
            est1.append(e)
            feats1.append((enc, dec))
        # stage 2: each half on its own, stage 1's features fused in (CSFF)
        outs = [self.stage2(self.concat12(torch.cat([self.shallow[1](h_in), g], 1)), csff)
                for h_in, g, csff in zip(halves, g1s, feats1)]
        f2 = _join([o[0] for o in outs], 2, 1)
        enc2 = [_join([o[1][i] for o in outs], 2, 1) for i in range(3)]
        dec2 = [_join([o[2][i] for o in outs], 2, 1) for i in range(3)]
        g2, est2 = self.sam2(f2, image, residual_fn)
        # stage 3: full resolution, stage 2's features fused in level by level (upsampled)
        h = self.concat23(torch.cat([self.shallow[2](xin), g2], 1))
        for i, orb in enumerate(self.orbs):
            s = 2 ** i
            h = orb(h) + self.csff3_enc[i](_resample(enc2[i], s) if s > 1 else enc2[i]) \
                + self.csff3_dec[i](_resample(dec2[i], s) if s > 1 else dec2[i])
        return [_join(est1, 2, 1), est2, image + residual_fn(self.tail(h))]


__all__ = ["CAB", "EncoderDecoder", "MPRNetTrunk", "SAM"]
