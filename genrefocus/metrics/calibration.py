"""Simulator-in-the-loop bokeh-level calibration (paper Eq. 5, docs/design.md §3.6): the K whose render best matches.

It lives with the metrics because it maximises one (SSIM); the renderer it drives is in :mod:`genrefocus.optics`.

``K* = argmax_K SSIM(R(I_aif, d; d_f, K), I_real)`` over ``[K_min, K_max]``: a coarse grid, then
golden-section refinement around the best grid point. The pair is accepted when the SSIM reaches
``threshold``; the SSIM is always recorded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import torch

from ..errors import InputError
from ..optics.defocus import signed_coc, validate_disparity
from ..optics.render import DEFAULT_MODE, Gamma, render_bokeh
from .fidelity import ssim


@dataclass
class Calibration:
    """``K`` (px·m) maximizing SSIM, that ``ssim``, whether it passed ``threshold``, and every
    ``(K, SSIM)`` evaluated."""

    K: float
    ssim: float
    accepted: bool
    evaluations: list = field(default_factory=list)


def calibrate_k(aif: torch.Tensor, disparity: torch.Tensor, focus_disp: float, target: torch.Tensor,
                k_range: Sequence[float] = (0.0, 100.0), grid: int = 11, tol: float = 0.05,
                threshold: Optional[float] = None, mode: str = DEFAULT_MODE, gamma: Gamma = 4.0,
                aperture=None) -> Calibration:
    """Find the K whose render of ``aif`` best matches ``target`` in SSIM.

    Args:
        aif, target: ``(1, 3, H, W)`` in [0, 1], same size. disparity: ``(1, 1, H, W)`` (1/m).
        focus_disp: focus disparity (1/m). k_range: ``(K_min, K_max)`` (px·m).
        grid: coarse grid points; tol: golden-section stop width (px·m).
        threshold: minimum SSIM to accept (None accepts all).
        mode, gamma, aperture: renderer settings (:func:`~genrefocus.optics.render.render_bokeh`).
    """
    if aif.shape != target.shape:
        raise InputError("target", f"size {tuple(target.shape)} differs from the AIF image {tuple(aif.shape)}")
    lo, hi = float(k_range[0]), float(k_range[1])
    if not (0 <= lo < hi):
        raise InputError("k_range", f"need 0 ≤ K_min < K_max, got {k_range}")
    disp = validate_disparity(disparity)

    def render(k: float) -> torch.Tensor:
        return render_bokeh(aif, signed_coc(disp, k, focus_disp), mode=mode, gamma=gamma, aperture=aperture)

    return search_k(render, target, (lo, hi), grid=grid, tol=tol, threshold=threshold)


def search_k(render: Callable[[float], torch.Tensor], target: torch.Tensor, k_range: Sequence[float] = (0.0, 100.0),
             grid: int = 11, tol: float = 0.05, threshold: Optional[float] = None) -> Calibration:
    """Maximize ``SSIM(render(K), target)`` over ``k_range``: coarse grid, then golden section
    around the best grid point (any backend: physical renderer, generative pipeline, ...)."""
    lo, hi = float(k_range[0]), float(k_range[1])
    cache: dict = {}

    def score(k: float) -> float:
        k = round(k, 6)
        if k not in cache:
            cache[k] = float(ssim(render(k), target)[0])
        return cache[k]

    ks = torch.linspace(lo, hi, max(3, grid)).tolist()
    scores = [score(k) for k in ks]
    i = max(range(len(ks)), key=scores.__getitem__)
    a, b = ks[max(0, i - 1)], ks[min(len(ks) - 1, i + 1)]
    inv_phi = (math.sqrt(5) - 1) / 2
    c, d = b - inv_phi * (b - a), a + inv_phi * (b - a)
    while b - a > tol:
        if score(c) >= score(d):
            b, d = d, c
            c = b - inv_phi * (b - a)
        else:
            a, c = c, d
            d = a + inv_phi * (b - a)
    best = max(cache.items(), key=lambda kv: kv[1])
    return Calibration(K=best[0], ssim=best[1], accepted=threshold is None or best[1] >= threshold,
                       evaluations=sorted(cache.items()))
