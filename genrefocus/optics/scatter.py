"""BokehMe's classical scatter operator: the reference loop and the fast radius-binned form.

One formula (docs/design.md §3.4). Every source pixel ``s`` with CoC radius ``r = |c_s|`` (px) spreads
its linear colour to targets ``t = s + δ``, ``δ ∈ [-(⌊r⌋+1), ⌊r⌋+1]²``, with weight

    w(r, δ) = A_r(δ) / (r² + 0.2),     A_r(δ) = 0.5 + 0.5·tanh(4·e_r(δ))

(``A_r`` the soft aperture indicator, ``e_r = r − |δ|`` for the disk); the output is
``Σ w·I / Σ w`` at every target. Both functions take and return *linear* images ``(B, C, H, W)``
(``I^γ``, see :func:`genrefocus.optics.render.render_bokeh`) and a signed CoC map
``(B, 1, H, W)`` in pixels.

* :func:`scatter_reference` evaluates the formula directly (a loop over offsets, vectorized over
  pixels): exact, slow, the compatibility baseline.
* :func:`scatter_fast` uses that the operator is linear in ``[w·I, w]``: splitting ``r`` into
  radius bins with linear (hat) interpolation, it is a sum over bins of convolutions of the
  bin-weighted image with that bin's kernel (:mod:`genrefocus.optics.binblur`).

This is BokehMe's operator, kept exact for compatibility (mode ``"bokehme"``, and ``"scatter"`` for
the fast form). It has no notion of occlusion: a blurred foreground lets bright background through,
and background glow spreads over an in-focus subject; :mod:`genrefocus.optics.layered` does not.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

import torch
from tqdm.auto import tqdm

from .apertures import Aperture, Disk
from .binblur import blur_bins, scatter_weights


def radius_bins(r_max: float, step: Optional[float] = None, rel: float = 0.25, min_step: float = 0.5,
                max_step: float = 2.0) -> list:
    """Bin radii (px) for :func:`scatter_fast`, from 0 to ``r_max``: fine near 0 where the kernel
    changes fastest — spacing ``clamp(r·rel, min_step, max_step)`` (≈ 46 dB against BokehMe on its
    demo image) — or a uniform ``step``."""
    if not (math.isfinite(r_max) and r_max >= 0):
        raise ValueError(f"r_max must be finite and ≥ 0, got {r_max}")
    if step is not None:
        if not (math.isfinite(step) and step > 0):
            raise ValueError(f"step must be finite and > 0, got {step}")
        return [i * step for i in range(max(1, math.ceil(r_max / step)) + 1)]
    out, r = [0.0], 0.0
    while r < r_max:
        r = r + min(max(r * rel, min_step), max_step)
        out.append(r)
    return out


def _check(linear: torch.Tensor, coc: torch.Tensor) -> None:
    if linear.ndim != 4 or coc.ndim != 4 or coc.shape[1] != 1:
        raise ValueError(f"expected image (B, C, H, W) and coc (B, 1, H, W), got {tuple(linear.shape)} "
                         f"and {tuple(coc.shape)}")
    if linear.shape[0] != coc.shape[0] or linear.shape[-2:] != coc.shape[-2:]:
        raise ValueError(f"image {tuple(linear.shape)} and coc {tuple(coc.shape)} do not match")


def scatter_reference(linear: torch.Tensor, coc: torch.Tensor, aperture: Aperture | None = None,
                      flip_front: bool = False, progress: bool = False) -> torch.Tensor:
    """BokehMe's scatter, evaluated offset by offset (exact).

    For every offset ``δ`` of Chebyshev length ``m`` only the sources whose square support reaches
    it (``⌊r⌋ + 1 ≥ m``) are visited: the sources are sorted by reach once, so they are a prefix of
    that order, and their weighted colours are added at ``s + δ``. The work is ``Σ_s (2⌊r_s⌋ + 3)²``
    instead of ``H·W·(2·R_max + 1)²`` — the same sums, in another order.

    Args:
        linear: ``(B, C, H, W)`` linear image.
        coc: ``(B, 1, H, W)`` signed CoC radius in pixels (positive = nearer than focus).
        aperture: shape (default disk); ``flip_front`` rotates it by 180° where ``coc > 0``.
        progress: show a progress bar over offset rows.
    Returns:
        ``(B, C, H, W)`` linear bokeh image.
    """
    _check(linear, coc)
    aperture = aperture or Disk()
    if linear.shape[0] > 1:
        return torch.cat([scatter_reference(linear[i:i + 1], coc[i:i + 1], aperture, flip_front, progress)
                          for i in range(linear.shape[0])])
    _, C, H, W = linear.shape
    r = coc.abs().to(linear.dtype).flatten()
    reach = (torch.floor(r) + 1).to(torch.int64)  # per-source half-width of the square support
    order = torch.argsort(reach, descending=True, stable=True)
    reach_sorted = reach[order]
    R = int(reach_sorted[0])
    ys, xs = (order // W) + R, (order % W) + R  # source positions in the padded target grid
    r_s = r[order]
    front = (coc.flatten()[order] > 0) if flip_front and not aperture.point_symmetric else None
    colour = linear[0].reshape(C, -1).T[order]  # (N, C)
    Wp = W + 2 * R
    num = linear.new_zeros((H + 2 * R) * Wp, C)
    den = linear.new_zeros((H + 2 * R) * Wp)
    # number of sources reaching Chebyshev distance m: a prefix of the sorted order
    counts = torch.searchsorted(-reach_sorted, -torch.arange(R + 2, dtype=torch.int64), right=True)
    for dy in tqdm(range(-R, R + 1), desc="bokehme", unit="row", disable=not progress):
        for dx in range(-R, R + 1):
            n = int(counts[max(abs(dy), abs(dx))])
            if n == 0:
                continue
            rr = r_s[:n]
            oy = torch.full_like(rr, float(dy))
            ox = torch.full_like(rr, float(dx))
            w = scatter_weights(aperture, oy, ox, rr)
            if front is not None:
                w = torch.where(front[:n], scatter_weights(aperture, oy, ox, rr, flip=True), w)
            tgt = (ys[:n] + dy) * Wp + (xs[:n] + dx)
            num.index_add_(0, tgt, w[:, None] * colour[:n])
            den.index_add_(0, tgt, w)
    num = num.T.reshape(1, C, H + 2 * R, Wp)[:, :, R:R + H, R:R + W]
    den = den.reshape(1, 1, H + 2 * R, Wp)[:, :, R:R + H, R:R + W]
    return num / den


def scatter_fast(linear: torch.Tensor, coc: torch.Tensor, aperture: Aperture | None = None,
                 flip_front: bool = False, bins: Optional[Sequence[float]] = None, normalize: str = "bokehme",
                 coarse_radius: float | None = 8.0, progress: bool = False) -> torch.Tensor:
    """The same operator as :func:`scatter_reference`, as a sum of per-radius-bin FFT convolutions
    (:func:`~genrefocus.optics.binblur.blur_bins`: hat-interpolated radii, pyramid for large bins,
    only the tiles a bin touches).

    A source of radius ``r`` between bin radii ``r_k ≤ r ≤ r_{k+1}`` is split between the two bins
    with hat weights, so the kernel is linearly interpolated in ``r``. With ``flip_front`` and an
    asymmetric aperture the bins run over the *signed* CoC and front bins use the flipped shape.

    Args:
        linear: ``(B, C, H, W)`` linear image. coc: ``(B, 1, H, W)`` signed CoC (px).
        bins: bin radii (px), sorted, starting at 0 (default :func:`radius_bins`).
        normalize: ``"bokehme"`` weights ``1/(r²+0.2)`` or ``"unit"`` (every PSF sums to 1).
        coarse_radius: pyramid threshold; None disables the pyramid (every bin at full resolution).
        progress: show a progress bar over radius bins.
    Returns:
        ``(B, C, H, W)`` linear bokeh image.
    """
    _check(linear, coc)
    aperture = aperture or Disk()
    C = linear.shape[1]
    signed = flip_front and not aperture.point_symmetric
    value = coc.to(linear.dtype) if signed else coc.abs().to(linear.dtype)
    radii = radius_bins(float(coc.detach().abs().max())) if bins is None else [float(b) for b in bins]
    centers = [-r for r in reversed(radii[1:])] + radii if signed else radii
    stacked = torch.cat([linear, torch.ones_like(linear[:, :1])], dim=1)  # [I, 1]
    bar = tqdm(total=len(centers), desc="scatter", unit="bin", disable=not progress)
    out, _ = blur_bins(stacked, value, centers, aperture, normalize, flip_positive=signed,
                       coarse_radius=coarse_radius, out_factor=1, progress=bar.update)
    bar.close()
    return out[:, :C].clamp_min(0.0) / out[:, C:].clamp_min(1e-12)  # FFT round-off can dip below 0
