"""Procedural layered scenes with exact renders: AIF, depth, bokeh, dual-pixel pairs, light fields.

A :class:`Scene` is a stack of textured fronto-parallel planes (far → near), each with an alpha
mask and a depth in metres (DESIGN §3.5). Because every layer is fully known — also where it is
hidden — the thin-lens image for any focus, aperture size and shape is computed exactly by
integrating pinhole views over aperture samples with exact occlusion:

    I(x) = Σ_s A(s) · V_s(x) / Σ_s A(s),   V_s = over-composite of planes, plane i read at x + c_i·s

with ``c_i = K·(1/z_i − d_f)`` the plane's signed CoC radius (px) and ``s`` in the unit disk, so a
point on plane i spreads to ``A(−δ/c_i)``: the aperture, rotated by 180° in front of the focal
plane. Colours are composited in linear light (``I^γ``); results are returned in display space.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .apertures import Aperture, Disk
from .dp_disparity import half_aperture_weight
from .render import Gamma, from_linear, to_linear


@dataclass
class Plane:
    """One fronto-parallel layer: ``texture`` ``(3, H, W)`` in [0, 1] (display space), ``alpha``
    ``(1, H, W)`` in [0, 1], ``depth_m`` its distance (m)."""

    texture: torch.Tensor
    alpha: torch.Tensor
    depth_m: float

    @property
    def disparity(self) -> float:
        """1/m."""
        return 1.0 / self.depth_m


@dataclass
class Scene:
    """Planes sorted far → near; the first must be opaque (the background)."""

    planes: list
    gamma: Gamma = 4.0
    name: str = "scene"
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        self.planes = sorted(self.planes, key=lambda p: -p.depth_m)
        H, W = self.size
        for p in self.planes:
            if tuple(p.texture.shape[-2:]) != (H, W) or tuple(p.alpha.shape[-2:]) != (H, W):
                raise ValueError("all planes of a scene must have the same size")

    @property
    def size(self) -> tuple:
        return tuple(self.planes[0].texture.shape[-2:])

    # ----- pinhole views -------------------------------------------------------------------
    def _views_linear(self, shifts: torch.Tensor, chunk: int = 128) -> torch.Tensor:
        """Linear pinhole views: ``shifts`` ``(N, P, 2)`` (px, (dy, dx)) read plane ``p`` at
        ``x + shifts[n, p]``. Returns ``(N, 3, H, W)``."""
        H, W = self.size
        ys = torch.arange(H, dtype=torch.float32)
        xs = torch.arange(W, dtype=torch.float32)
        gy, gx = torch.meshgrid(ys, xs, indexing="ij")
        layers = [torch.cat([to_linear(p.texture[None], self.gamma) * p.alpha[None], p.alpha[None]], 1)
                  for p in self.planes]
        out = []
        for n0 in range(0, shifts.shape[0], chunk):
            sh = shifts[n0:n0 + chunk].to(torch.float32)
            acc = None
            for i, layer in enumerate(layers):
                sy = gy[None] + sh[:, i, 0, None, None]
                sx = gx[None] + sh[:, i, 1, None, None]
                grid = torch.stack([2 * sx / (W - 1) - 1, 2 * sy / (H - 1) - 1], dim=-1)
                pad = "reflection" if i == 0 else "zeros"
                v = F.grid_sample(layer.expand(sh.shape[0], -1, -1, -1), grid, mode="bilinear",
                                  padding_mode=pad, align_corners=True)
                c, a = v[:, :3], v[:, 3:]
                acc = c if acc is None else c + (1.0 - a) * acc
            out.append(acc)
        return torch.cat(out)

    def aif(self) -> torch.Tensor:
        """All-in-focus image ``(1, 3, H, W)`` in [0, 1]."""
        return from_linear(self._views_linear(torch.zeros(1, len(self.planes), 2)), self.gamma)

    def depth(self) -> torch.Tensor:
        """Depth (m) of the front-most visible plane (alpha > 0.5), ``(1, 1, H, W)``."""
        d = torch.full((1, 1) + self.size, self.planes[0].depth_m)
        for p in self.planes[1:]:
            d = torch.where(p.alpha[None] > 0.5, torch.full_like(d, p.depth_m), d)
        return d

    def disparity(self) -> torch.Tensor:
        """1/depth (1/m), ``(1, 1, H, W)``."""
        return 1.0 / self.depth()

    # ----- exact thin-lens renders -------------------------------------------------------------
    def aperture_samples(self, K: float, focus_disp: float, aperture: Aperture | None = None,
                         spacing_px: float = 0.5, half: Optional[str] = None, softness: float = 0.0):
        """Aperture samples ``s`` (unit disk, (y, x)) spaced so the largest plane shift moves at most
        ``spacing_px`` between neighbours, with weights ``A(s)``; ``half`` = ``"left"``/``"right"``
        keeps ``s_x < 0`` / ``s_x > 0`` (dual-pixel halves), or with ``softness`` τ > 0 weights every
        sample by ``σ(∓s_x/τ)`` (a smooth photodiode split; the two halves still sum to ``A``)."""
        aperture = aperture or Disk()
        r_max = max(abs(K * (p.disparity - focus_disp)) for p in self.planes)
        n = max(1, int(math.ceil(r_max / spacing_px)))
        t = (torch.arange(2 * n, dtype=torch.float64) - n + 0.5) / n  # no sample on s_x = 0
        sy, sx = torch.meshgrid(t, t, indexing="ij")
        R = max(r_max, 1.0)  # soft edge in px of the largest blur
        w = aperture.indicator(sy * R, sx * R, torch.tensor(R, dtype=torch.float64))
        keep = w > 1e-4
        if half is not None:
            split = half_aperture_weight(sx, half, softness)
            w, keep = w * split, keep & (split > 0)
        return torch.stack([sy[keep], sx[keep]], 1), w[keep]

    def integrate_linear(self, samples: torch.Tensor, weights: torch.Tensor, K: float,
                         focus_disp: float) -> torch.Tensor:
        """``Σ_s w_s·V_s / Σ w`` in linear light, ``(1, 3, H, W)``: plane ``i`` of view ``s`` is read at
        ``x + K·(1/z_i − d_f)·s`` (``samples`` ``(N, 2)`` as (y, x), ``weights`` ``(N,)``)."""
        c = torch.tensor([K * (p.disparity - focus_disp) for p in self.planes], dtype=torch.float64)
        shifts = c[None, :, None] * samples.to(torch.float64)[:, None, :]
        views = self._views_linear(shifts)
        w = torch.as_tensor(weights, dtype=torch.float64)
        wt = (w / w.sum()).to(views.dtype)
        return (views * wt[:, None, None, None]).sum(0, keepdim=True)

    def render_linear(self, K: float, focus_disp: float, aperture: Aperture | None = None,
                      spacing_px: float = 0.5, half: Optional[str] = None, softness: float = 0.0) -> torch.Tensor:
        """Exact defocused image in linear light, ``(1, 3, H, W)``."""
        s, w = self.aperture_samples(K, focus_disp, aperture, spacing_px, half, softness)
        return self.integrate_linear(s, w, K, focus_disp)

    def render(self, K: float, focus_disp: float, aperture: Aperture | None = None,
               spacing_px: float = 0.5) -> torch.Tensor:
        """Exact bokeh image ``(1, 3, H, W)`` in [0, 1] for bokeh level K (px·m) and focus
        disparity ``focus_disp`` (1/m)."""
        return from_linear(self.render_linear(K, focus_disp, aperture, spacing_px), self.gamma)

    def dual_pixel(self, K: float, focus_disp: float, aperture: Aperture | None = None,
                   spacing_px: float = 0.5, softness: float = 0.0):
        """Exact dual-pixel pair ``(left, right)``, each ``(1, 3, H, W)`` in [0, 1], from the left
        and right halves of the aperture (sample grid symmetric, none on ``s_x = 0``), so ``(L + R)/2``
        in linear light is the full-aperture image for a left–right symmetric aperture. ``softness``
        τ > 0 splits the aperture smoothly (``σ(∓s_x/τ)``, in aperture radii) as real DP photodiodes do."""
        left = self.render_linear(K, focus_disp, aperture, spacing_px, half="left", softness=softness)
        right = self.render_linear(K, focus_disp, aperture, spacing_px, half="right", softness=softness)
        return from_linear(left, self.gamma), from_linear(right, self.gamma)

    def light_field(self, n_views: int = 9, baseline: float = 1.0) -> torch.Tensor:
        """4-D light field ``(U, V, 3, H, W)`` in [0, 1], HCI layout: view ``(u, v)`` reads plane
        ``i`` at ``x + D_i·(u − u0, v − v0)`` with per-view disparity ``D_i = baseline / z_i`` (px
        per view, positive = nearer), so :func:`~genrefocus.optics.light_field.shift_and_add`
        at ``d_f`` focuses the plane with ``D_i = d_f``."""
        c0 = (n_views - 1) / 2.0
        o = torch.arange(n_views, dtype=torch.float64) - c0
        uu, vv = torch.meshgrid(o, o, indexing="ij")
        s = torch.stack([uu.reshape(-1), vv.reshape(-1)], 1)
        d = torch.tensor([baseline * p.disparity for p in self.planes], dtype=torch.float64)
        views = from_linear(self._views_linear(d[None, :, None] * s[:, None, :]), self.gamma)
        return views.reshape(n_views, n_views, 3, *self.size)


def _texture(name: str, size: Sequence[int], rng: np.random.Generator) -> torch.Tensor:
    """A ``(3, H, W)`` texture: a scikit-image photo (random crop, resized) or ``"noise"``."""
    from skimage import data
    from skimage.transform import resize

    H, W = size
    if name == "noise":
        img = rng.random((H // 4 + 1, W // 4 + 1, 3))
        img = resize(img, (H, W), order=1)
    else:
        img = getattr(data, name)()
        if img.ndim == 2:
            img = np.repeat(img[..., None], 3, -1)
        img = img[..., :3].astype(np.float64) / (255.0 if img.dtype == np.uint8 else 1.0)
        h, w = img.shape[:2]
        ch, cw = min(h, int(h * 0.8)), min(w, int(w * 0.8))
        y0, x0 = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
        img = resize(img[y0:y0 + ch, x0:x0 + cw], (H, W), order=1, anti_aliasing=True)
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1))).float().clamp(0, 1)


def _shape_mask(kind: str, size, center, radius) -> torch.Tensor:
    H, W = size
    yy, xx = torch.meshgrid(torch.arange(H, dtype=torch.float32), torch.arange(W, dtype=torch.float32),
                            indexing="ij")
    dy, dx = yy - center[0], xx - center[1]
    if kind == "disk":
        dist = radius - torch.sqrt(dy * dy + dx * dx)
    else:  # axis-aligned rectangle, half-size radius
        dist = radius - torch.maximum(dy.abs(), dx.abs() * 0.7)
    return (dist + 0.5).clamp(0, 1)[None]  # 1-px anti-aliased edge


def make_scene(size: Sequence[int] = (128, 128), depths_m: Sequence[float] = (8.0, 2.0, 1.0),
               textures: Sequence[str] = ("brick", "coffee", "chelsea"), seed: int = 0,
               gamma: Gamma = 4.0) -> Scene:
    """A random scene: an opaque textured background at ``depths_m[0]`` and one shape (disk or
    rectangle) per further depth, textured with scikit-image photos (or ``"noise"``)."""
    rng = np.random.default_rng(seed)
    H, W = size
    planes = [Plane(_texture(textures[0], size, rng), torch.ones(1, H, W), float(depths_m[0]))]
    for i, z in enumerate(depths_m[1:], start=1):
        kind = "disk" if rng.random() < 0.5 else "rect"
        rad = rng.uniform(0.18, 0.3) * min(H, W)
        cy, cx = rng.uniform(0.3, 0.7) * H, rng.uniform(0.3, 0.7) * W
        planes.append(Plane(_texture(textures[i % len(textures)], size, rng),
                            _shape_mask(kind, size, (cy, cx), rad), float(z)))
    return Scene(planes, gamma=gamma, name=f"scene{seed}")
