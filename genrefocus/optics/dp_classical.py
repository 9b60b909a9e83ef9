"""The classical dual-pixel baseline (no learned weights): SGBM disparity → defocus map → non-blind,
spatially varying Wiener deconvolution with disk kernels.

1. Disparity ``d`` (px) of the pair laid out horizontally (:func:`~.dp_disparity.to_horizontal`),
   OpenCV SGBM (:func:`~.dp_disparity.sgbm_disparity`); unmatched pixels are filled from their
   nearest matched neighbour, then a 5-px median removes speckle.
2. Defocus radius ``r = |d| / f`` px of the combined image ``(L + R)/2`` (its PSF is the whole
   aperture, a disk), with ``f`` the DP disparity per CoC radius of a smooth photodiode split
   (:func:`~.dp_disparity.dp_disparity_factor`, softness 0.3 → f = 0.60; a hard split gives 0.85).
3. The image — in linear light, where blur is a convolution — is Wiener-deconvolved once per radius bin (FFT, reflect-padded, noise-to-signal ratio
   ``nsr``); each pixel blends the two bins around its ``r`` with hat weights, ``r < 0.5`` px keeps
   the input.

Written by hand: OpenCV and scikit-image have Wiener deconvolution only for one kernel per image
(``skimage.restoration.wiener``); the spatially varying blend is the step they lack.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .apertures import Disk
from .dp_disparity import dp_disparity_factor, refocus_from_disparity, sgbm_disparity
from .fftconv import centered_kernel_rfft, fast_size


@dataclass(frozen=True)
class ClassicalDPOptions:
    """``softness``: photodiode split softness for the disparity→radius factor; ``nsr``: Wiener
    noise-to-signal ratio; ``bins``: radius bins (px); ``max_disp``: SGBM search range (px); ``gamma``: how the pixel values
    encode light (``"srgb"`` for camera images, a number for the renderers' power law): blur is a
    convolution in linear light, so the deconvolution runs there."""

    softness: float = 0.3
    nsr: float = 0.03
    gamma: object = "srgb"
    bins: tuple = (0.0, 1.0, 1.5, 2.0, 3.0, 4.0, 5.5, 7.0, 9.0, 12.0)
    max_disp: int = 16


def fill_and_smooth(disparity: torch.Tensor, valid: torch.Tensor, median: int = 5) -> torch.Tensor:
    """``(B, 1, H, W)`` disparity with invalid pixels set from the nearest valid one, then median
    filtered (``median`` px, odd)."""
    from scipy import ndimage

    out = []
    for d, v in zip(disparity[:, 0].numpy(), valid[:, 0].numpy()):
        if v.any() and not v.all():
            idx = ndimage.distance_transform_edt(~v, return_distances=False, return_indices=True)
            d = d[tuple(idx)]
        elif not v.any():
            d = np.zeros_like(d)
        out.append(ndimage.median_filter(d, size=median, mode="nearest"))
    return torch.from_numpy(np.stack(out))[:, None].float()


def wiener_deconvolve(image: torch.Tensor, kernel: torch.Tensor, nsr: float) -> torch.Tensor:
    """``image`` ``(B, C, H, W)`` deconvolved by the odd ``(k, k)`` ``kernel`` (sum 1) with a gradient
    prior: ``X = Y·K* / (|K|² + nsr·|∇|²)``, ``|∇|² = 4 sin²(πf_y) + 4 sin²(πf_x)`` (zero at DC, so
    the mean is kept), on a reflect-padded copy (pad = kernel size, against wrap-around ringing)."""
    R = kernel.shape[-1] // 2
    H, W = image.shape[-2:]
    pad = min(2 * R + 2, H - 1, W - 1)
    x = F.pad(image, (pad, pad, pad, pad), mode="reflect") if pad > 0 else image
    shape = (fast_size(x.shape[-2]), fast_size(x.shape[-1]))
    x = F.pad(x, (0, shape[1] - x.shape[-1], 0, shape[0] - x.shape[-2]), mode="replicate")
    Kf = centered_kernel_rfft(kernel.to(image.dtype), shape)
    fy = torch.fft.fftfreq(shape[0], dtype=image.dtype)[:, None]
    fx = torch.fft.rfftfreq(shape[1], dtype=image.dtype)[None]
    grad2 = 4 * (torch.sin(torch.pi * fy) ** 2 + torch.sin(torch.pi * fx) ** 2)  # |D_x|² + |D_y|², 0 at DC
    y = torch.fft.irfft2(torch.fft.rfft2(x) * Kf.conj() / (Kf.abs() ** 2 + nsr * grad2), s=shape)
    return y[..., pad:pad + H, pad:pad + W]


def deconvolve_by_radius(image: torch.Tensor, radius: torch.Tensor, bins, nsr: float) -> torch.Tensor:
    """Spatially varying deconvolution: ``image`` ``(1, C, H, W)``, defocus ``radius`` ``(1, 1, H, W)``
    px; each pixel mixes the Wiener results of the two ``bins`` around its radius (hat weights)."""
    bins = [float(b) for b in bins]
    r = radius.clamp(bins[0], bins[-1])
    out = torch.zeros_like(image)
    for i, b in enumerate(bins):
        lo = bins[i - 1] if i > 0 else b
        hi = bins[i + 1] if i + 1 < len(bins) else b
        w = torch.zeros_like(r)
        if i > 0:
            w = torch.where((r >= lo) & (r <= b), (r - lo) / (b - lo), w)
        if i + 1 < len(bins):
            w = torch.where((r >= b) & (r <= hi), (hi - r) / (hi - b), w)
        if i == 0:
            w = torch.where(r <= b, torch.ones_like(r), w)
        if not bool((w > 0).any()):
            continue
        restored = image if b < 0.5 else wiener_deconvolve(image, Disk().kernel(b, dtype=image.dtype), nsr)
        out = out + w * restored
    return out.clamp(0, 1)


def unsharp_mask(image: torch.Tensor, sigma: float = 2.0, amount: float = 1.0) -> torch.Tensor:
    """``x + amount·(x − G_σ ∗ x)`` clipped to [0, 1] — the textbook sharpening baseline, ``(B, C, H, W)``.
    (Written out because scikit-image 0.26's ``unsharp_mask`` returns wrong values on float input.)"""
    from skimage.filters import gaussian

    out = []
    for x in image.detach().cpu().double().numpy():
        blurred = gaussian(x, sigma=sigma, channel_axis=0)
        out.append(np.clip(x + amount * (x - blurred), 0, 1))
    return torch.from_numpy(np.stack(out)).to(image.dtype)


class ClassicalDP:
    """The classical baseline with the learned model's interface: ``all_in_focus(left, right) →
    {"aif", "disparity"}`` and ``refocus(left, right, mask)`` for a pair laid out horizontally
    (``(B, 3, H, W)`` in [0, 1]; disparity in px, ``left(x) ≈ right(x − d)``)."""

    def __init__(self, options: ClassicalDPOptions = ClassicalDPOptions()):
        self.options = options
        self.factor = dp_disparity_factor(options.softness)

    def disparity(self, left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
        d, valid = sgbm_disparity(left, right, max_disp=self.options.max_disp)
        return fill_and_smooth(d, valid)

    def all_in_focus(self, left: torch.Tensor, right: torch.Tensor) -> dict:
        disp = self.disparity(left, right)
        from .render import from_linear, to_linear

        g = self.options.gamma
        blurry = (to_linear(left.float(), g) + to_linear(right.float(), g)) / 2
        aif = torch.cat([deconvolve_by_radius(b[None], (d[None].abs() / self.factor), self.options.bins,
                                              self.options.nsr) for b, d in zip(blurry, disp)])
        aif = from_linear(aif, g)
        return {"aif": aif, "disparity": disp}

    def refocus(self, left: torch.Tensor, right: torch.Tensor, mask: torch.Tensor, reuse_capture: bool = True) -> dict:
        """The layered renderer with the signed CoC ``(d − d_f)/f`` px, ``d_f`` the mean disparity inside
        ``mask`` ``(B, 1, H, W)``, on the AIF — and on the capture ``(L + R)/2`` where that is blurred less
        than the target, unless ``reuse_capture`` is False (:func:`~.dp_disparity.refocus_from_disparity`):
        ``{"refocused", "aif", "disparity", "coc"}``."""
        out = self.all_in_focus(left, right)
        capture = (left.float() + right.float()) / 2 if reuse_capture else None
        return {**self.refocus_from(out["aif"], out["disparity"], mask, capture), **out}

    def refocus_from(self, aif: torch.Tensor, disparity: torch.Tensor, mask: torch.Tensor,
                     capture: torch.Tensor | None = None) -> dict:
        """:func:`~.dp_disparity.refocus_from_disparity` with this baseline's disparity factor:
        ``{"refocused", "coc"}``."""
        return refocus_from_disparity(aif, disparity, mask, self.factor, capture)


__all__ = ["ClassicalDP", "ClassicalDPOptions", "deconvolve_by_radius", "fill_and_smooth", "unsharp_mask",
           "wiener_deconvolve"]
