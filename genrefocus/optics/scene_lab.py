"""Procedural layered scenes with exact renders: AIF, depth, bokeh, dual-pixel pairs, light fields.

A :class:`Scene` is a stack of textured layers (far → near), each with an alpha mask and a depth in
metres — constant (a fronto-parallel plane) or a smooth per-pixel map (a receding ground, a tilted
wall, a curved surface; docs/design.md §3.5). Because every layer is fully known — also where it is hidden
— the thin-lens image for any focus, aperture size and shape is computed exactly by integrating
pinhole views over aperture samples with exact occlusion:

    I(x) = Σ_s A(s) · V_s(x) / Σ_s A(s),   V_s(x) = depth-sorted "over" of the layers at x

where in view ``s`` (``s`` in the unit disk) the layer point seen at ``x`` is the one at reference
position ``y`` with ``y = x + c(y)·s``, ``c = K·(1/z − d_f)`` its signed CoC radius (px); for a
plane ``c`` is constant, for a surface the equation is solved by fixed-point iteration (exact while
``|∇c| < 1``: the surface does not fold over itself in any view; checked). A point on a layer thus
spreads to ``A(−δ/c)``: the aperture, rotated by 180° in front of the focal plane. Colours are
composited in linear light (``I^γ``), per pixel in depth order; results are returned in display
space.
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
    """One layer: ``texture`` ``(3, H, W)`` in [0, 1] (display space), ``alpha`` ``(1, H, W)`` in
    [0, 1], ``depth_m`` its distance (m) — or, with ``depth_map`` ``(1, H, W)`` (m), a smooth surface
    (then ``depth_m`` is only its representative distance, e.g. for sorting)."""

    texture: torch.Tensor
    alpha: torch.Tensor
    depth_m: float
    depth_map: Optional[torch.Tensor] = None

    @property
    def disparity(self) -> float:
        """1/m (of ``depth_m``)."""
        return 1.0 / self.depth_m

    def disparity_map(self) -> torch.Tensor:
        """``(1, H, W)`` 1/m."""
        if self.depth_map is None:
            return torch.full_like(self.alpha, self.disparity)
        return 1.0 / self.depth_map


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
    def _views_linear(self, samples: torch.Tensor, scale: float, offset: float, chunk: int = 64) -> torch.Tensor:
        """Linear pinhole views ``(N, 3, H, W)`` for aperture (or view) offsets ``samples`` ``(N, 2)``
        ((y, x)): the layer point seen at ``x`` is the one at ``y = x + (scale·disp(y) − offset)·s``,
        composited per pixel in depth order."""
        H, W = self.size
        gy, gx = _grid(self.size)
        layers = []
        for i, p in enumerate(self.planes):
            disp = p.disparity_map().float()
            data = torch.cat([to_linear(p.texture[None], self.gamma) * p.alpha[None], p.alpha[None], disp[None]], 1)
            c = scale * disp - offset
            if p.depth_map is not None:
                gyc, gxc = torch.gradient(c[0])
                lip = float(torch.sqrt(gyc ** 2 + gxc ** 2).max()) * float(samples.norm(dim=1).max())
                if lip >= 0.95:
                    raise ValueError(f"layer {i} is too steep for this blur (|∇c|·|s| = {lip:.2f} ≥ 1): it would fold "
                                     "over itself; use a smaller K or a gentler surface")
            else:
                lip = 0.0
            layers.append((data, c if p.depth_map is not None else float(c.flatten()[0]), lip,
                           "reflection" if i == 0 else "zeros"))
        out = []
        for n0 in range(0, samples.shape[0], chunk):
            s = samples[n0:n0 + chunk].to(torch.float32)
            n = s.shape[0]
            cols, alphas, depths = [], [], []
            for data, c, lip, pad in layers:
                if isinstance(c, float):
                    sy = gy[None] + c * s[:, 0, None, None]
                    sx = gx[None] + c * s[:, 1, None, None]
                else:  # solve y = x + c(y)·s by fixed-point iteration (a contraction: lip < 1)
                    iters = int(min(60, max(2, math.ceil(math.log(1e-4) / math.log(max(lip, 1e-3))))))
                    sy, sx = gy[None].expand(n, H, W), gx[None].expand(n, H, W)
                    cmap = c[None].expand(n, 1, H, W)
                    for _ in range(iters):
                        cy = _sample(cmap, sy, sx, "border")[:, 0]
                        sy = gy[None] + cy * s[:, 0, None, None]
                        sx = gx[None] + cy * s[:, 1, None, None]
                v = _sample(data.expand(n, -1, -1, -1), sy, sx, pad)
                cols.append(v[:, :3])
                alphas.append(v[:, 3:4])
                depths.append(torch.where(v[:, 3:4] > 0, v[:, 4:5], torch.full_like(v[:, 4:5], -1.0)))
            # composite far → near per pixel: sort the layers by disparity (small = far)
            d = torch.stack(depths, 1)  # (n, P, 1, H, W)
            order = torch.argsort(d, dim=1, stable=True)
            col = torch.gather(torch.stack(cols, 1), 1, order.expand(-1, -1, 3, -1, -1))
            alp = torch.gather(torch.stack(alphas, 1), 1, order)
            acc = col[:, 0]
            for j in range(1, col.shape[1]):
                acc = col[:, j] + (1.0 - alp[:, j]) * acc
            out.append(acc)
        return torch.cat(out)

    def aif(self) -> torch.Tensor:
        """All-in-focus image ``(1, 3, H, W)`` in [0, 1]."""
        return from_linear(self._views_linear(torch.zeros(1, 2), 0.0, 0.0), self.gamma)

    def depth(self) -> torch.Tensor:
        """Depth (m) of the front-most visible layer (alpha > 0.5), ``(1, 1, H, W)``."""
        d = torch.full((1, 1) + self.size, float("inf"))
        for p in self.planes:
            z = p.depth_map[None] if p.depth_map is not None else torch.full_like(d, p.depth_m)
            d = torch.where((p.alpha[None] > 0.5) & (z < d), z, d)
        return torch.where(torch.isfinite(d), d, torch.full_like(d, self.planes[0].depth_m))

    def disparity(self) -> torch.Tensor:
        """1/depth (1/m), ``(1, 1, H, W)``."""
        return 1.0 / self.depth()

    def coc_range(self, K: float, focus_disp: float) -> float:
        """The largest |CoC| (px) any layer point has."""
        return max(float((K * (p.disparity_map() - focus_disp)).abs().max()) for p in self.planes)

    # ----- exact thin-lens renders -------------------------------------------------------------
    def aperture_samples(self, K: float, focus_disp: float, aperture: Aperture | None = None,
                         spacing_px: float = 0.5, half: Optional[str] = None, softness: float = 0.0):
        """Aperture samples ``s`` (unit disk, (y, x)) spaced so the largest plane shift moves at most
        ``spacing_px`` between neighbours, with weights ``A(s)``; ``half`` = ``"left"``/``"right"``
        keeps ``s_x < 0`` / ``s_x > 0`` (dual-pixel halves), or with ``softness`` τ > 0 weights every
        sample by ``σ(∓s_x/τ)`` (a smooth photodiode split; the two halves still sum to ``A``)."""
        aperture = aperture or Disk()
        r_max = self.coc_range(K, focus_disp)
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
        views = self._views_linear(samples, K, K * focus_disp)
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
        views = from_linear(self._views_linear(s, baseline, 0.0), self.gamma)
        return views.reshape(n_views, n_views, 3, *self.size)


def _sample(data: torch.Tensor, sy: torch.Tensor, sx: torch.Tensor, padding: str) -> torch.Tensor:
    """``data`` ``(N, C, H, W)`` read bilinearly at pixel positions ``(sy, sx)`` ``(N, H, W)``."""
    H, W = data.shape[-2:]
    grid = torch.stack([2 * sx / (W - 1) - 1, 2 * sy / (H - 1) - 1], dim=-1)
    return F.grid_sample(data, grid, mode="bilinear", padding_mode=padding, align_corners=True)


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


# ---------------------------------------------------------------------------------------- scenes
def _smooth_step(x: torch.Tensor) -> torch.Tensor:
    """A 1-px anti-aliased step: 0 → 1 around x = 0 (signed distance in px)."""
    return (x + 0.5).clamp(0, 1)


def _grid(size):
    H, W = size
    return torch.meshgrid(torch.arange(H, dtype=torch.float32), torch.arange(W, dtype=torch.float32), indexing="ij")


def ground_scene(size: Sequence[int] = (128, 128), near_m: float = 1.5, far_m: float = 20.0, horizon: float = 0.3,
                 textures: Sequence[str] = ("gravel", "rocket"), seed: int = 0, gamma: Gamma = 4.0) -> Scene:
    """A receding textured ground (disparity linear in the row, as a flat ground seen in perspective:
    ``1/far_m`` at the horizon row, ``1/near_m`` at the bottom) under a far backdrop at ``far_m``."""
    rng = np.random.default_rng(seed)
    H, W = size
    yy, _ = _grid(size)
    yh = horizon * H
    t = ((yy - yh) / (H - 1 - yh)).clamp(0, 1)
    disp = 1.0 / far_m + (1.0 / near_m - 1.0 / far_m) * t
    ground = Plane(_texture(textures[0], size, rng), _smooth_step(yy - yh)[None], float(2 / (1 / near_m + 1 / far_m)),
                   depth_map=(1.0 / disp)[None])
    back = Plane(_texture(textures[1], size, rng), torch.ones(1, H, W), float(far_m))
    return Scene([back, ground], gamma=gamma, name="ground")


def wall_scene(size: Sequence[int] = (128, 128), near_m: float = 1.5, far_m: float = 4.0, back_m: float = 12.0,
               textures: Sequence[str] = ("brick", "coffee"), seed: int = 0, gamma: Gamma = 4.0) -> Scene:
    """A wall tilted about the vertical axis (disparity linear in the column, ``1/near_m`` at its left
    edge, ``1/far_m`` at its right edge) in front of a backdrop at ``back_m``."""
    rng = np.random.default_rng(seed)
    H, W = size
    yy, xx = _grid(size)
    x0, x1, y0, y1 = 0.15 * W, 0.85 * W, 0.2 * H, 0.8 * H
    inside = torch.minimum(torch.minimum(xx - x0, x1 - xx), torch.minimum(yy - y0, y1 - yy))
    t = ((xx - x0) / (x1 - x0)).clamp(0, 1)
    disp = 1.0 / near_m + (1.0 / far_m - 1.0 / near_m) * t
    wall = Plane(_texture(textures[0], size, rng), _smooth_step(inside)[None], float(2 / (1 / near_m + 1 / far_m)),
                 depth_map=(1.0 / disp)[None])
    return Scene([Plane(_texture(textures[1], size, rng), torch.ones(1, H, W), float(back_m)), wall], gamma=gamma,
                 name="wall")


def cylinder_scene(size: Sequence[int] = (128, 128), depth_m: float = 2.0, bulge_m: float = 0.6, back_m: float = 10.0,
                   textures: Sequence[str] = ("chelsea", "brick"), seed: int = 0, gamma: Gamma = 4.0) -> Scene:
    """A vertical cylinder-like surface bulging ``bulge_m`` towards the camera (a cosine depth
    profile across its width, so it does not fold in any view) in front of a backdrop."""
    rng = np.random.default_rng(seed)
    H, W = size
    yy, xx = _grid(size)
    xc, half = 0.5 * W, 0.3 * W
    u = ((xx - xc) / half).clamp(-1, 1)
    z = depth_m - bulge_m * torch.cos(0.5 * math.pi * u)
    inside = torch.minimum(half - (xx - xc).abs(), torch.minimum(yy - 0.1 * H, 0.9 * H - yy))
    obj = Plane(_texture(textures[0], size, rng), _smooth_step(inside)[None], float(depth_m - bulge_m / 2),
                depth_map=z[None])
    return Scene([Plane(_texture(textures[1], size, rng), torch.ones(1, H, W), float(back_m)), obj], gamma=gamma,
                 name="cylinder")


def thin_scene(size: Sequence[int] = (128, 128), wire_m: float = 1.2, mid_m: float = 3.0, back_m: float = 10.0,
               textures: Sequence[str] = ("grass", "astronaut", "brick"), seed: int = 0, gamma: Gamma = 4.0) -> Scene:
    """Thin structures: bright wires and grass blades 1–2 px wide (anti-aliased) at ``wire_m``, a
    textured plane at ``mid_m`` and a backdrop at ``back_m``."""
    rng = np.random.default_rng(seed)
    H, W = size
    yy, xx = _grid(size)
    wires = torch.zeros(H, W)
    for _ in range(7):
        a, x0, width = rng.uniform(-0.4, 0.4), rng.uniform(0.1, 0.9) * W, rng.uniform(0.7, 1.2)
        dist = (xx - (x0 + a * (yy - H / 2))).abs() / math.sqrt(1 + a * a)
        wires = torch.maximum(wires, (width - dist + 0.5).clamp(0, 1))
    tex = _texture(textures[0], size, rng) * 0.5 + 0.5
    mid = _shape_mask("rect", size, (0.55 * H, 0.35 * W), 0.22 * min(H, W))
    return Scene([Plane(_texture(textures[2], size, rng), torch.ones(1, H, W), float(back_m)),
                  Plane(_texture(textures[1], size, rng), mid, float(mid_m)),
                  Plane(tex, wires[None], float(wire_m))], gamma=gamma, name="thin")


def portrait_scene(size: Sequence[int] = (128, 128), person_m: float = 2.0, back_m: float = 12.0, n_lights: int = 40,
                   textures: Sequence[str] = ("astronaut", "rocket"), seed: int = 0, gamma: Gamma = 4.0) -> Scene:
    """A portrait-like foreground — a textured head-and-shoulders blob with a soft, hair-like
    (noise-modulated) alpha on the head — at ``person_m`` before a darker backdrop at ``back_m``
    strewn with bright point lights (the highlights that become bokeh balls)."""
    rng = np.random.default_rng(seed)
    H, W = size
    yy, xx = _grid(size)
    back = _texture(textures[1], size, rng) * 0.45
    for _ in range(n_lights):
        cy, cx, r = rng.uniform(0, H), rng.uniform(0, W), rng.uniform(0.8, 2.0)
        spot = (r - torch.sqrt((yy - cy) ** 2 + (xx - cx) ** 2) + 0.5).clamp(0, 1)
        col = torch.tensor(rng.uniform(0.7, 1.0, 3), dtype=torch.float32)[:, None, None]
        back = back * (1 - spot) + col * spot
    hc, hr = (0.38 * H, 0.5 * W), 0.2 * min(H, W)
    head = hr - torch.sqrt(((yy - hc[0]) / 1.15) ** 2 + (xx - hc[1]) ** 2)
    angle = torch.atan2(yy - hc[0], xx - hc[1])
    noise = sum(torch.sin(k * angle + rng.uniform(0, 2 * math.pi)) * rng.uniform(0.5, 1.5) / k for k in range(5, 40, 3))
    hair = head + 1.5 * noise * (yy < hc[0] + 0.2 * hr).float()  # a ragged edge on the head
    body = torch.minimum(0.85 * H - (yy - 0.0), 0.28 * W - (xx - 0.5 * W).abs() - 0.2 * (H - yy).clamp(min=0) * 0.3)
    body = torch.minimum(body, yy - 0.55 * H)
    alpha = torch.maximum((hair / 2.0 + 0.5).clamp(0, 1), _smooth_step(body))  # soft hair (2 px), AA body
    person = Plane(_texture(textures[0], size, rng), alpha[None], float(person_m))
    return Scene([Plane(back.clamp(0, 1), torch.ones(1, H, W), float(back_m)), person], gamma=gamma, name="portrait")


@dataclass
class RendererCase:
    """One row of the renderer accuracy table: a scene and the focus disparity (1/m) to render it at;
    :meth:`K` gives the bokeh level whose largest |CoC| in the scene is ``coc_px``."""

    name: str
    scene: Scene
    focus_disp: float

    def K(self, coc_px: float) -> float:
        return coc_px / self.scene.coc_range(1.0, self.focus_disp)


def renderer_cases(size: Sequence[int] = (192, 192), seed: int = 0) -> list:
    """The renderer accuracy cases (issue 14): a receding ground focused at mid-distance, a tilted
    wall focused at its middle, a curved surface focused on its crest, a portrait focused on the
    person (foreground in focus) and on the backdrop (foreground blurred), and thin wires in front
    of a plane focused on the plane."""
    H, W = size
    ground = ground_scene(size, seed=seed)
    wall = wall_scene(size, seed=seed)
    cyl = cylinder_scene(size, seed=seed)
    portrait = portrait_scene(size, seed=seed)
    thin = thin_scene(size, seed=seed)
    return [
        RendererCase("slanted ground", ground, float(ground.disparity()[0, 0, int(0.7 * H), W // 2])),
        RendererCase("tilted wall", wall, float(wall.disparity()[0, 0, H // 2, W // 2])),
        RendererCase("curved surface", cyl, float(cyl.disparity()[0, 0, H // 2, W // 2])),
        RendererCase("portrait, person in focus", portrait, portrait.planes[1].disparity),
        RendererCase("portrait, backdrop in focus", portrait, portrait.planes[0].disparity),
        RendererCase("thin structures", thin, thin.planes[1].disparity),
    ]


def degrade_disparity(disparity: torch.Tensor, seed: int = 0, factor: int = 4, blur_px: float = 1.5,
                      max_shift_px: int = 3, outliers: float = 0.005) -> torch.Tensor:
    """A model of a monocular estimator's map made from an exact one: area-downsampled by ``factor`` and
    bilinearly upsampled back (blocky, soft), Gaussian-blurred (σ ``blur_px``), shifted by 1…``max_shift_px``
    px in y and x (random signs: edges misaligned with the photo's), and a fraction ``outliers`` of pixels
    replaced by uniform values over the map's range (speckles).

    Args:
        disparity: ``(1, 1, H, W)`` exact disparity (1/m).
        seed: the random shift, signs and outliers.

    Returns:
        ``(1, 1, H, W)`` degraded disparity, same units.
    """
    import cv2

    if not (torch.is_tensor(disparity) and disparity.shape[:2] == (1, 1) and disparity.dim() == 4):
        raise ValueError(f"disparity must be (1, 1, H, W), got {tuple(disparity.shape)}")
    rng = np.random.default_rng(seed)
    H, W = disparity.shape[-2:]
    small = F.interpolate(disparity.float(), size=(H // factor, W // factor), mode="area")
    d = F.interpolate(small, size=(H, W), mode="bilinear", align_corners=False)[0, 0].numpy()
    d = cv2.GaussianBlur(d, (0, 0), blur_px, borderType=cv2.BORDER_REPLICATE)
    dy, dx = rng.integers(1, max_shift_px + 1, 2) * rng.choice([-1, 1], 2)
    d = np.roll(d, (int(dy), int(dx)), (0, 1))
    lo, hi = float(disparity.min()), float(disparity.max())
    mask = rng.random((H, W)) < outliers
    d = np.where(mask, rng.uniform(lo, hi, (H, W)), d).astype(np.float32)
    return torch.from_numpy(d)[None, None]


def edge_band(disparity: torch.Tensor, width: int = 4, rel: float = 0.05) -> torch.Tensor:
    """``(H, W)`` bool: pixels within ``width`` px of a depth edge of an exact map (a 3×3 span above ``rel``
    of the map's range) — where a degraded map's errors show."""
    d = disparity.reshape(disparity.shape[-2:]).float()[None, None]
    span = F.max_pool2d(d, 3, 1, 1) + F.max_pool2d(-d, 3, 1, 1)
    edge = (span > rel * float(d.max() - d.min())).float()
    return F.max_pool2d(edge, 2 * width + 1, 1, width)[0, 0] > 0.5
