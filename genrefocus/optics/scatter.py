"""BokehMe's classical scatter operator: the reference loop and the fast radius-binned form.

One formula (DESIGN §3.4). Every source pixel ``s`` with CoC radius ``r = |c_s|`` (px) spreads
its linear colour to targets ``t = s + δ``, ``δ ∈ [-(⌊r⌋+1), ⌊r⌋+1]²``, with weight

    w(r, δ) = A_r(δ) / (r² + 0.2),     A_r(δ) = 0.5 + 0.5·tanh(4·e_r(δ))

(``A_r`` the soft aperture indicator, ``e_r = r − |δ|`` for the disk); the output is
``Σ w·I / Σ w`` at every target. Both functions take and return *linear* images ``(B, C, H, W)``
(``I^γ``, see :func:`genrefocus.optics.render.render_bokeh`) and a signed CoC map
``(B, 1, H, W)`` in pixels.

* :func:`scatter_reference` evaluates the formula directly (a loop over offsets, vectorized over
  pixels): exact, slow, the compatibility baseline.
* :func:`scatter_fast` uses that the operator is linear in ``[w·I, w]``: splitting ``r`` into
  radius bins with linear (hat) interpolation, it is a sum over bins of convolutions of the
  bin-weighted image with that bin's kernel, done with one FFT per bin and a single inverse FFT.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .apertures import Aperture, Disk, support_radius
from .fftconv import centered_kernel_rfft, fast_size

_WEIGHT_EPS = 0.2  # BokehMe's regulariser in 1 / (r^2 + 0.2)


def scatter_weights(aperture: Aperture, dy, dx, radius, flip: bool = False,
                    normalize: str = "bokehme") -> torch.Tensor:
    """Scatter weight at offsets ``(dy, dx)`` (px) from a source of radius ``radius`` (px).

    ``normalize="bokehme"`` divides the soft indicator by ``r² + 0.2`` (BokehMe); ``"none"``
    returns the indicator itself. Broadcasts over its tensor arguments.
    """
    ind = aperture.indicator(dy, dx, radius, flip=flip)
    if normalize == "bokehme":
        return ind / (radius * radius + _WEIGHT_EPS)
    if normalize == "none":
        return ind
    raise ValueError(f"normalize must be 'bokehme' or 'none', got {normalize!r}")


def _check(linear: torch.Tensor, coc: torch.Tensor) -> None:
    if linear.ndim != 4 or coc.ndim != 4 or coc.shape[1] != 1:
        raise ValueError(f"expected image (B, C, H, W) and coc (B, 1, H, W), got {tuple(linear.shape)} "
                         f"and {tuple(coc.shape)}")
    if linear.shape[0] != coc.shape[0] or linear.shape[-2:] != coc.shape[-2:]:
        raise ValueError(f"image {tuple(linear.shape)} and coc {tuple(coc.shape)} do not match")


def scatter_reference(linear: torch.Tensor, coc: torch.Tensor, aperture: Aperture | None = None,
                      flip_front: bool = False, progress: bool = False) -> torch.Tensor:
    """BokehMe's scatter, evaluated offset by offset (exact; O(H·W·R²)).

    Args:
        linear: ``(B, C, H, W)`` linear image.
        coc: ``(B, 1, H, W)`` signed CoC radius in pixels (positive = nearer than focus).
        aperture: shape (default disk); ``flip_front`` rotates it by 180° where ``coc > 0``.
        progress: show a progress bar over offset rows.
    Returns:
        ``(B, C, H, W)`` linear bokeh image.
    """
    _check(linear, coc)
    aperture = aperture or Disk()
    B, C, H, W = linear.shape
    r = coc.abs().to(linear.dtype)
    front = coc > 0
    reach = torch.floor(r) + 1  # per-source half-width of the square support
    R = int(reach.max().item())
    num = linear.new_zeros(B, C, H + 2 * R, W + 2 * R)
    den = linear.new_zeros(B, 1, H + 2 * R, W + 2 * R)
    for dy in tqdm(range(-R, R + 1), desc="bokehme scatter", unit="row", disable=not progress):
        for dx in range(-R, R + 1):
            covered = reach >= max(abs(dy), abs(dx))
            if not bool(covered.any()):
                continue
            oy = torch.full_like(r, float(dy))
            ox = torch.full_like(r, float(dx))
            w = scatter_weights(aperture, oy, ox, r)
            if flip_front and not aperture.point_symmetric:
                w = torch.where(front, scatter_weights(aperture, oy, ox, r, flip=True), w)
            w = w * covered
            num[:, :, R + dy:R + dy + H, R + dx:R + dx + W] += w * linear
            den[:, :, R + dy:R + dy + H, R + dx:R + dx + W] += w
    return num[:, :, R:R + H, R:R + W] / den[:, :, R:R + H, R:R + W]


def radius_bins(r_max: float, step: float | None = None, rel: float = 0.25,
                min_step: float = 0.5, max_step: float = 2.0) -> torch.Tensor:
    """Bin radii (px) for :func:`scatter_fast`: fine near 0 where the kernel changes fastest.

    Default spacing ``clamp(r/4, 0.5, 2)`` px (≈ 46 dB against BokehMe on its demo image); a fixed ``step`` gives a uniform grid.
    """
    if not (math.isfinite(r_max) and r_max >= 0):
        raise ValueError(f"r_max must be finite and ≥ 0, got {r_max}")
    if step is not None:
        if not (math.isfinite(step) and step > 0):
            raise ValueError(f"step must be finite and > 0, got {step}")
        n = max(1, math.ceil(r_max / step))
        return torch.arange(n + 1, dtype=torch.float64) * step
    out, r = [0.0], 0.0
    while r < r_max:
        r = r + min(max(r * rel, min_step), max_step)
        out.append(r)
    return torch.tensor(out, dtype=torch.float64)


def _hat_weights(value: torch.Tensor, centers: list, k: int) -> torch.Tensor:
    """Piecewise-linear interpolation weight of ``value`` on bin ``k`` of sorted ``centers``."""
    c = centers[k]
    lo = centers[k - 1] if k > 0 else None
    hi = centers[k + 1] if k + 1 < len(centers) else None
    up = torch.ones_like(value) if lo is None else ((value - lo) / (c - lo))
    down = torch.ones_like(value) if hi is None else ((hi - value) / (hi - c))
    return torch.minimum(up, down).clamp_(0.0, 1.0)


def pyramid_factor(radius: float, coarse_radius: float | None) -> int:
    """Downsampling factor (power of 2) for a bin of ``radius`` px: the largest ``f`` with
    ``radius / f ≥ coarse_radius`` (1 when ``coarse_radius`` is None: no pyramid)."""
    if not coarse_radius or radius < 2 * coarse_radius:
        return 1
    return 2 ** int(math.floor(math.log2(radius / coarse_radius)))


def scatter_fast(linear: torch.Tensor, coc: torch.Tensor, aperture: Aperture | None = None,
                 flip_front: bool = False, bins: torch.Tensor | None = None,
                 normalize: str = "bokehme", coarse_radius: float | None = 8.0,
                 progress: bool = False) -> torch.Tensor:
    """The same operator as :func:`scatter_reference`, as a sum of per-radius-bin FFT convolutions.

    A source of radius ``r`` between bin radii ``r_k ≤ r ≤ r_{k+1}`` is split between the two bins
    with hat weights, so the kernel is linearly interpolated in ``r``. A bin of radius
    ``r ≥ 2·coarse_radius`` is convolved on a grid downsampled by ``f`` (:func:`pyramid_factor`,
    sum-pooled sources, box-averaged kernel, bilinear upsampling): its kernel is at least
    ``coarse_radius`` coarse pixels wide, so only its soft edge is resolved more coarsely. With
    ``flip_front`` and an asymmetric aperture the bins run over the *signed* CoC and front bins
    use the flipped shape.

    Args:
        linear: ``(B, C, H, W)`` linear image. coc: ``(B, 1, H, W)`` signed CoC (px).
        bins: bin radii (px), sorted, starting at 0 (default :func:`radius_bins`).
        normalize: ``"bokehme"`` weights ``1/(r²+0.2)`` or ``"unit"`` (every PSF sums to 1).
        coarse_radius: see above; None disables the pyramid (every bin at full resolution).
        progress: show a progress bar over radius bins.
    Returns:
        ``(B, C, H, W)`` linear bokeh image.
    """
    _check(linear, coc)
    aperture = aperture or Disk()
    B, C, H, W = linear.shape
    signed = flip_front and not aperture.point_symmetric
    value = coc.to(linear.dtype) if signed else coc.abs().to(linear.dtype)
    r_max = float(coc.abs().max().item())
    radii = radius_bins(r_max) if bins is None else torch.as_tensor(bins, dtype=torch.float64)
    centers = (torch.cat([-radii.flip(0)[:-1], radii]) if signed else radii).tolist()
    stacked = torch.cat([linear, torch.ones_like(linear[:, :1])], dim=1)  # [I, 1]
    levels: dict[int, dict] = {}  # factor -> {"acc": spectrum, "size": (Hc, Wc), "fft": (Hf, Wf)}
    for k, ck in enumerate(tqdm(centers, desc="fast scatter", unit="bin", disable=not progress)):
        a = _hat_weights(value, centers, k)
        if not bool((a > 0).any()):
            continue
        f = pyramid_factor(abs(ck), coarse_radius)
        lv = levels.get(f)
        if lv is None:
            Hc, Wc = -(-H // f), -(-W // f)
            Rl = support_radius(max(abs(c) for c in centers) / f) + 1
            lv = levels[f] = {"acc": None, "size": (Hc, Wc),  # room for the kernel and no wrap-around
                              "fft": (fast_size(max(Hc + Rl + 1, 2 * Rl + 3)), fast_size(max(Wc + Rl + 1, 2 * Rl + 3)))}
        src = stacked * a
        if f > 1:
            src = F.avg_pool2d(F.pad(src, (0, lv["size"][1] * f - W, 0, lv["size"][0] * f - H)), f) * (f * f)
        kern = _bin_kernel(aperture, abs(ck), flip=signed and ck > 0, normalize=normalize,
                           shape=lv["fft"], factor=f, device=linear.device, dtype=linear.dtype)
        spec = torch.fft.rfft2(src, s=lv["fft"]) * kern
        lv["acc"] = spec if lv["acc"] is None else lv["acc"] + spec
    out = None
    for f, lv in levels.items():
        Hc, Wc = lv["size"]
        y = torch.fft.irfft2(lv["acc"], s=lv["fft"])[..., :Hc, :Wc]
        if f > 1:
            y = F.interpolate(y, scale_factor=f, mode="bilinear", align_corners=False)[..., :H, :W]
        out = y if out is None else out + y
    return out[:, :C].clamp_min(0.0) / out[:, C:].clamp_min(1e-12)  # FFT round-off can dip below 0


def _bin_kernel(aperture: Aperture, radius: float, flip: bool, normalize: str, shape, device, dtype,
                factor: int = 1):
    """rfft2 of one bin's scatter kernel on a grid downsampled by ``factor`` (the fine weights
    averaged over the ``factor²`` sub-offsets of each coarse tap), centred on (0, 0) with
    wrap-around and zero-padded to ``shape``."""
    R = support_radius(radius)
    Rc = -(-(R + factor // 2) // factor)
    taps = torch.arange(-Rc, Rc + 1, device=device, dtype=dtype) * factor
    sub = torch.arange(factor, device=device, dtype=dtype) - (factor - 1) / 2.0
    o = (taps[:, None] + sub[None, :]).reshape(-1)  # fine offsets, grouped by coarse tap
    dy, dx = torch.meshgrid(o, o, indexing="ij")
    rr = torch.tensor(radius, device=device, dtype=dtype)
    inside = (dy.abs() <= R) & (dx.abs() <= R)  # BokehMe's square support
    if normalize == "unit":
        k = aperture.indicator(dy, dx, rr, flip=flip) * inside
        k = k / k.sum()
    else:
        k = scatter_weights(aperture, dy, dx, rr, flip=flip, normalize=normalize) * inside
    n = 2 * Rc + 1
    return centered_kernel_rfft(k.reshape(n, factor, n, factor).mean(dim=(1, 3)), shape)
