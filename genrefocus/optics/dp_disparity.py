"""Classical dual-pixel disparity (no learned weights) and a sign-agreement measure.

Convention (same as :class:`~genrefocus.models.dp_model.UiDModel`): disparity ``d`` (px) such that
``left(x) ≈ right(x − d)``. With the scene lab's left / right half apertures, ``d = 0.849·c`` for a
signed CoC radius ``c`` (px): positive in front of the focal plane, negative behind it, zero in focus.
Real Canon (DPDD) and Pixel dual-pixel captures follow the same sign.

The matcher is OpenCV's semi-global block matching (``cv2.StereoSGBM``, whose disparity has the
same definition), run on the luma at 1/16 px precision, with a negative minimum disparity because
DP disparities take both signs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from .focus_measure import to_gray

#: left–right centroid distance of two half-disk apertures, in units of the CoC radius: 2·4/(3π)
HALF_DISK_DISPARITY = 8 / (3 * np.pi)


def half_aperture_weight(sx: torch.Tensor, half: str, softness: float = 0.0) -> torch.Tensor:
    """Weight of aperture samples at ``sx`` (unit-disk x) in the ``"left"`` / ``"right"`` DP view:
    the hard split ``sx < 0`` / ``sx > 0`` or, with ``softness`` τ > 0, ``σ(∓sx/τ)`` (a smooth
    photodiode split; the two views' weights sum to 1)."""
    if half not in ("left", "right"):
        raise ValueError("half must be None, 'left' or 'right'")
    sign = -1.0 if half == "left" else 1.0
    if softness > 0:
        return torch.sigmoid(sign * sx / softness)
    return (sign * sx > 0).to(sx.dtype)


def dp_disparity_factor(softness: float = 0.0, n: int = 401, radial_weight=None) -> float:
    """Left–right centroid distance of the two (hard or smooth, ``softness`` τ) half apertures of a
    unit disk: the DP disparity is this × the signed CoC radius (``8/(3π) = 0.849`` for τ = 0).
    ``radial_weight(ρ)`` (ρ in disk radii) weights the disk (a real lens's PSF shape,
    :class:`~.dp_synthesis.LensPSF`); default flat."""
    if softness <= 0 and radial_weight is None:
        return HALF_DISK_DISPARITY
    t = torch.linspace(-1, 1, n, dtype=torch.float64)
    sy, sx = torch.meshgrid(t, t, indexing="ij")
    rho = torch.sqrt(sy ** 2 + sx ** 2)
    w = (rho <= 1).double() * half_aperture_weight(sx, "right", softness)
    if radial_weight is not None:
        w = w * radial_weight(rho)
    return float(2 * (w * sx).sum() / w.sum())


def sgbm_disparity(left: torch.Tensor, right: torch.Tensor, max_disp: int = 8, block: int = 11) -> tuple:
    """OpenCV SGBM disparity of a DP pair ``(B, C, H, W)`` in [0, 1].

    Returns ``(disparity (B, 1, H, W) px, valid (B, 1, H, W) bool)``; ``max_disp`` bounds ``|d|``
    (rounded up to a multiple of 8), ``block`` is the odd matching window (px).
    """
    import cv2

    if left.shape != right.shape:
        raise ValueError(f"views differ in shape: {tuple(left.shape)} vs {tuple(right.shape)}")
    half = 8 * max(1, -(-int(max_disp) // 8))
    sgbm = cv2.StereoSGBM_create(minDisparity=-half, numDisparities=2 * half, blockSize=int(block) | 1,
                                 P1=8 * block * block, P2=32 * block * block, uniquenessRatio=5,
                                 mode=cv2.STEREO_SGBM_MODE_HH)
    to8 = lambda t: (t.clamp(0, 1) * 255 + 0.5).to(torch.uint8).numpy()  # noqa: E731
    gl, gr = to_gray(left.detach().float().cpu())[:, 0], to_gray(right.detach().float().cpu())[:, 0]
    d = np.stack([sgbm.compute(to8(a), to8(b)).astype(np.float32) / 16.0 for a, b in zip(gl, gr)])
    disp = torch.from_numpy(d)[:, None]
    return disp, disp > -half - 0.5


#: DP sensor layouts: Canon DSLRs split each pixel left/right (views differ by a horizontal shift),
#: Google Pixel phones top/bottom (a vertical shift)
DP_AXES = ("horizontal", "vertical", "auto")


@dataclass(frozen=True)
class AxisDecision:
    """Which way a DP pair's views are shifted: ``axis`` and the evidence — the mean ``|d|`` (px) SGBM
    finds along each axis; ``ratio`` ≥ 1 is the larger over the smaller; ``confident`` when ≥
    :data:`AXIS_MIN_RATIO`."""

    axis: str
    mean_abs_h: float
    mean_abs_v: float

    @property
    def ratio(self) -> float:
        lo, hi = sorted((self.mean_abs_h, self.mean_abs_v))
        return hi / max(lo, 1e-6)

    @property
    def confident(self) -> bool:
        return self.ratio >= AXIS_MIN_RATIO

    def __str__(self) -> str:
        return (f"{self.axis} (SGBM mean |d| {self.mean_abs_h:.2f} px horizontally, {self.mean_abs_v:.2f} px "
                f"vertically{'' if self.confident else '; ambiguous, few defocused edges'})")


AXIS_MIN_RATIO = 1.5


def to_horizontal(x: torch.Tensor, axis: str) -> torch.Tensor:
    """A ``(B, C, H, W)`` view or map of a pair split along ``axis``, laid out so its DP shift is
    horizontal (a transpose for ``"vertical"``; it is its own inverse)."""
    if axis == "horizontal":
        return x
    if axis == "vertical":
        return x.transpose(-1, -2)
    raise ValueError(f"axis must be 'horizontal' or 'vertical', got {axis!r}")


def detect_dp_axis(left: torch.Tensor, right: torch.Tensor, max_disp: int = 8, max_side: int = 640) -> AxisDecision:
    """The split axis of a DP pair ``(1, C, H, W)``: SGBM along rows and along columns (the pair
    downscaled to ``max_side`` for speed, disparities scaled back); the views of a horizontal split
    match with sizeable horizontal shifts at defocused edges and near-zero vertical ones, and the other
    way round. Ties (in-focus scenes) default to horizontal, flagged not ``confident``."""
    import torch.nn.functional as F

    H, W = left.shape[-2:]
    scale = min(1.0, max_side / max(H, W))
    if scale < 1.0:
        size = (max(16, round(H * scale)), max(16, round(W * scale)))
        left, right = (F.interpolate(t.float(), size=size, mode="area") for t in (left, right))
    means = []
    for axis in ("horizontal", "vertical"):
        d, v = sgbm_disparity(to_horizontal(left, axis), to_horizontal(right, axis), max_disp=max_disp)
        means.append(float(d[v].abs().mean()) / scale if bool(v.any()) else 0.0)
    mh, mv = means
    return AxisDecision("vertical" if mv > mh * AXIS_MIN_RATIO else "horizontal", mh, mv)


def capture_spill(coc: torch.Tensor) -> torch.Tensor:
    """How far a capture's pixels are mixed with light from other depths: for each ``x``,
    ``max |c(y) − c(x)|`` over the pixels ``y`` within ``max(|c(x)|, |c(y)|)`` of it (``|x − y|∞``) — a
    blurred ``y`` spreads its light over ``x``, and a blurred ``x`` gathers light from around it (its cone
    passes the edge of its object and sees what lies behind) — for the capture's signed CoC ``coc``
    ``(B, 1, H, W)`` px. 0 where only same-depth light lands — there the capture is its own scene blurred
    by ``|c(x)|`` — and large on both sides of the blurred edge of an object at another depth. The reach
    is a square of side ``2r + 1`` — it holds the disk, so the map errs on the side of "mixed" — which keeps
    each level a few 1-D max filters (SciPy), one level per px of ``max |c|``. ``(B, 1, H, W)`` px."""
    import math

    from scipy import ndimage

    out = []
    for c in coc.detach().float().cpu()[:, 0].numpy():
        a, spread = np.abs(c), np.zeros_like(c)
        for b in range(1, int(math.ceil(float(a.max()) - 0.5)) + 1):
            reach = a >= b - 0.5                      # pixels whose blur reaches b px (rounded)
            size = 2 * b + 1
            # light of the pixels that reach b px, landing on x
            hi = ndimage.maximum_filter(np.where(reach, c, -np.inf), size=size, mode="nearest")
            lo = -ndimage.maximum_filter(np.where(reach, -c, -np.inf), size=size, mode="nearest")
            spread = np.maximum(spread, np.where(np.isfinite(hi), hi - c, 0))
            spread = np.maximum(spread, np.where(np.isfinite(lo), c - lo, 0))
            # light a pixel blurred by ≥ b px gathers from everything within b px
            hi = ndimage.maximum_filter(c, size=size, mode="nearest")
            lo = -ndimage.maximum_filter(-c, size=size, mode="nearest")
            spread = np.maximum(spread, np.where(reach, np.maximum(hi - c, c - lo), 0))
        out.append(spread)
    return torch.from_numpy(np.stack(out))[:, None].to(coc.dtype)


def refocus_from_disparity(aif: torch.Tensor, disparity: torch.Tensor, mask: torch.Tensor, factor: float,
                           capture: Optional[torch.Tensor] = None, blend_px: float = 1.0) -> dict:
    """Refocus with a DP disparity: focus at the mean disparity ``d_f`` inside ``mask`` ``(B, 1, H, W)``,
    target CoC ``c_t = (d − d_f)/factor`` px (``factor``: DP disparity per CoC radius,
    :func:`dp_disparity_factor`), the layered renderer. ``{"refocused", "coc"}`` (``coc`` = ``c_t``).

    Without ``capture`` the all-in-focus image ``aif`` is blurred by ``c_t`` everywhere. With the capture
    ``(B, 3, H, W)`` — the pair's combined view ``(L + R)/2``, focused where ``d = 0``, so blurred by
    ``c_in = d/factor`` — the capture itself is the source wherever the target needs at least as much
    blur as it already has and its pixel holds only same-depth light (:func:`capture_spill` ≤ 1 px — not
    in the halo of a blurred object at another depth, which the new focus may sharpen), blurred only by
    the residual ``sign(c_t)·√(max(c_t² − w·c_in², 0))`` (blur radii add in quadrature: exact for Gaussians,
    close for disks); the deblurred ``aif`` is used elsewhere. The capture's weight ``w`` falls from 1 at
    ``|c_t| = |c_in|`` to 0 at ``|c_t| = |c_in| − blend_px``, so a refocus to the capture's own focus
    returns the capture itself.
    The capture's own pixels carry no deblurring error (defocus magnification, Bae & Durand 2007), so a
    noisy or imperfect AIF only shows where the photo must get sharper. Residual radii keep the sign of
    ``c_t``, so the layered renderer's front/behind order of the two sides of the focal plane is kept."""
    from .render import render_bokeh

    m = mask.to(disparity.dtype).cpu()
    d_f = (disparity * m).sum(dim=(2, 3), keepdim=True) / m.sum(dim=(2, 3), keepdim=True).clamp_min(1e-8)
    coc = (disparity - d_f) / factor
    if capture is None:
        return {"refocused": render_bokeh(aif, coc, mode="layered"), "coc": coc}
    if capture.shape != aif.shape:
        raise ValueError(f"capture {tuple(capture.shape)} must match aif {tuple(aif.shape)}")
    if not blend_px > 0:
        raise ValueError(f"blend_px must be > 0, got {blend_px!r}")
    c_in = disparity / factor
    clean = (1 - (capture_spill(c_in) - 1.0) / blend_px).clamp(0, 1)
    w = ((coc.abs() - c_in.abs()) / blend_px + 1).clamp(0, 1) * clean
    source = w * capture.to(aif) + (1 - w) * aif
    residual = torch.sign(coc) * (coc * coc - w * c_in * c_in).clamp_min(0).sqrt()
    return {"refocused": render_bokeh(source, residual, mode="layered"), "coc": coc}


def disparity_confidence(image: torch.Tensor, noise_floor: float = 0.01, window_sigma: float = 2.0) -> torch.Tensor:
    """Where a DP disparity can be measured at all: ``e / (e + n²)`` with ``e`` the local mean (Gaussian
    of ``window_sigma`` px) of the squared luma gradient (Sobel / 8, per px) of ``image`` ``(B, C, H, W)``
    and ``n`` = ``noise_floor`` (gradient per px that carries no parallax: about the sensor noise).
    ``(B, 1, H, W)`` in [0, 1) — near 0 on flat, textureless regions (sky, a blown-out window)."""
    from scipy import ndimage

    out = []
    for g in to_gray(image.detach().float().cpu())[:, 0].numpy():
        gx, gy = ndimage.sobel(g, 1) / 8, ndimage.sobel(g, 0) / 8
        e = ndimage.gaussian_filter(gx * gx + gy * gy, window_sigma)
        out.append(e / (e + noise_floor ** 2))
    return torch.from_numpy(np.stack(out))[:, None].float()


def fill_textureless(disparity: torch.Tensor, image: torch.Tensor, noise_floor: float = 0.01,
                     sigma_frac: float = 0.06) -> torch.Tensor:
    """Disparity ``(B, 1, H, W)`` px with its textureless parts filled from their textured surroundings:
    ``c·d + (1 − c)·(G∗(c·d))/(G∗c)`` — ``c`` the :func:`disparity_confidence` of ``image``
    ``(B, C, H, W)`` and ``G`` a Gaussian of ``sigma_frac`` × the long side (normalised convolution,
    Knutsson & Westin 1993). A per-pixel network (or any local matcher) has no parallax to read on a flat
    region and returns ~0 there; semi-global matchers fill such regions by a smoothness prior — this is
    that prior for a learned disparity. Written with SciPy's Gaussian filter."""
    import torch.nn.functional as F
    from scipy import ndimage

    if disparity.dim() != 4 or disparity.shape[1] != 1 or disparity.shape[-2:] != image.shape[-2:]:
        raise ValueError(f"need disparity (B, 1, H, W) and image (B, C, H, W) of one size, got "
                         f"{tuple(disparity.shape)}, {tuple(image.shape)}")
    c = disparity_confidence(image, noise_floor).double()
    d = disparity.detach().cpu().double()
    H, W = d.shape[-2:]
    s = sigma_frac * max(H, W)
    k = max(1, int(s // 4))  # the fill is smooth: filter a k× smaller copy (block means), then upsample
    small = F.avg_pool2d(torch.cat([c * d, c], 1), k, ceil_mode=True).numpy()
    small = np.stack([[ndimage.gaussian_filter(ch, s / k, mode="nearest") for ch in b] for b in small])
    num, den = F.interpolate(torch.from_numpy(small), size=(H, W), mode="bilinear", align_corners=False).unbind(1)
    filled = c * d + (1 - c) * (num / den.clamp_min(1e-12))[:, None]
    return filled.to(disparity.dtype)


def sign_agreement(disparity: torch.Tensor, reference: torch.Tensor, valid: torch.Tensor,
                   min_abs: float = 1.0) -> float:
    """Fraction of the pixels with ``valid`` and ``|reference| ≥ min_abs`` (px) where ``disparity``
    has the sign of ``reference`` (NaN when there are none)."""
    sel = valid & (reference.abs() >= min_abs)
    if not bool(sel.any()):
        return float("nan")
    return float((torch.sign(disparity[sel]) == torch.sign(reference[sel])).float().mean())


def save_disparity(disparity: torch.Tensor, path) -> "Path":
    """Write a signed disparity ``(1, 1, H, W)``: ``.npy`` (float32, px) or an image (:func:`disparity_to_rgb`:
    red in front of the focal plane, blue behind); atomic."""
    from pathlib import Path

    from ..io import atomic_write, save_image

    path = Path(path)
    if path.suffix.lower() == ".npy":
        arr = disparity[0, 0].detach().cpu().numpy().astype(np.float32)

        def write(tmp):
            with open(tmp, "wb") as fh:
                np.save(fh, arr)
        return atomic_write(path, write)
    return save_image(disparity_to_rgb(disparity), path)


def disparity_to_rgb(disparity: torch.Tensor, scale: float = 0.0) -> torch.Tensor:
    """Signed disparity ``(B, 1, H, W)`` (px) → ``(B, 3, H, W)`` in [0, 1] for viewing: red in front of
    the focal plane (positive), blue behind (negative), green in focus; ``scale`` px maps to full
    colour (default: the largest ``|d|``)."""
    s = float(scale) or max(float(disparity.abs().max()), 1e-6)
    x = (disparity / s).clamp(-1, 1)
    return torch.cat([x.clamp(min=0), 1 - x.abs(), (-x).clamp(min=0)], 1)
