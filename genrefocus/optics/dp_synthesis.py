"""Dual-pixel image formation from an all-in-focus image and a signed CoC map, as real DP sensors
form their two views (after Punnappurath et al., ICCP 2020, and Abuolaim et al., ICCV 2021):

* each view sees one half of the aperture through a **smooth** photodiode split: the weight of an
  aperture sample at ``s_x`` (unit-disk x) is ``σ(±s_x/τ)`` — softness ``τ`` in aperture radii, as the
  scene lab's exact DP renders (:meth:`~.scene_lab.Scene.dual_pixel`); ``τ → 0`` is a hard half disk;
* the halves **swap** in front of the focal plane (the image of the aperture is inverted), so the
  disparity ``d = f(τ)·c`` has the sign of the CoC ``c`` (:func:`~.dp_disparity.dp_disparity_factor`);
  convention ``left(x) ≈ right(x − d)``;
* blur happens in **linear light** on **layers** composited back to front (premultiplied colour and
  coverage blurred with the same kernel), the CoC quantised in ``bin_px`` steps;
* the lens's **PSF shape** (:class:`LensPSF`): a flat disk, or the rim-bright, soft-edged disk that
  Abuolaim et al. calibrated on a Canon DSLR (a Butterworth high-pass radial weight, Gaussian-smoothed);
* optionally a **green-only** capture (:func:`green_only`: Pixel phones split only the green
  photosites, so their DP views are one grey channel);
* per-view **light fall-off** (a gain and a horizontal ramp that differ between the views, as an
  uncorrected sensor) with :func:`balance_views` as its correction, and **sensor noise**
  (signal-dependent shot noise + read noise, :func:`sensor_noise`).

Both views are normalised to the image's brightness, so ``(L + R)/2`` in linear light is the
full-aperture (disk) render. Written by hand: no library renders dual-pixel views.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .fftconv import fft_convolve
from .render import Gamma, from_linear, to_linear


@dataclass(frozen=True)
class LensPSF:
    """Radial shape of a defocus PSF of CoC radius ``r`` px, after Abuolaim et al. (ICCV 2021, §3.1 and
    their ``generate_bw_kernel.py``), who fitted it to a Canon DSLR's calibrated DP PSFs: inside the disk
    the weight at radius ``ρ`` is ``floor + (1 − floor)·h(ρ/(cutoff·r))`` with ``h(u) = u^{2n}/(1 + u^{2n})``
    the Butterworth high-pass of ``order`` n — a dim centre (``floor`` β, 0.1–0.2 in their data) and a
    bright rim —, then the edges softened by a Gaussian of ``edge·r`` px (their κ smoothing). The default
    (``floor = 1``, ``edge = 0``) is the flat disk of an ideal thin lens."""

    order: float = 3.0
    cutoff: float = 1.0
    floor: float = 1.0
    edge: float = 0.0

    def radial_weight(self, u: torch.Tensor) -> torch.Tensor:
        """The weight at ``u = ρ / r`` (radius in CoC radii; the disk itself is applied by the caller)."""
        if self.floor >= 1.0:
            return torch.ones_like(u)
        e = (u / self.cutoff) ** (2 * self.order)
        return self.floor + (1 - self.floor) * e / (1 + e)

    def disparity_factor(self, softness: float) -> float:
        """DP disparity per signed CoC radius for this shape and split ``softness`` (the left–right
        centroid distance of the two half PSFs of a unit CoC; edge smoothing left out — it is symmetric)."""
        from .dp_disparity import dp_disparity_factor

        return dp_disparity_factor(softness, radial_weight=self.radial_weight)


def _edge_pad(r: float, psf: LensPSF) -> int:
    """Extra half-width (px) the Gaussian edge of ``psf`` spreads a disk of radius ``r`` by."""
    return int(math.ceil(3 * psf.edge * r)) if psf.edge > 0 else 0


def _lens_disk(r: float, psf: LensPSF) -> tuple:
    """``(weights, x)`` ``(2R+1, 2R+1)`` float64: the anti-aliased disk of radius ``r`` ≥ 0.5 px weighted by
    the lens ``psf`` shape (unnormalised), and each sample's x offset in px."""
    pad = _edge_pad(r, psf)
    R = int(math.ceil(r)) + 1 + pad
    t = torch.arange(-R, R + 1, dtype=torch.float64)
    yy, xx = torch.meshgrid(t, t, indexing="ij")
    rho = torch.sqrt(yy ** 2 + xx ** 2)
    disk = (r + 0.5 - rho).clamp(0, 1) * psf.radial_weight(rho / r)
    if pad:
        from scipy.ndimage import gaussian_filter

        disk = torch.from_numpy(gaussian_filter(disk.numpy(), psf.edge * r, mode="constant"))
    return disk, xx


def lens_kernel(radius: float, psf: LensPSF = LensPSF()) -> torch.Tensor:
    """The full-aperture PSF ``(2R+1, 2R+1)`` (sums to 1) of CoC radius ``radius`` px for the lens ``psf``
    shape: what the two DP views of :func:`dp_kernels` add up to, i.e. the blur of the combined capture."""
    r = abs(float(radius))
    if r < 0.5:
        return torch.ones(1, 1)
    disk, _ = _lens_disk(r, psf)
    return (disk / disk.sum()).float()


def dp_kernels(coc: float, softness: float = 0.3, psf: LensPSF = LensPSF()) -> tuple:
    """``(left, right)`` PSFs ``(2R+1, 2R+1)`` (each sums to 1) of a point at signed CoC radius ``coc``
    px: an anti-aliased disk weighted by the lens ``psf`` shape (default: flat), times the smooth split
    ``σ(±sign(c)·x / (τ·|c|))``."""
    r = abs(float(coc))
    if r < 0.5:
        R = int(math.ceil(r)) + 1 + _edge_pad(r, psf)
        delta = torch.zeros(2 * R + 1, 2 * R + 1)
        delta[R, R] = 1.0
        return delta, delta.clone()
    disk, xx = _lens_disk(r, psf)
    s = math.copysign(1.0, coc)
    tau = max(float(softness), 1e-3)
    w_left = torch.sigmoid(s * xx / (tau * r))
    left, right = disk * w_left, disk * (1 - w_left)
    return (left / left.sum()).float(), (right / right.sum()).float()


def synthesize_dp(aif: torch.Tensor, coc: torch.Tensor, softness: float = 0.3, gamma: Gamma = "srgb",
                  bin_px: float = 0.5, psf: LensPSF = LensPSF()) -> tuple:
    """DP views ``(left, right)`` ``(B, 3, H, W)`` in [0, 1] of ``aif`` ``(B, 3, H, W)`` with signed CoC
    ``coc`` ``(B, 1, H, W)`` px (positive = in front of the focal plane): layers of equal CoC (steps of
    ``bin_px``) blurred with :func:`dp_kernels` (lens shape ``psf``) and composited far to near in linear light."""
    if aif.dim() != 4 or coc.shape[-2:] != aif.shape[-2:] or coc.shape[1] != 1:
        raise ValueError(f"need aif (B, 3, H, W) and coc (B, 1, H, W), got {tuple(aif.shape)}, {tuple(coc.shape)}")
    lin = to_linear(aif.float().clamp(0, 1), gamma)
    q = torch.round(coc.float() / bin_px)
    views = []
    for b in range(aif.shape[0]):
        levels = torch.unique(q[b]).tolist()  # ascending CoC = far to near
        out_l = torch.zeros_like(lin[b:b + 1])
        out_r = torch.zeros_like(lin[b:b + 1])
        for lv in levels:
            alpha = (q[b:b + 1] == lv).float()
            layer = torch.cat([lin[b:b + 1] * alpha, alpha], 1)
            kl, kr = dp_kernels(lv * bin_px, softness, psf)
            for out, k in ((out_l, kl), (out_r, kr)):
                blurred = fft_convolve(layer, k, padding="replicate") if k.shape[-1] > 1 else layer
                a = blurred[:, 3:4].clamp(0, 1)
                out.mul_(1 - a).add_(blurred[:, :3])
        views.append((out_l, out_r))
    left = torch.cat([v[0] for v in views])
    right = torch.cat([v[1] for v in views])
    return from_linear(left.clamp(0, 1), gamma), from_linear(right.clamp(0, 1), gamma)


def green_only(x: torch.Tensor) -> torch.Tensor:
    """A green-only DP capture, as Google Pixel phones deliver their dual-pixel views (only the green
    photosites are split): the green channel of ``x`` ``(B, 3, H, W)`` repeated in all three channels."""
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"need (B, 3, H, W), got {tuple(x.shape)}")
    return x[:, 1:2].expand(-1, 3, -1, -1).contiguous()


def view_falloff(left: torch.Tensor, right: torch.Tensor, gain: float, ramp: float) -> tuple:
    """Uncorrected per-view light fall-off: the left view × ``(1 + gain/2)(1 + ramp·x)``, the right ×
    ``(1 − gain/2)(1 − ramp·x)``, ``x`` ∈ [−1, 1] across the width (the two halves of the lens light
    the two photodiodes unevenly, more so off-axis)."""
    W = left.shape[-1]
    x = torch.linspace(-1, 1, W, dtype=left.dtype).view(1, 1, 1, W)
    return ((left * (1 + gain / 2) * (1 + ramp * x)).clamp(0, 1),
            (right * (1 - gain / 2) * (1 - ramp * x)).clamp(0, 1))


def balance_views(left: torch.Tensor, right: torch.Tensor, sigma_frac: float = 0.25) -> tuple:
    """The fall-off correction: each view scaled by ``√(G∗mean / G∗view)`` per pixel, ``G`` a wide
    Gaussian (``sigma_frac`` of the long side) — slow gain differences go, the parallax (fine detail)
    stays. ``(B, C, H, W)`` each."""
    import torch.nn.functional as F

    def low(x):
        H, W = x.shape[-2:]
        s = max(1, round(max(H, W) / 32))  # blur a small copy: the gains are smooth
        small = F.avg_pool2d(x.mean(1, keepdim=True), s, ceil_mode=True)
        sig = max(1.0, sigma_frac * max(small.shape[-2:]))
        k = int(2 * math.ceil(3 * sig) + 1)
        g = torch.exp(-0.5 * (torch.arange(k, dtype=x.dtype) - k // 2) ** 2 / sig ** 2)
        g = (g[:, None] * g[None]) / g.sum() ** 2
        small = fft_convolve(small, g, padding="replicate")
        return F.interpolate(small, size=(H, W), mode="bilinear", align_corners=False).clamp_min(1e-4)

    ll, lr = low(left), low(right)
    mid = (ll + lr) / 2
    return (left * (mid / ll)).clamp(0, 1), (right * (mid / lr)).clamp(0, 1)


def gif_palette(x: torch.Tensor, dither: bool = False) -> torch.Tensor:
    """``x`` ``(1, 3, H, W)`` in [0, 1] as a GIF frame stores it: 8 bits, a 256-colour palette (PIL's
    median-cut ``quantize``) — how the shared real DP pairs are delivered. ``dither``: each pixel mapped
    to that palette with Floyd–Steinberg error diffusion (PIL), as the shared Canon frames are — the
    quantisation error becomes a fine dot pattern that keeps local means but adds high-frequency energy
    (on a photo defocused by a 2 px CoC it multiplies the variance of the Laplacian 4–5×); without it
    each pixel takes its nearest palette colour (flat bands, no added texture)."""
    import numpy as np
    from PIL import Image

    arr = (x[0].permute(1, 2, 0).numpy() * 255 + 0.5).clip(0, 255).astype(np.uint8)
    img = Image.fromarray(arr)
    q = img.quantize(256)
    if dither:
        q = img.quantize(palette=q, dither=Image.Dither.FLOYDSTEINBERG)
    q = np.asarray(q.convert("RGB"), np.float32) / 255.0
    return torch.from_numpy(q).permute(2, 0, 1)[None]


def sensor_noise(x: torch.Tensor, shot: float, read: float, generator=None) -> torch.Tensor:
    """Heteroscedastic sensor noise on an image in [0, 1]: variance ``shot·x + read²`` (in linear-ish
    display values, as the noise model of Punnappurath et al.)."""
    std = torch.sqrt(shot * x.clamp(0, 1) + read ** 2)
    return (x + std * torch.randn(x.shape, generator=generator, dtype=x.dtype)).clamp(0, 1)


__all__ = ["LensPSF", "balance_views", "dp_kernels", "gif_palette", "green_only", "lens_kernel", "sensor_noise", "synthesize_dp",
           "view_falloff"]
