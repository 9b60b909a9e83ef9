"""Focus selection and defocus maps with the official Genfocus conventions (docs/design.md §3.1).

* ``disparity = 1 / depth`` (1/m); depth ≤ 0 or non-finite → disparity 0 (infinitely far). A depth
  map of another size is resized **before** it is inverted (bilinear, OpenCV ``INTER_LINEAR``), as
  the official bokeh script does (:func:`disparity_at_size`).
* Focus disparity ``d_f`` (1/m): mask → median of ``d`` inside it (the mask as an 8-bit grey image,
  resized with PIL ``NEAREST``; in focus where the grey value is > 0; the median of an even count is
  the mean of the two middle values, NumPy's; an empty mask falls back to the whole-image median
  with a warning); point ``(x, y)`` in *original-image* pixels → ``d`` at
  ``(int(x · W/W₀), int(y · H/H₀))``; box ``(x0, y0, x1, y1)`` in original-image pixels → median
  inside; nothing → the image centre ``(W // 2, H // 2)``.
* Signed CoC radius (px of the working resolution): ``c = K · (d − d_f)``; positive = nearer.
* BokehNet condition map (compat): ``clamp(|c| / 100, 0, 1)`` repeated to 3 channels.
* K is relative to the working resolution; resizing an image by ``s`` scales CoC by ``s``
  (:func:`scale_k`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Optional, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import InputError

MAX_COC = 100.0  # px; official normalisation of the BokehNet defocus condition
MAX_K = 1000.0   # px·m; larger K is rejected as absurd (a 100 MP photo at f/1.2 stays below)
#: the bokeh level every entry point starts from (the official Genfocus demo's; its bokeh script's is 15)
DEFAULT_K = 20.0

ArrayLike = Union[np.ndarray, torch.Tensor]


def as_map(x: ArrayLike, name: str) -> torch.Tensor:
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
    d = as_map(depth_m, "depth")
    ok = torch.isfinite(d) & (d > 0)
    if not bool(ok.any()):
        raise InputError("depth", "no finite positive depth value (all zero, negative or NaN): nothing to focus on")
    return torch.where(ok, 1.0 / torch.where(ok, d, torch.ones_like(d)), torch.zeros_like(d))


def validate_disparity(disp: ArrayLike, name: str = "disparity") -> torch.Tensor:
    """Check a disparity map: non-finite values are an error, negatives too (1/m ≥ 0)."""
    d = as_map(disp, name)
    if not torch.isfinite(d).all():
        n = int((~torch.isfinite(d)).sum())
        raise InputError(name, f"{n} NaN/inf values; fill or mask them before rendering")
    if (d < 0).any():
        raise InputError(name, f"negative disparity (min {float(d.min()):.4g}); disparity is 1/depth ≥ 0")
    return d


def disparity_range_problem(disp: ArrayLike) -> str | None:
    """A one-line description of a disparity map no focus can use, or None: a constant map, or one whose
    central 80 % of values (10–90 % quantiles) span under 1e-4 of its range while a few outliers reach a
    hundred times its median — ``inf`` holes replaced by a huge number (``np.nan_to_num``) leave every real
    value at the same normalised disparity, so nothing can be focused or blurred apart."""
    d = as_map(disp, "disparity").flatten().double()
    lo, hi = float(d.min()), float(d.max())
    if hi - lo <= 0:
        return "the map is constant: every pixel is at the same distance, so the render is uniform (check the file)"
    if d.numel() > 100_000:  # quantiles of a subsample (exact enough; torch.quantile has a size limit)
        d = d[torch.linspace(0, d.numel() - 1, 100_000).long()]
    q05, q50, q95 = (float(v) for v in torch.quantile(d, torch.tensor([0.1, 0.5, 0.9], dtype=torch.float64)))
    if q95 - q05 <= 1e-4 * (hi - lo) and hi - lo >= 100 * abs(q50):
        return (f"80 % of the map lies within {q95 - q05:.3g} while outliers span [{lo:.4g}, {hi:.4g}]: nothing can be "
                "focused or blurred apart (holes or inf replaced by a huge number? fill them with the background's "
                "value)")
    return None


def resize_map(x: torch.Tensor, size: Sequence[int], mode: str = "bilinear") -> torch.Tensor:
    """Resize a ``(B, 1, H, W)`` map to ``size = (H', W')`` (bilinear, or ``nearest`` for masks)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    if mode == "nearest":
        return F.interpolate(x, size=tuple(size), mode="nearest")
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)


def disparity_at_size(depth_m: ArrayLike, size: Sequence[int]) -> torch.Tensor:
    """Disparity (1/m) ``(1, 1, H', W')`` at ``size = (H', W')`` from metric depth of any size.

    The official bokeh script's order: the **depth** is resized (OpenCV ``INTER_LINEAR`` on float32)
    and then inverted, with depth ≤ 0 or NaN → the float32 maximum (disparity ≈ 0). Inverting first
    and resizing the disparity gives other values wherever depth varies within a pixel footprint.
    """
    import cv2

    d = as_map(depth_m, "depth")[0, 0].cpu().numpy().astype(np.float32)
    if not bool((d > 0).any()):
        raise InputError("depth", "no positive depth value (all zero, negative or NaN): nothing to focus on")
    h, w = int(size[0]), int(size[1])
    if d.shape != (h, w):
        d = cv2.resize(d, (w, h), interpolation=cv2.INTER_LINEAR)
    safe = np.where(d > 0.0, d, np.finfo(np.float32).max)
    return torch.from_numpy((1.0 / safe).astype(np.float32))[None, None]


def mask_to_u8(mask: ArrayLike) -> np.ndarray:
    """A focus mask as the 8-bit grey image the official code thresholds: bool → 0/255, float in
    [0, 1] → ``round(255·x)``, integers as given (clipped to 0..255). Shape ``(H, W)``."""
    m = mask.detach().cpu().numpy() if isinstance(mask, torch.Tensor) else np.asarray(mask)
    m = np.squeeze(m)
    if m.ndim != 2:
        raise InputError("mask", f"expected a single-channel (H, W) mask, got shape {m.shape}")
    if m.dtype == bool:
        return m.astype(np.uint8) * 255
    if np.issubdtype(m.dtype, np.floating):
        if not np.isfinite(m).all():
            raise InputError("mask", "NaN/inf values")
        return np.clip(np.rint(m * 255.0), 0, 255).astype(np.uint8)
    return np.clip(m, 0, 255).astype(np.uint8)


def resize_mask(mask: ArrayLike, size: Sequence[int]) -> np.ndarray:
    """In-focus pixels ``(H', W')`` bool: the 8-bit mask resized with PIL ``NEAREST`` to
    ``size = (H', W')``, then grey > 0 (the official rule: a mask of grey 100 is in focus)."""
    from PIL import Image

    m = mask_to_u8(mask)
    h, w = int(size[0]), int(size[1])
    if m.shape != (h, w):
        m = np.asarray(Image.fromarray(m, mode="L").resize((w, h), Image.NEAREST))
    return m > 0


def focus_disparity(disparity: ArrayLike, *, mask: Optional[ArrayLike] = None,
                    point: Optional[Sequence[float]] = None, box: Optional[Sequence[float]] = None,
                    original_size: Optional[Sequence[int]] = None) -> float:
    """Focus disparity ``d_f`` (1/m) from at most one of mask / point / box (else the centre).

    Args:
        disparity: ``(H, W)`` or ``(1, 1, H, W)`` disparity at the working size (1/m).
        mask: in-focus mask of any size (bool, 8-bit or float in [0, 1]; see :func:`resize_mask`).
        point: ``(x, y)`` in pixels of the original image.
        box: ``(x0, y0, x1, y1)`` in pixels of the original image (x1, y1 exclusive).
        original_size: ``(H, W)`` of the original image (defaults to the disparity size).
    """
    d = as_map(disparity, "disparity")[0, 0]
    H, W = d.shape
    oh, ow = original_size if original_size is not None else (H, W)
    given = [n for n, v in (("mask", mask), ("point", point), ("box", box)) if v is not None]
    if len(given) > 1:
        raise InputError("focus", f"give one of mask, point or box, not {' and '.join(given)}")
    dn = d.detach().cpu().numpy().astype(np.float32)
    if mask is not None:
        m = resize_mask(mask, (H, W))
        if not m.any():
            warnings.warn("focus mask is empty; focusing on the whole-image median disparity", stacklevel=2)
            return float(np.median(dn))
        return float(np.median(dn[m]))
    if point is not None:
        x, y = float(point[0]), float(point[1])
        if not (np.isfinite(x) and np.isfinite(y)) or not (0 <= x < ow and 0 <= y < oh):
            raise InputError("focus point", f"({x:g}, {y:g}) lies outside the {ow}×{oh} image")
        xi = min(max(int(x * (W / ow)), 0), W - 1)
        yi = min(max(int(y * (H / oh)), 0), H - 1)
        return float(dn[yi, xi])
    if box is not None:
        x0, y0, x1, y1 = (float(v) for v in box)
        if not all(np.isfinite(v) for v in (x0, y0, x1, y1)) or not (x1 > x0 and y1 > y0):
            raise InputError("focus box", f"({x0:g}, {y0:g}, {x1:g}, {y1:g}) is empty; need x1 > x0, y1 > y0")
        if x1 <= 0 or y1 <= 0 or x0 >= ow or y0 >= oh:
            raise InputError("focus box", f"({x0:g}, {y0:g}, {x1:g}, {y1:g}) lies outside the {ow}×{oh} image")
        c0 = max(0, int(np.floor(x0 * W / ow)))
        r0 = max(0, int(np.floor(y0 * H / oh)))
        c1 = min(W, max(c0 + 1, int(np.ceil(x1 * W / ow))))
        r1 = min(H, max(r0 + 1, int(np.ceil(y1 * H / oh))))
        return float(np.median(dn[r0:r1, c0:c1]))
    return float(dn[H // 2, W // 2])


@dataclass(frozen=True)
class DepthRegion:
    """One depth region of a disparity map: ``mask`` ``(H, W)`` bool (its largest connected part),
    ``disparity`` the median over it (1/m, the focus value that puts it in focus) and ``point``
    ``(x, y)`` its most interior pixel (for marking it)."""

    name: str
    mask: np.ndarray
    disparity: float
    point: tuple


def depth_regions(disparity: ArrayLike, n: int = 3) -> list:
    """Split a disparity map into ``n`` depth classes (multi-Otsu thresholds) and return the largest
    connected region of each, nearest first, named ``near`` / ``middle`` / ``far`` (``n = 3``) or
    ``depth 1..n``. A focus value taken as a region's median stays on the object even where a single
    pixel would fall between the spokes of a wheel."""
    from scipy import ndimage
    from skimage.filters import threshold_multiotsu

    if not (isinstance(n, int) and 2 <= n <= 5):
        raise InputError("n", f"must be an integer in [2, 5], got {n!r}")
    d = as_map(disparity, "disparity")[0, 0].detach().cpu().numpy().astype(np.float64)
    if float(d.max() - d.min()) == 0.0:
        raise InputError("disparity", "is constant: it has no depth regions")
    try:
        thresholds = threshold_multiotsu(d, classes=n)
    except ValueError:  # fewer distinct levels than classes (e.g. a two-plane map): one class per level
        levels = np.unique(d)
        thresholds = ((levels[1:] + levels[:-1]) / 2)[: n - 1]
    classes = np.digitize(d, thresholds)  # 0 = farthest
    found = []
    for c in range(n - 1, -1, -1):  # nearest first
        labels, count = ndimage.label(classes == c)
        if count == 0:
            continue
        sizes = np.bincount(labels.ravel())[1:]
        mask = labels == (1 + int(np.argmax(sizes)))
        inner = ndimage.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]  # the border counts as outside
        y, x = np.unravel_index(int(np.argmax(inner)), mask.shape)
        found.append((mask, float(np.median(d[mask])), (int(x), int(y))))
    if n == 3:  # by position, so "near" and "far" exist even when a map has only two levels
        names = {3: ["near", "middle", "far"], 2: ["near", "far"], 1: ["near"]}[len(found)]
    else:
        names = [f"depth {i + 1}" for i in range(len(found))]
    return [DepthRegion(name, *f) for name, f in zip(names, found)]


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
    return validate_k(K) * (as_map(disparity, "disparity") - float(focus_disp))


def defocus_condition(coc_px: torch.Tensor, max_coc: float = MAX_COC) -> torch.Tensor:
    """BokehNet's defocus condition: ``clamp(|c| / 100, 0, 1)`` as ``(B, 3, H, W)`` in [0, 1]."""
    return (coc_px.abs() / max_coc).clamp(0.0, 1.0).repeat(1, 3, 1, 1)


def scale_k(K: float, scale: float) -> float:
    """K for an image resized by ``scale`` (CoC in px scales with the image): ``K · scale``."""
    return float(K) * float(scale)
