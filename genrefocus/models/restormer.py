"""Restormer's transformer block (Zamir et al., CVPR 2022), the backbone JDRL's paper reports best
with (paper 004, Table 3) — here as a block for JDRL's F_D (``JDRLConfig(backbone="restormer")``).

* :class:`MDTA` — multi-Dconv head *transposed* attention: 1×1 then depthwise 3×3 convs make q, k, v;
  q and k are L2-normalised over the pixels, and the attention map is channels × channels per head
  (``softmax(τ · q̂ k̂ᵀ) v``, τ learned per head) — linear in the number of pixels.
* :class:`GDFN` — gated-Dconv feed-forward: 1×1 to 2·γ·C, depthwise 3×3, ``GELU(x₁) ⊙ x₂``, 1×1 back
  (γ = 2.66).
* :class:`RestormerBlock` — ``x + MDTA(LN(x))`` then ``x + GDFN(LN(x))``; LN over channels per pixel.

Written from the paper's equations (no code copied); torch has no such block.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class ChannelLayerNorm(nn.Module):
    """Layer normalisation over the channels of each pixel of ``(B, C, H, W)`` (with bias)."""

    def __init__(self, c: int):
        super().__init__()
        self.norm = nn.LayerNorm(c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class MDTA(nn.Module):
    def __init__(self, c: int, heads: int):
        super().__init__()
        if c % heads:
            raise ValueError(f"MDTA: {c} channels do not split into {heads} heads")
        self.heads = heads
        self.temperature = nn.Parameter(torch.ones(heads, 1, 1))
        self.qkv = nn.Conv2d(c, 3 * c, 1, bias=False)
        self.qkv_dw = nn.Conv2d(3 * c, 3 * c, 3, padding=1, groups=3 * c, bias=False)
        self.proj = nn.Conv2d(c, c, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, C, H, W = x.shape
        q, k, v = self.qkv_dw(self.qkv(x)).chunk(3, dim=1)
        q, k, v = (t.reshape(B, self.heads, C // self.heads, H * W) for t in (q, k, v))
        q, k = F.normalize(q, dim=-1), F.normalize(k, dim=-1)
        attn = torch.softmax((q @ k.transpose(-2, -1)) * self.temperature, dim=-1)   # (B, heads, C/h, C/h)
        return self.proj((attn @ v).reshape(B, C, H, W))


class GDFN(nn.Module):
    def __init__(self, c: int, expansion: float = 2.66):
        super().__init__()
        hidden = int(c * expansion)
        self.inp = nn.Conv2d(c, 2 * hidden, 1, bias=False)
        self.dw = nn.Conv2d(2 * hidden, 2 * hidden, 3, padding=1, groups=2 * hidden, bias=False)
        self.out = nn.Conv2d(hidden, c, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1, x2 = self.dw(self.inp(x)).chunk(2, dim=1)
        return self.out(F.gelu(x1) * x2)


class RestormerBlock(nn.Module):
    """``(B, C, H, W) → (B, C, H, W)``; ``heads`` must divide ``C``."""

    def __init__(self, c: int, heads: int, expansion: float = 2.66):
        super().__init__()
        self.norm1, self.attn = ChannelLayerNorm(c), MDTA(c, heads)
        self.norm2, self.ffn = ChannelLayerNorm(c), GDFN(c, expansion)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.ffn(self.norm2(x))


__all__ = ["GDFN", "MDTA", "ChannelLayerNorm", "RestormerBlock"]
