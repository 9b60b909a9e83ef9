"""Occlusion-aware bokeh: depth layers blurred with their own PSFs, composited back to front.

docs/design.md §3.4. The signed CoC range is cut into layers (CoC intervals; larger ``c`` is nearer). Each
pixel belongs to exactly one layer, the one holding its CoC (a hard matte on purpose: an in-focus
subject stays fully opaque, so no background glow leaks through its outline, and the photo's own
anti-aliased edge pixels pass through unchanged — the outline is as smooth as in the input; the
blurred mattes of defocused layers are smooth by construction) — and **inside a layer the blur
radius follows the pixel's own CoC continuously**
(hat-weighted radius bins, :mod:`genrefocus.optics.binblur`): a layer is a unit-energy scatter of
its pixels, so a smooth depth ramp shows no steps however it is cut into layers. A layer's blurred
premultiplied colour, coverage and depth go "over" what lies behind.

Why not plain layered compositing: when one continuous surface is split between two layers, "over"
treats the two complementary parts as independent semi-transparent sheets and loses coverage
(``f + (1 − f)² < 1``), and filling the loss with an extension of the background lowers texture
contrast between layers — the contour banding of smoothly receding ground. Here what is behind a
layer is completed (pull–push extension of the visible background, the standard disocclusion fill)
only where the layer is in front of it by a depth *gap*; across a continuous contact the remaining
coverage deficit is left to the final normalisation ``C / A``. So a defocused foreground stays
opaque and keeps its colour and soft edge (the hidden background behind its rim is filled), an
in-focus subject is never covered by background glow, and surfaces stay smooth.

Two groupings, one algorithm:

* ``"fine"`` (mode ``layered``): layers 1 px wide near focus, then 25 % relative width — occlusion
  between objects at different depths on the same side of the focal plane too;
* ``"focus"`` (mode ``fast``): three layers — behind, on, and in front of the focal plane (|c| ≤
  1.5 px) — the foreground/background-aware hybrid: a scatter for what is behind the focal plane,
  compositing for what is in front, with the in-focus band occluding the background. Chosen over a
  scatter with occlusion-aware weights because a scatter cannot make a blurred foreground opaque
  (nothing it does reveals the background hidden behind the foreground's rim, so a ghost or a dark
  halo remains), and three layers are the fewest that separate the two sides of the focal plane:
  ~1.5× the scatter's time against ~3× for ``"fine"``. What it gives up: occlusion between two
  objects on the same side of the focal plane (the wire-before-plane and curved cases of
  ``eval/bench_renderer.py``, where ``layered`` is 2–6 dB better).

Large radii are blurred on coarser pyramid levels and composited there while everything behind is
blurred too, so the time grows linearly with the pixels.
"""

from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .apertures import Aperture, Disk
from .binblur import blur_bins

GROUPINGS = ("fine", "focus")
FOCUS_BAND = 1.5  # px: |c| below this is "in focus" for the "focus" grouping
# Pyramid threshold (px): a bin of radius r is blurred on a grid downsampled by f ≤ r / 6, so the
# edge of a bokeh disc softens by about f ≤ r/6 px. At 3, a 40-px hexagon highlight had a visibly
# blurred, ragged outline (10–90 % edge ~9 px); 6 keeps it crisp (~4 px) for ~20 % more time.
COARSE_RADIUS = 6.0
# Depth gap (px of CoC; at least 10 % of the layer's CoC) from which what lies behind a layer is a
# different surface. 1 px: a subject 1–3 px of CoC before its background still occludes it (at 3 px,
# a 3.3-px step was treated as one surface and background glow softened the in-focus outline: the
# DP synthesis test fell from 39–43 to 35 dB against exact pairs); smooth ramps are unaffected, since
# neighbouring layers there differ by less than a pixel at the seam.
GAP = 1.0
# A depth edge (where hidden background may be revealed) is a CoC step of at least this many px
# across 9 px: a smooth surface receding at up to 1/3 px of CoC per px is not one, whatever the gap.
EDGE_STEP = 3.0


def layer_bounds(c_min: float, c_max: float, grouping: str = "fine", width: float = 0.25) -> list:
    """Layer boundaries (signed CoC px, increasing) covering ``[c_min, c_max]``: ``"fine"`` — 0, ±1,
    ±2, … then ``width`` relative spacing; ``"focus"`` — ±1.5 px around the focal plane."""
    if grouping == "focus":
        inner = [-FOCUS_BAND, FOCUS_BAND]
    elif grouping == "fine":
        side, b = [1.0], 1.0
        while b < max(abs(c_min), abs(c_max)):
            b = max(b + 1.0, b * (1.0 + width))
            side.append(b)
        inner = [-x for x in reversed(side)] + [0.0] + side
    else:
        raise ValueError(f"grouping must be one of {GROUPINGS}, got {grouping!r}")
    # the outer bounds sit on a 0.25-px grid beyond the data, so they (and the bins) do not move
    # when a CoC value changes a little: the renderer is differentiable in the CoC
    bottom = math.floor(c_min * 4.0) / 4.0 - 0.25
    top = math.ceil(c_max * 4.0) / 4.0 + 0.25
    inner = [b for b in inner if bottom + 1e-3 < b < top - 1e-3]
    return [bottom] + inner + [top]


def layer_centers(lo: float, hi: float, rel: float = 0.25, min_step: float = 0.5) -> list:
    """Radius bins (signed px) inside one layer ``[lo, hi]``: its ends, 0 when it straddles the
    focal plane, and radii spaced by ``max(min_step, rel·r)`` between them, so the blur follows
    each pixel's CoC."""
    pts = {lo, hi}
    for a, b in ((lo, min(hi, 0.0)), (max(lo, 0.0), hi)):
        if b <= a:
            continue
        sign = -1.0 if b <= 0 else 1.0
        r, r_end = sorted((abs(a), abs(b)))
        if lo < 0 < hi:
            pts.add(0.0)
        while True:
            step = max(min_step, rel * r)
            r += step
            if r >= r_end - 0.25 * step:
                break
            pts.add(sign * r)
    pts = sorted(pts)
    keep = [pts[0]] + [p for i, p in enumerate(pts[1:-1], 1) if pts[i + 1] - p >= 0.1 and p - pts[i - 1] >= 0.1]
    return keep + [pts[-1]] if len(pts) > 1 else keep


def continuous_crossings(coc: torch.Tensor, bounds: list, link: float = 0.5, rel: float = 0.1) -> tuple:
    """For each inner boundary ``b`` of ``bounds``: how many 4-neighbour pixel pairs straddle it
    continuously (their CoCs differ by at most ``max(link, rel·|c|)`` px: one surface crossing the
    boundary) and how many straddle it with a jump (a depth edge). ``(n_continuous, n_jump)``."""
    c = coc.detach().float()
    cand = torch.tensor(bounds[1:-1], dtype=torch.float32, device=c.device)
    n = len(bounds) - 2
    cont = torch.zeros(n + 1, dtype=torch.float64, device=c.device)
    jump = torch.zeros(n + 1, dtype=torch.float64, device=c.device)
    if n == 0:
        return cont[:0], jump[:0]
    idx = torch.searchsorted(cand, c.contiguous(), right=True).to(torch.int16)  # layer of every pixel
    for sl_a, sl_b in (((..., slice(None), slice(1, None)), (..., slice(None), slice(None, -1))),
                       ((..., slice(1, None), slice(None)), (..., slice(None, -1), slice(None)))):
        crossing = idx[sl_a] != idx[sl_b]  # only the few pairs in different layers are looked at
        a, b = c[sl_a][crossing], c[sl_b][crossing]
        lo, hi = torch.minimum(a, b), torch.maximum(a, b)
        i0 = torch.minimum(idx[sl_a][crossing], idx[sl_b][crossing]).long()  # first boundary above lo
        i1 = torch.maximum(idx[sl_a][crossing], idx[sl_b][crossing]).long()  # boundaries ≤ hi are crossed
        is_cont = (hi - lo) <= torch.clamp(rel * torch.maximum(lo.abs(), hi.abs()), min=link)
        for sel, out in ((is_cont, cont), (~is_cont, jump)):
            out += torch.bincount(i0[sel], minlength=n + 1).double() - torch.bincount(i1[sel], minlength=n + 1).double()
    return torch.cumsum(cont, 0)[:n], torch.cumsum(jump, 0)[:n]


def adaptive_bounds(coc: torch.Tensor, bounds: list, slack: float = 1e-3) -> list:
    """Keep an inner boundary only where no continuous surface crosses it (continuous crossings ≤
    ``max(slack·pixels, jumps / 4)``): a smooth ramp stays in one layer — blurred continuously, with
    no seam — while objects in front of others, separated by depth edges, get their own layers."""
    cont, jump = continuous_crossings(coc, bounds)
    keep = (cont <= torch.clamp(0.25 * jump, min=slack * coc[0].numel())).tolist()
    return [bounds[0]] + [b for b, k in zip(bounds[1:-1], keep) if k] + [bounds[-1]]


def _upsample(x: torch.Tensor, factor: int, size) -> torch.Tensor:
    if factor == 1:
        return x
    y = F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)
    return y[..., : size[0], : size[1]]


#: interior of a rendering window (px, a multiple of the largest pyramid factor)
WINDOW = 640


def render_layered(linear: torch.Tensor, coc: torch.Tensor, aperture: Optional[Aperture] = None,
                   flip_front: bool = True, grouping: str = "fine", width: float = 0.25,
                   coarse_radius: Optional[float] = COARSE_RADIUS, gap: float = GAP, window: int = WINDOW,
                   bin_step: float = 1.0, progress: bool = False) -> torch.Tensor:
    """Occlusion-aware rendering of a linear image (see the module doc).

    The image is rendered in windows of ``window`` px with a halo of the largest CoC radius (every
    output sees all its sources) and the layers, bins and depth edges of the whole image, so the
    work grows linearly with the pixels and each window only handles the layers present in it.

    Args:
        linear: ``(B, C, H, W)`` linear image. coc: ``(B, 1, H, W)`` signed CoC (px, + = nearer).
        aperture: shape (default disk); ``flip_front`` rotates it 180° in front of the focal plane.
        grouping: ``"fine"`` or ``"focus"`` (see module doc); width: relative layer width (fine).
        coarse_radius: pyramid threshold (:func:`~genrefocus.optics.binblur.pyramid_factor`); None:
            everything at full resolution.
        gap: CoC difference (px; at least 10 % of the layer's CoC) from which what is behind a layer
            is a different surface: it is occluded, and filled where the layer hides it.
        window: window interior (px); 0 renders the whole image at once.
        bin_step: smallest spacing (px) of the radius bins inside a layer (25 % relative beyond).
        progress: show a progress bar over windows.
    Returns:
        ``(B, C, H, W)`` linear bokeh image.
    """
    aperture = aperture or Disk()
    B, C, H, W = linear.shape
    value = coc.to(linear.dtype)
    v = value.detach()
    bounds = layer_bounds(float(v.min()), float(v.max()), grouping, width)
    if grouping == "fine":
        bounds = adaptive_bounds(value, bounds)
    edge_dist = depth_edge_distance(value, max(gap, EDGE_STEP))
    halo = -(-(int(math.ceil(float(v.abs().max()))) + 8) // 16) * 16
    if not window or (H <= window + 2 * halo and W <= window + 2 * halo):
        return _render_window(linear, value, edge_dist, bounds, aperture, flip_front, coarse_radius, gap, bin_step)
    out = torch.empty_like(linear)
    starts = [(y, x) for y in range(0, H, window) for x in range(0, W, window)]
    for y, x in tqdm(starts, desc="fast" if grouping == "focus" else "layered", unit="window", disable=not progress):
        y0, x0 = max(0, y - halo), max(0, x - halo)
        y1, x1 = min(H, y + window + halo), min(W, x + window + halo)
        win = (slice(None), slice(None), slice(y0, y1), slice(x0, x1))
        res = _render_window(linear[win], value[win], edge_dist[win], bounds, aperture, flip_front, coarse_radius, gap,
                             bin_step)
        out[..., y:y + window, x:x + window] = res[..., y - y0:y - y0 + window, x - x0:x - x0 + window]
    return out


#: crop origins inside a window are multiples of this (≥ the largest pyramid factor), so every
#: layer's coarse grid coincides with the accumulator's
ALIGN = 16


def _layer_box(inside: torch.Tensor, margin: int, align: int = ALIGN) -> Optional[tuple]:
    """Bounding box ``(y0, y1, x0, x1)`` of the ``True`` pixels of ``inside`` ``(B, 1, H, W)``,
    grown by ``margin`` px and with its origin on a grid of ``align`` px; None when empty."""
    H, W = inside.shape[-2:]
    rows = inside.any(dim=3).any(dim=0).any(dim=0).nonzero()
    if rows.numel() == 0:
        return None
    cols = inside.any(dim=2).any(dim=0).any(dim=0).nonzero()
    y0 = max(0, int(rows[0]) - margin) // align * align
    x0 = max(0, int(cols[0]) - margin) // align * align
    return y0, min(H, int(rows[-1]) + 1 + margin), x0, min(W, int(cols[-1]) + 1 + margin)


def _render_window(linear, value, edge_dist, bounds, aperture, flip_front, coarse_radius, gap,
                   bin_step) -> torch.Tensor:
    """Back-to-front compositing of the layers present in this window (module doc). Each layer is
    blurred and composited on the crop its blur reaches, on the coarsest grid that still holds
    everything behind it; the hidden-background fill works on the box around the depth edges the
    layer covers."""
    B, C, H, W = linear.shape
    signed_flip = flip_front and not aperture.point_symmetric
    track = torch.is_grad_enabled() and (linear.requires_grad or value.requires_grad)
    acc, f_acc, dist = None, 1, None
    edges = torch.tensor(bounds[1:-1], dtype=value.dtype, device=value.device)
    index = torch.bucketize(value.detach().contiguous(), edges, right=True).to(torch.int16)  # layer of each pixel
    for k, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:])):
        span = max(abs(lo), abs(hi))
        box = _layer_box(index == k, int(math.ceil(span)) + 2)
        if box is None:
            continue  # no pixel of this window is in the layer
        y0, y1, x0, x1 = box
        layer, f = blur_bins(linear[..., y0:y1, x0:x1], value[..., y0:y1, x0:x1],
                             layer_centers(lo, hi, min_step=bin_step), aperture, "unit", mask=(lo, hi),
                             flip_positive=signed_flip, coarse_radius=coarse_radius, moments=True)
        if acc is None:
            f_acc = f
            acc = linear.new_zeros(B, C + 2, -(-H // f), -(-W // f))
        elif f < f_acc:
            acc = _upsample(acc, f_acc // f, (-(-H // f), -(-W // f)))
            f_acc, dist = f, None
        if dist is None:
            dist = _pool(edge_dist, f_acc, acc.shape[-2:])
        size = (-(-(y1 - y0) // f_acc), -(-(x1 - x0) // f_acc))
        layer = _upsample(layer, f // f_acc, size)
        ys, xs = slice(y0 // f_acc, y0 // f_acc + size[0]), slice(x0 // f_acc, x0 // f_acc + size[1])
        g = max(gap, 0.1 * span)
        _fill_hidden(acc, layer[:, C + 1:], (ys.start, xs.start), lo, g, span, f_acc, dist, track)
        behind = _saved(acc[..., ys, xs], track)
        # the layer occludes what is behind it by a depth gap; where what is behind is the same
        # surface continuing (adjacent depth), it adds to it, so no coverage is lost at the seam
        cover = layer[:, C + 1:]
        a = cover.clamp(0.0, 1.0)
        d_layer = layer[:, C:C + 1] / cover.clamp_min(1e-6)
        d_behind = behind[:, C:C + 1] / behind[:, C + 1:].clamp_min(1e-6)
        occlude = ((d_layer - d_behind - g) / g).clamp(0.0, 1.0)
        acc[..., ys, xs] = layer + (1.0 - a * occlude) * behind
    if acc is None:
        return linear.clone()
    acc = _upsample(acc, f_acc, (H, W))
    return acc[:, :C] / acc[:, C + 1:].clamp_min(1e-6)


def _saved(view: torch.Tensor, track: bool) -> torch.Tensor:
    """A view of the accumulator that later in-place updates must not change: a copy when autograd
    records the rendering (``track``), the view itself otherwise."""
    return view.clone() if track else view


def local_pull_push(premult: torch.Tensor, alpha: torch.Tensor, levels: int) -> tuple:
    """Pull–push extension of premultiplied values into the holes, reaching at most ``2^levels`` px.

    Args:
        premult: ``(B, C, H, W)`` premultiplied values; alpha: ``(B, 1, H, W)`` coverage in [0, 1].
    Returns:
        ``(P, A)``: premultiplied values and coverage, equal to the input where ``alpha = 1`` and
        completed from coarser levels elsewhere (``A`` is 0 in holes farther than the pyramid
        reaches from any content). ``P / A`` is the extended colour.
    """
    pyr = [(premult, alpha)]
    for _ in range(max(0, levels)):
        c, a = pyr[-1]
        if min(c.shape[-2:]) <= 1:
            break
        pyr.append((F.avg_pool2d(c, 2, ceil_mode=True), F.avg_pool2d(a, 2, ceil_mode=True)))
    P, A = pyr[-1]
    for c, a in reversed(pyr[:-1]):
        up = F.interpolate(torch.cat([P, A], 1), size=c.shape[-2:], mode="bilinear", align_corners=False)
        P, A = c + (1.0 - a) * up[:, :-1], a + (1.0 - a) * up[:, -1:]
    return P, A


def depth_edge_distance(coc: torch.Tensor, gap: float, window: int = 9) -> torch.Tensor:
    """Distance (full-res px) of every pixel to the nearest depth discontinuity: a pixel whose
    ``window``-px neighbourhood spans more than ``max(gap, 25 % of its |CoC|)`` px of CoC (a smooth
    ramp does not; an object boundary in an estimated depth map, spread over a few pixels, does).
    ``(B, 1, H, W)``, no gradient (it only decides where hidden background is filled)."""
    import cv2
    import numpy as np

    kernel = np.ones((window, window), np.uint8)
    out = []
    for c in coc.detach().float()[:, 0].cpu().numpy():
        span = cv2.dilate(c, kernel) - cv2.erode(c, kernel)  # max − min over the window
        edge = span > np.maximum(0.25 * np.abs(c), gap)
        src = np.where(edge, 0, 255).astype(np.uint8)
        out.append(cv2.distanceTransform(src, cv2.DIST_L2, 5) if edge.any() else np.full(c.shape, 1e9, np.float32))
    return torch.from_numpy(np.stack(out))[:, None].to(device=coc.device, dtype=coc.dtype)


def _pool(x: torch.Tensor, factor: int, size) -> torch.Tensor:
    return x if factor == 1 else F.avg_pool2d(x, factor, ceil_mode=True)[..., : size[0], : size[1]]


def _fill_hidden(acc: torch.Tensor, layer_cov: torch.Tensor, origin: tuple, lo: float, gap: float, span: float,
                 f: int, dist: torch.Tensor, track: bool) -> None:
    """Complete ``acc`` in place (what lies behind a layer; channels ``[colour·cov, depth·cov,
    cov]``, on a grid downsampled by ``f``) where the layer hides it. The layer has coverage
    ``layer_cov`` on the crop starting at ``origin`` (grid px) and CoC up to ``span`` px; ``dist``
    is every grid pixel's distance to a depth discontinuity (full-resolution px). Under the layer,
    within about ``span`` px of a discontinuity, the holes of ``acc`` near content at least ``gap``
    px of CoC behind the layer are filled with an extension of that content (the hidden background a
    defocused layer reveals at its rim). Elsewhere — a surface continuing into a nearer layer — holes
    stay open for the final normalisation. Only the box around the pixels that can need it is
    processed."""
    ramp = max(2.0, 0.5 * span)
    radius = span / f
    levels = int(math.ceil(math.log2(max(radius, 1.0)))) + 1
    oy, ox = origin
    h, w = layer_cov.shape[-2:]
    under = layer_cov > 1e-4
    box = _layer_box((dist[..., oy:oy + h, ox:ox + w] < span + ramp) & under, 0, align=1)
    if box is None:
        return
    H, W = acc.shape[-2:]
    reach = 2 ** levels + 2  # the pull-push below reaches this far
    y0, y1 = max(0, oy + box[0] - reach) // 2 * 2, min(H, oy + box[1] + reach)
    x0, x1 = max(0, ox + box[2] - reach) // 2 * 2, min(W, ox + box[3] + reach)
    part = _saved(acc[..., y0:y1, x0:x1], track)
    cov = part[:, -1:]
    near_edge = (1.0 - (dist[..., y0:y1, x0:x1] - span) / ramp).clamp(0.0, 1.0)
    under = F.pad(under[..., max(0, y0 - oy):y1 - oy, max(0, x0 - ox):x1 - ox],
                  (max(0, ox - x0), max(0, x1 - ox - w), max(0, oy - y0), max(0, y1 - oy - h)))
    need = (1.0 - cov.clamp(0.0, 1.0)) * under * near_edge
    if not bool((need > 1e-4).any()):
        return
    depth = part[:, -2:-1] / cov.clamp_min(1e-6)
    far = ((lo - gap - depth) / gap).clamp(0.0, 1.0) * (cov > 1e-4)  # behind by more than gap
    # coverage can exceed 1 where one surface's layers add up: extend its colour, with alpha ≤ 1
    alpha = cov.clamp(0.0, 1.0) * far
    premult = part[:, :-1] * (alpha / cov.clamp_min(1e-6))
    if radius >= 4.0:  # the extension is smooth: build it from half resolution
        size = part.shape[-2:]
        ext = local_pull_push(F.avg_pool2d(premult, 2, ceil_mode=True), F.avg_pool2d(alpha, 2, ceil_mode=True),
                              levels - 1)
        ext = F.interpolate(torch.cat(ext, 1), scale_factor=2, mode="bilinear", align_corners=False)
        ext = ext[..., :size[0], :size[1]]
    else:
        ext = torch.cat(local_pull_push(premult, alpha, levels), 1)
    # add the extension (premultiplied by its own confidence) where coverage is missing
    acc[..., y0:y1, x0:x1] = part + need * ext
