"""JDRL's reblurring module and loss pieces (paper 004, Li et al.; docs/design.md §7) — the parts that make a
deblurring network learnable from misaligned pairs.

* :func:`isotropic_kernels` — Eq. 9: per-pixel kernel seeds ``s_i = [a_0 … a_{i−1}]`` (``i = 2…m``)
  → isotropic kernels of size ``(2i−1)²`` whose value at distance ``ρ`` from the centre is ``a_ρ``
  linearly interpolated between the two nearest integer radii (``|a|``, as the authors' code), 0
  beyond ``i − 1``, then a softmax over the kernel's ``(2i−1)²`` taps (the outside taps, logit 0,
  keep a small weight — the authors' code does the same).
* :class:`Reblur` — ``R = (R_kpn, R_wpn)``: seeds and ``m`` softmax weight maps from ``[Î, I_B]``;
  the reblurred image ``Σ_i W_i · (k_i ∗ Î)`` with ``k_1`` the identity (Eq. 10–11).
* :func:`pseudo_defocus_map` — Eq. 13: the seeds weighted by their level's weight map.
* :func:`calibration_mask` — Eq. 6 on the flow magnitude: ``(1−λ)·mean < |Φ| < (1+λ)·mean``, λ = 0.35.
  (The authors' code applies it to a colour-coded image of the flow instead of its magnitude; the
  paper's text — "anomalies in its magnitude" — is what is implemented here.)
* the Charbonnier loss of Eq. 7/12/14 (ε = 1e-3) is :func:`genrefocus.models.losses.charbonnier`.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

#: kernel seed lengths i = 2 … m (m = 8, the paper's maximal radius): kernels 3×3 … 15×15
SEED_LENGTHS = tuple(range(2, 9))


def isotropic_kernels(seeds: torch.Tensor, lengths=SEED_LENGTHS) -> list:
    """Eq. 9. ``seeds`` ``(B, Σ lengths, H, W)`` → one ``(B, (2i−1)², H, W)`` kernel stack per length
    ``i`` (taps in row-major order), each summing to 1 over its taps."""
    if seeds.shape[1] != sum(lengths):
        raise ValueError(f"need {sum(lengths)} seed channels for lengths {tuple(lengths)}, got {seeds.shape[1]}")
    out = []
    for a in torch.split(seeds.abs(), list(lengths), dim=1):
        i = a.shape[1]
        t = torch.arange(-(i - 1), i, dtype=seeds.dtype, device=seeds.device)
        rho = torch.sqrt(t[:, None] ** 2 + t[None] ** 2).flatten()          # (k²,)
        lo = rho.floor().clamp(max=i - 1).long()
        hi = (lo + 1).clamp(max=i - 1)
        frac = (rho - lo.to(rho.dtype)).clamp(0, 1)
        val = a[:, lo] * (1 - frac)[None, :, None, None] + a[:, hi] * frac[None, :, None, None]
        val = torch.where((rho > i - 1)[None, :, None, None], torch.zeros_like(val), val)
        out.append(torch.softmax(val, dim=1))
    return out


def apply_kernels(image: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
    """Per-pixel convolution: ``image`` ``(B, C, H, W)`` with ``kernels`` ``(B, k², H, W)`` shared by the
    channels, zero padding as the authors' code."""
    B, C, H, W = image.shape
    k = int(round(kernels.shape[1] ** 0.5))
    cols = F.unfold(image, k, padding=k // 2).view(B, C, k * k, H, W)
    return (cols * kernels[:, None]).sum(2)


def _res_block(nf: int) -> nn.Module:
    return nn.Sequential(nn.Conv2d(nf, nf, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(nf, nf, 3, padding=1))


class _Branch(nn.Module):
    def __init__(self, out: int, nf: int, blocks: int):
        super().__init__()
        self.first = nn.Conv2d(6, nf, 3, padding=1)
        self.blocks = nn.ModuleList([_res_block(nf) for _ in range(blocks)])
        self.last = nn.Conv2d(nf, out, 3, padding=1)

    def forward(self, x):
        h = self.first(x)
        for b in self.blocks:
            h = h + b(h)
        return self.last(h)


class Reblur(nn.Module):
    """The reblurring network R: ``forward(sharp Î, blurry I_B) → {"reblurred", "weights", "seeds"}``."""

    def __init__(self, nf: int = 32, blocks: int = 3, lengths=SEED_LENGTHS):
        super().__init__()
        self.lengths = tuple(lengths)
        self.kpn = _Branch(sum(self.lengths), nf, blocks)
        self.wpn = _Branch(len(self.lengths) + 1, nf, blocks)

    def forward(self, sharp: torch.Tensor, blurry: torch.Tensor) -> dict:
        x = torch.cat([sharp, blurry], 1)
        seeds = self.kpn(x)
        weights = torch.softmax(self.wpn(x), dim=1)                    # (B, m, H, W), level 1 = identity
        return {"reblurred": reblur_with(sharp, seeds, weights, self.lengths), "weights": weights, "seeds": seeds}


def reblur_with(sharp: torch.Tensor, seeds: torch.Tensor, weights: torch.Tensor, lengths=SEED_LENGTHS) -> torch.Tensor:
    """Eq. 11: ``Σ_i W_i · (k_i ∗ Î)`` — ``weights`` ``(B, m, H, W)`` (level 1: ``Î`` itself), kernels from
    ``seeds`` by :func:`isotropic_kernels`.

    The sum is linear in the kernels, so it is computed as one per-pixel convolution with the combined
    kernel ``Σ_i W_i · k_i`` (each ``k_i`` zero-padded to the largest size, the identity a centre tap):
    one unfold of ``(2m−1)²`` taps instead of one per level (3× fewer taps for m = 8; the same result up
    to rounding, checked against the level-by-level sum in the tests)."""
    kernels = isotropic_kernels(seeds, lengths)
    k = 2 * max(lengths) - 1
    B, _, H, W = sharp.shape
    combined = sharp.new_zeros(B, k, k, H, W)
    combined[:, k // 2, k // 2] = weights[:, 0]
    for j, ker in enumerate(kernels):
        n = 2 * lengths[j] - 1
        o = (k - n) // 2
        combined[:, o:o + n, o:o + n] += weights[:, 1 + j, None, None] * ker.view(B, n, n, H, W)
    return apply_kernels(sharp, combined.view(B, k * k, H, W))


def pseudo_defocus_map(weights: torch.Tensor, seeds: torch.Tensor, lengths=SEED_LENGTHS) -> torch.Tensor:
    """Eq. 13: ``B_P = Repmat_i(W_i) ⊙ S`` — each level's seed channels times that level's weight map
    (``weights`` ``(B, m, H, W)`` with level 1 the identity, which has no seed) → ``(B, Σ lengths, H, W)``."""
    reps = torch.cat([weights[:, 1 + j:2 + j].expand(-1, n, -1, -1) for j, n in enumerate(lengths)], 1)
    return reps * seeds.abs()


def calibration_mask(flow: torch.Tensor, lam: float = 0.35) -> torch.Tensor:
    """Eq. 6 on ``flow`` ``(B, 2, H, W)`` px: 1 where the flow magnitude lies within ``(1 ± λ)`` of its
    per-image mean (bounds included, so a pair with no motion at all keeps every pixel), else 0 —
    ``(B, 1, H, W)``."""
    mag = flow.norm(dim=1, keepdim=True)
    mean = mag.mean(dim=(2, 3), keepdim=True)
    return ((mag >= (1 - lam) * mean) & (mag <= (1 + lam) * mean)).to(flow.dtype)


__all__ = ["Reblur", "SEED_LENGTHS", "apply_kernels", "reblur_with", "calibration_mask", "isotropic_kernels",
           "pseudo_defocus_map"]
