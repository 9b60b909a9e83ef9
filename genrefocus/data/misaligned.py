"""Misaligned training pairs, as real deblurring pairs are (JDRL, paper 004): a sharp crop defocused by the
layered renderer with a smooth random CoC field plus sensor noise → the blurry input; the ground truth is
the sharp crop **moved** by a small random homography and a smooth flow field (Lanczos-4 resampling: a
bilinear one would keep only half of the truth's fine detail, and a model learns that smoothing), with an
exposure/colour shift. The aligned sharp crop is kept for evaluation only. Optionally the input goes
through a GIF palette, dithered or not; the shared real frames are delivered dithered."""

from __future__ import annotations

import math

import numpy as np
import torch

from ..optics.dp_synthesis import gif_palette, sensor_noise
from ..optics.render import render_bokeh
from ..perception.flow import warp
from .photos import PhotoPool


def _smooth_field(rng: np.random.Generator, size: int, amplitude: float) -> torch.Tensor:
    """A smooth random flow ``(1, 2, size, size)`` px with max |component| ≈ ``amplitude``."""
    from scipy import ndimage

    f = np.stack([ndimage.gaussian_filter(rng.standard_normal((size, size)), size / 6) for _ in range(2)])
    f = f / max(np.abs(f).max(), 1e-8) * amplitude
    return torch.from_numpy(f.astype(np.float32))[None]


def misaligned_pair(pool: PhotoPool, rng: np.random.Generator, size: int = 96, coc_max: float = 8.0,
                    shift_max: float = 2.0, palette: float = 0.0, dither: bool = False) -> dict:
    """``blurry``, ``target`` (misaligned sharp), ``aligned`` (the exact sharp image, for evaluation),
    each ``(1, 3, size, size)``, and ``coc`` ``(1, 1, size, size)``: the CoC radius (px) that blurred
    ``aligned`` into ``blurry`` (layered renderer, gamma 4) — the true kernel, for oracle baselines.
    ``palette``: the fraction of inputs stored through a 256-colour GIF palette after the noise
    (:func:`~genrefocus.optics.dp_synthesis.gif_palette`), with Floyd–Steinberg dithering if ``dither``
    (as the shared Canon frames are stored: a dot pattern that is not scene detail); at 0 the random
    stream is that of earlier versions (the same pairs for the same seed), and ``dither`` never changes it."""
    m = 8
    big = pool.crop(rng, size + 2 * m)[None]
    # defocus: a smooth CoC field ≥ 0 (single image: no sign), skewed to small radii
    c0 = coc_max * float(rng.random()) ** 1.5
    field_ = _smooth_field(rng, size + 2 * m, 1.0)[:, :1]
    coc = (c0 * (1 + 0.5 * field_)).clamp(0, coc_max)
    blurry = render_bokeh(big, coc, mode="layered")
    g = torch.Generator().manual_seed(int(rng.integers(2 ** 31)))
    blurry = sensor_noise(blurry, float(np.exp(rng.uniform(np.log(1e-5), np.log(1e-3)))), 0.002, g)
    # misalignment of the ground truth: homography-like affine (shift, rotation, scale) + smooth field
    n = size + 2 * m
    yy, xx = torch.meshgrid(torch.arange(n, dtype=torch.float32), torch.arange(n, dtype=torch.float32), indexing="ij")
    ang, s = math.radians(float(rng.uniform(-0.8, 0.8))), 1 + float(rng.uniform(-0.01, 0.01))
    tx, ty = rng.uniform(-shift_max, shift_max, 2)
    cx = cy = (n - 1) / 2
    xs = s * (math.cos(ang) * (xx - cx) - math.sin(ang) * (yy - cy)) + cx + tx
    ys = s * (math.sin(ang) * (xx - cx) + math.cos(ang) * (yy - cy)) + cy + ty
    flow = torch.stack([xs - xx, ys - yy])[None] + _smooth_field(rng, n, float(rng.uniform(0, 1.0)))
    target = warp(big, flow, mode="lanczos").clamp(0, 1)  # a capture is sharp: no bilinear low-pass
    gain = torch.from_numpy(rng.uniform(0.95, 1.05, 3).astype(np.float32)).view(1, 3, 1, 1)
    target = (target * gain + float(rng.uniform(-0.02, 0.02))).clamp(0, 1)
    crop = lambda t: t[..., m:m + size, m:m + size]  # noqa: E731
    blurry = crop(blurry)
    if palette > 0 and rng.random() < palette:
        blurry = gif_palette(blurry, dither)
    return {"blurry": blurry, "target": crop(target), "aligned": crop(big), "coc": crop(coc)}


__all__ = ["misaligned_pair"]
