"""Focus selection and defocus maps with the official Genfocus conventions (DESIGN §3.1).

* ``disparity = 1 / depth`` (1/m); depth ≤ 0 or non-finite → disparity 0 (infinitely far).
* Focus disparity ``d_f`` (1/m): mask → median of ``d`` inside it (mask resized NEAREST; an empty
  mask falls back to the whole-image median with a warning); point ``(x, y)`` in *original-image*
  pixels → ``d`` at that pixel after rescaling to the working size; box ``(x0, y0, x1, y1)`` in
  original-image pixels → median inside; nothing → the image centre.
* Signed CoC radius (px of the working resolution): ``c = K · (d − d_f)``; positive = nearer.
* BokehNet condition map (compat): ``clamp(|c| / 100, 0, 1)`` repeated to 3 channels.
* K is relative to the working resolution; resizing an image by ``s`` scales CoC by ``s``
  (:func:`scale_k`).
"""

from __future__ import annotations

import warnings
from typing import Optional, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import InputError

MAX_COC = 100.0  # px; official normalisation of the BokehNet defocus condition
MAX_K = 1000.0   # px·m; larger K is rejected as absurd (a 100 MP photo at f/1.2 stays below)

ArrayLike = Union[np.ndarray, torch.Tensor]


def _as_map(x: ArrayLike, name: str) -> torch.Tensor:
    """Any ``(H, W)``, ``(1, H, W)`` or ``(B, 1, H, W)`` array → float32 ``(B, 1, H, W)`` tensor."""
    t = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x)
    t = t.to(torch.float32)
    if t.ndim == 2:
        t = t[None, None]
    elif t.ndim == 3:
        t = t[None] if t.shape[0] == 1 else t[:, None]
    if t.ndim != 4 or t.shape[1] != 1:
        raise InputError(name, f"expected a single-channel map (H, W), got shape {tuple(t.shape)}")
    return t


def depth_to_disparity(depth_m: ArrayLike) -> torch.Tensor:
    """Disparity (1/m) from metric depth (m): ``1/depth``; ``depth ≤ 0`` or non-finite → 0.

    Shapes: ``(H, W)`` / ``(B, 1, H, W)`` → ``(B, 1, H, W)``.
    """
    d = _as_map(depth_m, "depth")
    ok = torch.isfinite(d) & (d > 0)
    return torch.where(ok, 1.0 / torch.where(ok, d, torch.ones_like(d)), torch.zeros_like(d))


def validate_disparity(disp: ArrayLike, name: str = "disparity") -> torch.Tensor:
    """Check a disparity map: non-finite values are an error, negatives too (1/m ≥ 0)."""
    d = _as_map(disp, name)
    if not torch.isfinite(d).all():
        n = int((~torch.isfinite(d)).sum())
        raise InputError(name, f"{n} NaN/inf values; fill or mask them before rendering")
    if (d < 0).any():
        raise InputError(name, f"negative disparity (min {float(d.min()):.4g}); disparity is 1/depth ≥ 0")
    return d


def resize_map(x: torch.Tensor, size: Sequence[int], mode: str = "bilinear") -> torch.Tensor:
    """Resize a ``(B, 1, H, W)`` map to ``size = (H', W')`` (bilinear like the official
    ``cv2.INTER_LINEAR``, or ``nearest`` for masks)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    if mode == "nearest":
        return F.interpolate(x, size=tuple(size), mode="nearest")
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)


def focus_disparity(disparity: ArrayLike, *, mask: Optional[ArrayLike] = None,
                    point: Optional[Sequence[float]] = None, box: Optional[Sequence[float]] = None,
                    original_size: Optional[Sequence[int]] = None) -> float:
    """Focus disparity ``d_f`` (1/m) from at most one of mask / point / box (else the centre).

    Args:
        disparity: ``(H, W)`` or ``(1, 1, H, W)`` disparity at the working size (1/m).
        mask: in-focus mask of any size (resized NEAREST); values > 0.5 are in focus.
        point: ``(x, y)`` in pixels of the original image.
        box: ``(x0, y0, x1, y1)`` in pixels of the original image (x1, y1 exclusive).
        original_size: ``(H, W)`` of the original image (defaults to the disparity size).
    """
    d = _as_map(disparity, "disparity")[0, 0]
    H, W = d.shape
    oh, ow = original_size if original_size is not None else (H, W)
    given = [n for n, v in (("mask", mask), ("point", point), ("box", box)) if v is not None]
    if len(given) > 1:
        raise InputError("focus", f"give one of mask, point or box, not {' and '.join(given)}")
    if mask is not None:
        m = _as_map(mask, "mask")
        m = resize_map(m, (H, W), mode="nearest")[0, 0] > 0.5
        if not bool(m.any()):
            warnings.warn("focus mask is empty; focusing on the whole-image median disparity",
                          stacklevel=2)
            return float(torch.median(d))
        return float(torch.median(d[m]))
    if point is not None:
        x, y = float(point[0]), float(point[1])
        if not (0 <= x < ow and 0 <= y < oh):
            raise InputError("focus point", f"({x:g}, {y:g}) lies outside the {ow}×{oh} image")
        xi = min(int(x * W / ow), W - 1)
        yi = min(int(y * H / oh), H - 1)
        return float(d[yi, xi])
    if box is not None:
        x0, y0, x1, y1 = (float(v) for v in box)
        if not (x1 > x0 and y1 > y0):
            raise InputError("focus box", f"({x0:g}, {y0:g}, {x1:g}, {y1:g}) is empty; need x1 > x0, y1 > y0")
        if x1 <= 0 or y1 <= 0 or x0 >= ow or y0 >= oh:
            raise InputError("focus box", f"({x0:g}, {y0:g}, {x1:g}, {y1:g}) lies outside the {ow}×{oh} image")
        c0 = max(0, int(np.floor(x0 * W / ow)))
        r0 = max(0, int(np.floor(y0 * H / oh)))
        c1 = min(W, max(c0 + 1, int(np.ceil(x1 * W / ow))))
        r1 = min(H, max(r0 + 1, int(np.ceil(y1 * H / oh))))
        return float(torch.median(d[r0:r1, c0:c1]))
    return float(d[H // 2, W // 2])


def validate_k(K: float) -> float:
    """Bokeh level ``K`` (px·m): finite, ≥ 0 and ≤ :data:`MAX_K`."""
    try:
        k = float(K)
    except (TypeError, ValueError):
        raise InputError("K", f"must be a number, got {K!r}") from None
    if not np.isfinite(k) or k < 0:
        raise InputError("K", f"must be finite and ≥ 0, got {K!r}")
    if k > MAX_K:
        raise InputError("K", f"{k:g} is absurd (> {MAX_K:g} px·m); typical values are 5–100")
    return k


def signed_coc(disparity: ArrayLike, K: float, focus_disp: float) -> torch.Tensor:
    """Signed CoC radius ``c = K·(d − d_f)`` in px, ``(B, 1, H, W)``; positive = nearer."""
    return validate_k(K) * (_as_map(disparity, "disparity") - float(focus_disp))


def defocus_condition(coc_px: torch.Tensor, max_coc: float = MAX_COC) -> torch.Tensor:
    """BokehNet's defocus condition: ``clamp(|c| / 100, 0, 1)`` as ``(B, 3, H, W)`` in [0, 1]."""
    return (coc_px.abs() / max_coc).clamp(0.0, 1.0).repeat(1, 3, 1, 1)


def scale_k(K: float, scale: float) -> float:
    """K for an image resized by ``scale`` (CoC in px scales with the image): ``K · scale``."""
    return float(K) * float(scale)
