"""Spatially varying blur as a sum of per-radius-bin convolutions, in time linear in the pixels.

Both scatter renderers and the layered renderer need ``Σ_b K_b * (w_b ⊙ S)``: every source pixel
``S(x)`` spreads with the kernel of its (signed) CoC ``c(x)``, and ``c`` is split between the two
nearest bin radii with hat weights ``w_b`` (so the kernel varies continuously with ``c``: no steps).
Hand-written because no maintained library does spatially varying disk/aperture blur with an
arbitrary PSF shape; what makes it fast:

* **pyramid** — a bin of radius ``r ≥ 2·coarse_radius`` px is convolved on a grid downsampled by
  ``f`` (sum-pooled sources, kernel averaged over the ``f²`` sub-offsets of each coarse tap,
  bilinear upsampling back), so its kernel is ``coarse_radius``–``2·coarse_radius`` coarse px wide;
* **active tiles** — the image is cut into tiles of :data:`TILE` full-resolution px; a bin is
  convolved only on the tiles where some pixel's CoC falls in its hat support (plus the tiles its
  kernel reaches), with one batched FFT per chunk of tiles. A pixel feeds at most two bins, so the
  work summed over all bins is a few passes over the image whatever the number of bins.

Differentiable in the image and in the CoC (through the hat weights), so renderers built on it can
be optimised through.
"""

from __future__ import annotations

import math
from typing import Callable, Optional, Sequence

import torch
import torch.nn.functional as F

from .apertures import Aperture, support_radius
from .fftconv import centered_kernel_rfft, fast_size

TILE = 256  # px per tile side at full resolution (coarse levels: ≥ MIN_TILE level px)
MIN_TILE = 32
BLOCK = 16  # px: granularity at which a bin's sources and reach are located
MAX_CHUNK_BYTES = 256 * 2 ** 20  # gathered tile windows per batched FFT
_WEIGHT_EPS = 0.2  # BokehMe's regulariser in 1 / (r^2 + 0.2)


def pyramid_factor(radius: float, coarse_radius: Optional[float]) -> int:
    """Downsampling factor (power of 2, ≤ TILE/16) for a bin of ``radius`` px: the largest ``f``
    with ``radius / f ≥ coarse_radius`` (1 when ``coarse_radius`` is None: no pyramid)."""
    if not coarse_radius or radius < 2 * coarse_radius:
        return 1
    return min(TILE // 16, 2 ** int(math.floor(math.log2(radius / coarse_radius))))


def scatter_weights(aperture: Aperture, dy, dx, radius, flip: bool = False,
                    normalize: str = "bokehme") -> torch.Tensor:
    """BokehMe's scatter weight at offsets ``(dy, dx)`` (px) from a source of radius ``radius`` (px).

    ``normalize="bokehme"`` divides the soft indicator by ``r² + 0.2`` (BokehMe); ``"none"``
    returns the indicator itself. Broadcasts over its tensor arguments.
    """
    ind = aperture.indicator(dy, dx, radius, flip=flip)
    if normalize == "bokehme":
        return ind / (radius * radius + _WEIGHT_EPS)
    if normalize == "none":
        return ind
    raise ValueError(f"normalize must be 'bokehme' or 'none', got {normalize!r}")


def hat_weights(value: torch.Tensor, centers: Sequence[float], k: int) -> torch.Tensor:
    """Piecewise-linear interpolation weight of ``value`` on bin ``k`` of sorted ``centers``
    (the weights of all bins sum to 1 inside ``[centers[0], centers[-1]]``)."""
    c = centers[k]
    lo = centers[k - 1] if k > 0 else None
    hi = centers[k + 1] if k + 1 < len(centers) else None
    up = torch.ones_like(value) if lo is None else (value - lo) / (c - lo)
    down = torch.ones_like(value) if hi is None else (hi - value) / (hi - c)
    return torch.minimum(up, down).clamp(0.0, 1.0)


def bin_kernel(aperture: Aperture, radius: float, flip: bool, normalize: str, factor: int = 1,
               device=None, dtype=torch.float32) -> torch.Tensor:
    """One bin's kernel ``(n, n)`` on a grid downsampled by ``factor`` (fine weights averaged over
    the ``factor²`` sub-offsets of each coarse tap). ``normalize``: ``"bokehme"`` (soft aperture
    over ``r² + 0.2``, BokehMe's scatter weight) or ``"unit"`` (every PSF sums to 1 on the fine grid)."""
    R = support_radius(radius)
    Rc = -(-(R + factor // 2) // factor)
    taps = torch.arange(-Rc, Rc + 1, device=device, dtype=dtype) * factor
    sub = torch.arange(factor, device=device, dtype=dtype) - (factor - 1) / 2.0
    o = (taps[:, None] + sub[None, :]).reshape(-1)  # fine offsets, grouped by coarse tap
    dy, dx = torch.meshgrid(o, o, indexing="ij")
    rr = torch.tensor(float(radius), device=device, dtype=dtype)
    inside = (dy.abs() <= R) & (dx.abs() <= R)  # BokehMe's square support
    if normalize == "unit":
        k = aperture.indicator(dy, dx, rr, flip=flip) * inside
        k = k / k.sum()
    elif normalize == "bokehme":
        k = scatter_weights(aperture, dy, dx, rr, flip=flip) * inside
    else:
        raise ValueError(f"normalize must be 'unit' or 'bokehme', got {normalize!r}")
    n = 2 * Rc + 1
    return k.reshape(n, factor, n, factor).mean(dim=(1, 3))


def membership(value: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    """Indicator of ``lo ≤ value < hi`` (memberships of consecutive ranges sum to 1), ``value``'s shape."""
    return ((value >= lo) & (value < hi)).to(value.dtype)


def level_share(value: torch.Tensor, centers: Sequence[float], in_level: Sequence[bool]) -> torch.Tensor:
    """``Σ_{k in level} hat_k(value)``: the part of each source the bins flagged ``in_level`` carry
    (the hat weights of all bins, :func:`hat_weights`, sum to 1). Piecewise linear in ``value``:
    per run of consecutive flagged bins, a trapezoid rising from the bin before the run and falling
    to the bin after it."""
    n = len(centers)
    share = None
    k = 0
    while k < n:
        if not in_level[k]:
            k += 1
            continue
        j = k
        while j + 1 < n and in_level[j + 1]:
            j += 1
        run = torch.ones_like(value)
        if k > 0:
            run = run.minimum((value - centers[k - 1]) / (centers[k] - centers[k - 1]))
        if j + 1 < n:
            run = run.minimum((centers[j + 1] - value) / (centers[j + 1] - centers[j]))
        run = run.clamp(0.0, 1.0)
        share = run if share is None else share + run
        k = j + 1
    return torch.zeros_like(value) if share is None else share


def _tile_ranges(value: torch.Tensor, valid: torch.Tensor, tile: int):
    """Per tile of ``tile`` px: min and max of ``value`` over the ``valid`` pixels (+inf / -inf
    where the tile has none), shape ``(B, nty, ntx)``."""
    B, _, H, W = value.shape
    nty, ntx = -(-H // tile), -(-W // tile)
    big = torch.finfo(value.dtype).max
    pad = (0, ntx * tile - W, 0, nty * tile - H)
    v = F.pad(value.detach(), pad)
    ok = F.pad(valid, pad)
    tiles = lambda x: x.view(B, nty, tile, ntx, tile)
    hi = tiles(torch.where(ok, v, torch.full_like(v, -big))).amax(dim=(2, 4))
    lo = tiles(torch.where(ok, v, torch.full_like(v, big))).amin(dim=(2, 4))
    return lo, hi


def blur_bins(stack: torch.Tensor, value: torch.Tensor, centers: Sequence[float], aperture: Aperture,
              normalize: str = "unit", mask: Optional[tuple] = None, flip_positive: bool = False,
              coarse_radius: Optional[float] = 4.0, out_factor: Optional[int] = None, moments: bool = False,
              progress: Optional[Callable] = None) -> tuple:
    """``Σ_b K_b * (stack ⊙ mask ⊙ hat_b(value))`` over the bins ``centers`` (signed radii, sorted).

    The bins of one pyramid level ``f`` share the sources' *level share* (:func:`level_share`,
    computed per full-resolution pixel, so every source's mass is split exactly between the levels);
    on the level's grid the sources are sum-pooled and their values averaged (share-weighted), and
    the level's bins split each coarse source with hat weights among themselves.

    Args:
        stack: ``(B, C, H, W)`` sources (e.g. ``[linear image, 1]``).
        value: ``(B, 1, H, W)`` the quantity the bins interpolate (|CoC| or the signed CoC, px).
        centers: sorted bin radii (px); a bin's kernel has radius ``|center|`` and, with
            ``flip_positive``, the 180°-rotated aperture when ``center > 0`` (in front of focus).
        mask: optional ``(lo, hi)``: only sources with ``lo ≤ value < hi`` (:func:`membership`; a
            layer of the layered renderer).
        coarse_radius: pyramid threshold (see module doc); None: every bin at full resolution.
        out_factor: return at this pyramid factor (default: the finest factor used).
        moments: also return the blurred ``value`` and the blurred coverage (the same sum with
            ``stack`` replaced by ``value`` and by 1): two more channels.
    Returns:
        ``(result (B, C [+ 2], H/f, W/f), f)`` with ``f`` the factor of the result grid (``ceil`` sizes).
    """
    B, C, H, W = stack.shape
    dev, dt = stack.device, stack.dtype
    centers = [float(c) for c in centers]
    factors = [pyramid_factor(abs(c), coarse_radius) for c in centers]
    m = None if mask is None else membership(value, *mask)
    outs = {}
    for f in sorted(set(factors)):
        ks = [k for k, fk in enumerate(factors) if fk == f]
        if len(ks) == len(centers):
            w = torch.ones_like(value) if m is None else m
        else:
            share = level_share(value, centers, [fk == f for fk in factors])
            w = share if m is None else share * m
        if not bool((w > 0).any()):
            continue
        src = torch.cat([stack * w, value * w, w], dim=1)
        if f > 1:
            src = F.avg_pool2d(src, f, ceil_mode=True) * (f * f)  # sum over each f×f block
        mass = src[:, C + 1:]
        valid = mass > 0
        v = torch.where(valid, src[:, C:C + 1] / mass.clamp_min(1e-30), torch.zeros_like(mass))
        sub = [centers[k] for k in ks]
        kernels = [bin_kernel(aperture, abs(c), flip_positive and c > 0, normalize, f, dev, dt) for c in sub]
        outs[f] = _level(src if moments else src[:, :C], v, valid, sub, kernels, max(MIN_TILE, TILE // f), progress)
    if not outs:
        f = out_factor or 1
        return stack.new_zeros(B, C + 2 * moments, -(-H // f), -(-W // f)), f
    f_out = out_factor or min(outs)
    result = None
    for f, acc in sorted(outs.items()):
        y = acc[..., : -(-H // f), : -(-W // f)]
        if f != f_out:
            y = F.interpolate(y, scale_factor=f / f_out, mode="bilinear", align_corners=False)
            y = y[..., : -(-H // f_out), : -(-W // f_out)]
        result = y if result is None else result + y
    return result, f_out


def _level(src, v, valid, centers, kernels, max_tile, progress) -> torch.Tensor:
    """All bins of one pyramid level, on its grid: ``Σ_j K_j * (src ⊙ hat_j(v))``. Only the tiles a
    bin's sources reach (located to :data:`BLOCK` px) are convolved, with the tile size (≤
    ``max_tile``) that needs the least FFT area; per chunk of tiles the windows are gathered once,
    every bin adds its spectrum and one inverse FFT gives the tile interiors."""
    B, C, H, W = src.shape
    lo_b, hi_b = _tile_ranges(v, valid, BLOCK)  # per block of BLOCK px
    nby, nbx = lo_b.shape[-2:]
    reached = []  # per bin: blocks holding one of its outputs
    for j, kern in enumerate(kernels):
        left = centers[j - 1] if j > 0 else -math.inf
        right = centers[j + 1] if j + 1 < len(centers) else math.inf
        blocks = ((hi_b > left) & (lo_b < right))[:, None].to(src.dtype)  # sources in this bin's hat support
        if not bool(blocks.any()):
            continue
        reach = -(-(kern.shape[-1] // 2) // BLOCK)  # blocks the kernel reaches beyond a source's own
        reached.append((j, kern, F.max_pool2d(blocks, 2 * reach + 1, stride=1, padding=reach)))
    if not reached:
        return src.new_zeros(B, C, H, W)
    Rl = max(kern.shape[-1] // 2 for _, kern, _ in reached)  # common halo
    union = torch.stack([r for _, _, r in reached]).amax(0)

    def tiles(blocks, n):
        pad = (0, -(-nbx // n) * n - nbx, 0, -(-nby // n) * n - nby)
        return F.max_pool2d(F.pad(blocks, pad), n)[:, 0] > 0

    # tile size: fewest FFT pixels over the tiles some output falls in
    sizes = [t for t in (32, 64, 128, 256) if t <= max(max_tile, MIN_TILE)]
    T = min(sizes, key=lambda t: int(tiles(union, t // BLOCK).sum()) * fast_size(t + 2 * Rl) ** 2)
    n = T // BLOCK
    bins = [(j, kern, tiles(r, n)) for j, kern, r in reached]
    nty, ntx = bins[0][2].shape[-2:]
    acc = src.new_zeros(B, C, nty * T, ntx * T)
    win = T + 2 * Rl
    nfft = fast_size(win)
    specs = [centered_kernel_rfft(kern, (nfft, nfft)) for _, kern, _ in bins]
    active = torch.stack([t for _, _, t in bins])  # (n_bins, B, nty, ntx)
    pad = (Rl, ntx * T - W + Rl, Rl, nty * T - H + Rl)
    s_win = F.pad(src, pad).unfold(2, win, T).unfold(3, win, T)
    v_win = F.pad(v, pad).unfold(2, win, T).unfold(3, win, T)
    union = active.any(0).nonzero(as_tuple=False)  # (n, 3): b, ty, tx
    per_tile = (C + 1) * win * win * src.element_size() * 4
    chunk = max(1, int(MAX_CHUNK_BYTES // per_tile))
    for s0 in range(0, union.shape[0], chunk):
        sel = union[s0:s0 + chunk]
        b, ty, tx = sel[:, 0], sel[:, 1], sel[:, 2]
        s_all = s_win[b, :, ty, tx]  # (n, C, win, win)
        v_all = v_win[b, :, ty, tx]
        spec_acc = None
        for (j, _, _), spec, act in zip(bins, specs, active):
            on = act[b, ty, tx]
            full = bool(on.all())
            if not full:
                on = on.nonzero(as_tuple=True)[0]
                if on.numel() == 0:
                    continue
            w = hat_weights(v_all if full else v_all[on], centers, j)
            part = torch.fft.rfft2((s_all if full else s_all[on]) * w, s=(nfft, nfft))
            part *= spec
            if spec_acc is None:
                spec_acc = torch.zeros((sel.shape[0],) + part.shape[1:], dtype=part.dtype, device=part.device)
            if full:
                spec_acc += part
            else:
                spec_acc.index_add_(0, on, part)
            if progress is not None and s0 == 0:
                progress()
        if spec_acc is None:
            continue
        y = torch.fft.irfft2(spec_acc, s=(nfft, nfft))
        # each window's interior is exact: every output there sees its whole kernel support
        _add_tiles(acc, y[..., Rl:Rl + T, Rl:Rl + T], b, ty, tx, T)
    return acc


def _add_tiles(acc: torch.Tensor, inner: torch.Tensor, b, ty, tx, T: int) -> None:
    """``acc[b, :, ty·T:(ty+1)·T, tx·T:(tx+1)·T] += inner`` for every listed tile (tiles distinct)."""
    B, C, Ht, Wt = acc.shape
    nty, ntx = Ht // T, Wt // T
    tiles = acc.view(B, C, nty, T, ntx, T).permute(0, 2, 4, 1, 3, 5)  # (B, nty, ntx, C, T, T)
    tiles.index_put_((b, ty, tx), inner, accumulate=True)


__all__ = ["TILE", "bin_kernel", "blur_bins", "hat_weights", "level_share", "membership", "pyramid_factor",
           "scatter_weights"]
