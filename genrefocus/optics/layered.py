"""Occlusion-aware layered bokeh: depth layers blurred with their own PSF, composited back to front.

DESIGN §3.4. The signed CoC range is cut into layers ``c_0 < … < c_{n−1}`` (back to front; larger
``c`` is nearer). A pixel at ``c`` between ``c_j`` and ``c_{j+1}`` belongs fully to layer ``j``
and with alpha ``(c − c_j)/(c_{j+1} − c_j)`` to layer ``j+1``, so compositing the pair gives back
its colour while its blur interpolates between the two PSFs. Each layer's premultiplied colour and
alpha are convolved with that layer's aperture PSF (sum 1; rotated by 180° in front of the focal
plane when ``flip_front``) and composited with "over". Before each layer goes on, what lies behind
it is made opaque by filling the holes of the accumulated image (regions hidden in the input)
with a pull–push extension of the visible background, so a blurred foreground shows plausible
background through its soft edge instead of black — the see-through that a scatter renderer
cannot produce.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .apertures import Aperture, Disk
from .fftconv import fft_convolve


def pull_push_fill(premult: torch.Tensor, alpha: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Un-premultiplied colour everywhere, extended smoothly from where ``alpha > 0``.

    Args:
        premult: ``(B, C, H, W)`` premultiplied colour. alpha: ``(B, 1, H, W)`` coverage in [0, 1].
    Returns:
        ``(B, C, H, W)`` colour: equal to ``premult/alpha`` where ``alpha = 1`` and filled from
        coarser pyramid levels (normalized averages) elsewhere.
    """
    pyr = [(premult, alpha.clamp(0.0, 1.0))]
    while min(pyr[-1][0].shape[-2:]) > 1:
        c, a = pyr[-1]
        pyr.append((F.avg_pool2d(c, 2, ceil_mode=True), F.avg_pool2d(a, 2, ceil_mode=True)))
    c, a = pyr[-1]
    col = c / a.clamp_min(eps)
    for c, a in reversed(pyr[:-1]):
        up = F.interpolate(col, size=c.shape[-2:], mode="bilinear", align_corners=False)
        col = c + (1.0 - a) * up
    return col


def layer_centers(coc: torch.Tensor, step: float = 1.0, max_layers: int = 48) -> torch.Tensor:
    """Layer CoC values (px), evenly spaced from ``coc.min()`` to ``coc.max()``, ≤ ``step`` apart
    (at most ``max_layers``)."""
    lo, hi = float(coc.min()), float(coc.max())
    n = int(min(max_layers, max(2, math.ceil((hi - lo) / step) + 1)))
    return torch.linspace(lo, hi, n, dtype=torch.float64)


def render_layered(linear: torch.Tensor, coc: torch.Tensor, aperture: Aperture | None = None,
                   flip_front: bool = True, step: float = 1.0, max_layers: int = 48,
                   progress: bool = False) -> torch.Tensor:
    """Occlusion-aware layered rendering of a linear image.

    Args:
        linear: ``(B, C, H, W)`` linear image. coc: ``(B, 1, H, W)`` signed CoC (px).
        aperture: shape (default disk); ``flip_front`` rotates it 180° for layers with ``c > 0``.
        step: maximum CoC spacing (px) between layers; ``max_layers`` caps their number.
        progress: show a progress bar over layers.
    Returns:
        ``(B, C, H, W)`` linear bokeh image.
    """
    aperture = aperture or Disk()
    if linear.shape[0] > 1:
        return torch.cat([render_layered(linear[i:i + 1], coc[i:i + 1], aperture, flip_front, step,
                                         max_layers, progress) for i in range(linear.shape[0])])
    centers = layer_centers(coc, step, max_layers)
    n = len(centers)
    c = coc.to(torch.float64)
    pos = ((c - centers[0]) / (centers[-1] - centers[0]).clamp_min(1e-12) * (n - 1)).clamp(0, n - 1)
    j0 = pos.floor().clamp(max=n - 2)
    frac = (pos - j0).to(linear.dtype)
    acc_c = acc_a = None
    for j in tqdm(range(n), desc="layered", unit="layer", disable=not progress):
        a = (j0 == j).to(linear.dtype) + (j0 + 1 == j).to(linear.dtype) * frac
        if not bool((a > 0).any()):
            continue
        if acc_c is not None:  # make what lies behind opaque: fill hidden regions
            acc_c = acc_c + (1.0 - acc_a) * pull_push_fill(acc_c, acc_a)
            acc_a = torch.ones_like(acc_a)
        cj = float(centers[j])
        k = aperture.kernel(abs(cj), flip=flip_front and cj > 0, device=linear.device, dtype=linear.dtype)
        blurred = fft_convolve(torch.cat([linear * a, a], dim=1), k, padding="replicate")
        cb, ab = blurred[:, :-1], blurred[:, -1:].clamp(0.0, 1.0)
        if acc_c is None:
            acc_c, acc_a = cb, ab
        else:
            acc_c = cb + (1.0 - ab) * acc_c
            acc_a = ab + (1.0 - ab) * acc_a
    return acc_c / acc_a.clamp_min(1e-6)
