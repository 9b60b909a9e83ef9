"""LVCorr (controllability): Pearson correlation between K and the blur trend LV(K=0) − LV(K).

docs/design.md §3.6 / paper §5: for one AIF image and focus, outputs rendered at a sweep of K; LV is the
variance of the Laplacian. 1.0 is perfect (the paper reports BokehMe 0.994, GenRefocus 0.937).
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch

from ..optics.focus_measure import variance_of_laplacian


def pearson(x: Sequence[float], y: Sequence[float]) -> float:
    """Pearson correlation coefficient; NaN when either side is constant."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    xc, yc = x - x.mean(), y - y.mean()
    den = np.sqrt((xc * xc).sum() * (yc * yc).sum())
    return float((xc * yc).sum() / den) if den > 0 else float("nan")


def lvcorr(ks: Sequence[float], images: Sequence[torch.Tensor], lv0: float | None = None) -> float:
    """LVCorr of images rendered at bokeh levels ``ks`` (each ``(1, C, H, W)`` or ``(C, H, W)``).

    ``lv0`` is LV at K = 0 (default: the image of the smallest K if that K is 0, else required).
    """
    ks = [float(k) for k in ks]
    if len(ks) != len(images) or len(ks) < 3:
        raise ValueError("need at least 3 (K, image) pairs of equal count")
    lvs = [float(variance_of_laplacian(im if im.ndim == 4 else im[None])[0]) for im in images]
    if lv0 is None:
        if min(ks) != 0.0:
            raise ValueError("lv0 is required when the sweep does not contain K = 0")
        lv0 = lvs[ks.index(0.0)]
    return pearson(ks, [lv0 - v for v in lvs])


def lvcorr_sweep(render: Callable[[float], torch.Tensor], ks: Sequence[float]) -> float:
    """LVCorr of ``render(K)`` over the sweep ``ks`` (K = 0 is added for the reference LV)."""
    ks = [0.0] + [float(k) for k in ks if float(k) != 0.0]
    return lvcorr(ks, [render(k) for k in ks])
