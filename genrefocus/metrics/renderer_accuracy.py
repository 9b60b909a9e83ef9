"""Renderer accuracy against independent references: exact scene-lab renders and a closed-form
banding probe (issue 14).

* :func:`renderer_table` — PSNR of each physical render mode against the exact aperture-integrated
  render (:mod:`genrefocus.optics.scene_lab`) of slanted, curved, occluding and thin scenes.
* :func:`banding_probe` — horizontal stripes under a CoC that ramps along x. Across an edge, a disk
  of radius ``r`` spreads light with a line-spread function ∝ ``sqrt(r² − y²)`` whose second moment
  is ``r²/4``, so ``2·sqrt(moment)`` per column is the blur radius the renderer actually produced
  there. A renderer that blurs a layer with one radius shows a staircase in that profile; a smooth
  renderer gives a monotone profile with a small second difference.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Optional, Sequence

import torch

from ..io import atomic_write
from ..optics.defocus import signed_coc
from ..optics.render import render_bokeh
from .fidelity import psnr

#: banding probe geometry: stripes of ``PERIOD/2`` px (the largest disk never spans two edges)
PROBE_H, PROBE_W, PERIOD, PROBE_MAX_COC = 480, 400, 80, 18.0


def renderer_table(cases: Sequence, cocs_px: Sequence[float], modes: Sequence[str], spacing_px: float = 0.5,
                   render: Callable = render_bokeh, progress: Optional[Callable[[str], None]] = None,
                   cache_dir: Optional[Path] = None) -> list:
    """PSNR (dB, display space) of ``render(aif, coc, mode=m)`` against the exact render, for every
    :class:`~genrefocus.optics.scene_lab.RendererCase` and largest CoC in ``cocs_px``. The exact
    renders (minutes each at 40 px CoC) are kept in ``cache_dir`` when given, keyed by case, size,
    CoC and sample spacing.

    Returns rows ``{"case", "coc_px", "K", "mode", "psnr", "seconds"}`` (``seconds``: the render only).
    """
    rows = []
    for case in cases:
        aif, disp = case.scene.aif(), case.scene.disparity()
        for c in cocs_px:
            K = case.K(c)
            exact = _exact(case, K, spacing_px, _cache_file(cache_dir, case, c, spacing_px))
            coc = signed_coc(disp, K, case.focus_disp)
            for m in modes:
                t = time.perf_counter()
                out = render(aif, coc, mode=m)
                sec = time.perf_counter() - t
                rows.append({"case": case.name, "coc_px": float(c), "K": K, "mode": m,
                             "psnr": float(psnr(out, exact)[0]), "seconds": sec})
                if progress:
                    progress(f"{case.name}, CoC {c:g} px, {m}: {rows[-1]['psnr']:.2f} dB")
    return rows


def degraded_depth_table(cases: Sequence, cocs_px: Sequence[float], seeds: Sequence[int] = (0,), mode: str = "layered",
                         spacing_px: float = 0.5, progress: Optional[Callable[[str], None]] = None,
                         cache_dir: Optional[Path] = None) -> list:
    """Robustness of ``mode`` to a monocular estimator's map: PSNR (dB) of the render from the exact map
    and from :func:`~genrefocus.optics.scene_lab.degrade_disparity` maps (one per seed), each without and
    with :func:`~genrefocus.optics.depth_refine.refine_disparity`, against the exact render from the true
    map — over the whole image and in the band around depth edges
    (:func:`~genrefocus.optics.scene_lab.edge_band`).

    Returns rows ``{"case", "coc_px", "map", "refined", "psnr", "edge_psnr"}`` (``map``: ``"exact"`` or
    ``"degraded"``; degraded rows average the seeds' PSNRs).
    """
    from ..optics.depth_refine import refine_disparity
    from ..optics.scene_lab import degrade_disparity, edge_band

    rows = []
    for case in cases:
        aif, disp = case.scene.aif(), case.scene.disparity()
        band = edge_band(disp)
        maps = {"exact": [disp], "degraded": [degrade_disparity(disp, seed=s) for s in seeds]}
        for c in cocs_px:
            K = case.K(c)
            exact = _exact(case, K, spacing_px, _cache_file(cache_dir, case, c, spacing_px))
            for name, ds in maps.items():
                for refined in (False, True):
                    full, edge = [], []
                    for d in ds:
                        d = refine_disparity(d, aif) if refined else d
                        out = render_bokeh(aif, signed_coc(d, K, case.focus_disp), mode=mode)
                        full.append(float(psnr(out, exact)[0]))
                        mse = ((out - exact) ** 2).mean(1)[0][band].mean()
                        edge.append(float(10.0 * torch.log10(1.0 / mse)))
                    rows.append({"case": case.name, "coc_px": float(c), "map": name, "refined": refined,
                                 "psnr": sum(full) / len(full), "edge_psnr": sum(edge) / len(edge)})
                    if progress:
                        progress(f"{case.name}, CoC {c:g} px, {name} map{', refined' if refined else ''}: "
                                 f"{rows[-1]['psnr']:.2f} dB (edges {rows[-1]['edge_psnr']:.2f})")
    return rows


def _cache_file(cache_dir: Optional[Path], case, coc_px: float, spacing_px: float) -> Optional[Path]:
    if cache_dir is None:
        return None
    size = "x".join(map(str, case.scene.size))
    return Path(cache_dir) / f"{case.name}_{size}_coc{coc_px:g}_s{spacing_px:g}.pt"


def _exact(case, K: float, spacing_px: float, path: Optional[Path]) -> torch.Tensor:
    if path is not None and path.is_file():
        return torch.load(path, weights_only=True)
    exact = case.scene.render(K, case.focus_disp, spacing_px=spacing_px)
    if path is not None:
        atomic_write(path, lambda tmp: torch.save(exact, tmp))
    return exact


def best_gaps(rows: Sequence[dict], mode: str) -> dict:
    """For every (case, CoC) row: how far (dB) ``mode`` is below the best mode (0 if it is the best)."""
    best, own = {}, {}
    for r in rows:
        key = (r["case"], r["coc_px"])
        best[key] = max(best.get(key, -float("inf")), r["psnr"])
        if r["mode"] == mode:
            own[key] = r["psnr"]
    return {k: best[k] - own[k] for k in own}


def probe_stripes() -> torch.Tensor:
    """``(1, 3, PROBE_H, PROBE_W)`` horizontal black/white stripes, edges every ``PERIOD/2`` rows."""
    y = torch.arange(PROBE_H)
    return ((y // (PERIOD // 2)) % 2).float().view(1, 1, PROBE_H, 1).expand(1, 3, PROBE_H, PROBE_W).contiguous()


def probe_ramp(sign: float = -1.0, max_coc: float = PROBE_MAX_COC) -> torch.Tensor:
    """``(1, 1, PROBE_H, PROBE_W)`` signed CoC (px) rising linearly from 0.3 to ``max_coc`` along x
    (``sign`` −1: behind the focal plane, +1: in front)."""
    x = torch.arange(PROBE_W, dtype=torch.float32)
    slope = (max_coc - 0.3) / (PROBE_W - 1)
    return (sign * (0.3 + slope * x)).view(1, 1, 1, PROBE_W).expand(1, 1, PROBE_H, PROBE_W).contiguous()


def blur_width_profile(linear: torch.Tensor) -> torch.Tensor:
    """Per column of a rendered :func:`probe_stripes` (linear light, ``(1, C, H, W)``): the disk
    radius (px) whose edge spread matches the render's, averaged over the edges; the 8 leftmost and
    30 rightmost columns (image border) are left out."""
    lsf = (linear[0, 0, 1:] - linear[0, 0, :-1]).abs()
    yy = torch.arange(lsf.shape[0], dtype=lsf.dtype) + 0.5
    half = PERIOD // 2
    widths = []
    for e in range(half, linear.shape[-2] - half, half):
        w, pos = lsf[e - half // 2:e + half // 2], yy[e - half // 2:e + half // 2, None] - e
        widths.append(2.0 * ((w * pos ** 2).sum(0) / w.sum(0)).sqrt())
    return torch.stack(widths).mean(0)[8:-30]


def profile_steps(profile: torch.Tensor) -> tuple:
    """``(min first difference, max |second difference|)`` of a blur-width profile (px/column, px/column²):
    monotone means the first is > 0; no steps means the second is small."""
    d1 = profile[1:] - profile[:-1]
    return float(d1.min()), float((d1[1:] - d1[:-1]).abs().max())


def banding_probe(mode: str, sign: float = -1.0, render: Callable = render_bokeh) -> dict:
    """Render the probe with ``mode`` in linear light; returns ``{"profile", "coc", "min_slope",
    "max_d2"}`` (profile and the true CoC per column, px)."""
    ramp = probe_ramp(sign)
    out = render(probe_stripes(), ramp, mode=mode, gamma=1.0)
    prof = blur_width_profile(out)
    d1_min, d2_max = profile_steps(prof)
    return {"profile": prof, "coc": ramp[0, 0, 0, 8:-30].abs(), "min_slope": d1_min, "max_d2": d2_max}
