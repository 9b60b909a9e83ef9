"""Dual-pixel training samples, synthetic and real.

* :func:`synthetic_dp_sample` — DPDeblurNet's pairs: photo crops over a slanted background and 0–2 nearer
  shapes with signed CoCs, the DP views of :func:`~genrefocus.optics.dp_synthesis.synthesize_dp` (random split
  softness, optionally a real lens's PSF shape and a green-only capture), fall-off, noise and a GIF palette;
* :func:`scene_lab_dp_sample` — exact DP pairs of random scene-lab scenes with an exact refocus target;
* :func:`aif_depth_dp_sample` — DP synthesis from an AIF + depth manifest record (half-disk apertures
  through the layered renderer);
* :func:`dpdd_dp_sample` — a random crop of a real DPDD capture;
* :class:`DPBatches` — batches drawn from a list of such sources (the UiD trainer's data).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from ..errors import InputError
from ..optics.dp_classical import unsharp_mask
from ..optics.dp_disparity import HALF_DISK_DISPARITY, dp_disparity_factor
from ..optics.dp_synthesis import LensPSF, gif_palette, green_only, sensor_noise, synthesize_dp, view_falloff
from ..optics.render import from_linear, render_bokeh, to_linear
from ..optics.scene_lab import make_scene
from .photos import PhotoPool

_TEXTURES = [("brick", "coffee", "chelsea"), ("grass", "astronaut", "rocket"), ("gravel", "cat", "coffee")]


def _shape_mask(rng: np.random.Generator, size: int) -> torch.Tensor:
    """A random ellipse or polygon covering ~10–50 % of the crop, 1-px soft edge."""
    from skimage.draw import ellipse, polygon

    m = np.zeros((size, size), np.float32)
    cy, cx = rng.uniform(0.2, 0.8, 2) * size
    if rng.random() < 0.5:
        ry, rx = rng.uniform(0.15, 0.45, 2) * size
        rr, cc = ellipse(cy, cx, ry, rx, shape=m.shape, rotation=float(rng.uniform(0, np.pi)))
    else:
        n = int(rng.integers(3, 8))
        ang = np.sort(rng.uniform(0, 2 * np.pi, n))
        rad = rng.uniform(0.15, 0.45, n) * size
        rr, cc = polygon(cy + rad * np.sin(ang), cx + rad * np.cos(ang), shape=m.shape)
    m[rr, cc] = 1.0
    from scipy import ndimage

    return torch.from_numpy(ndimage.gaussian_filter(m, 0.6))[None]


def random_lens_psf(rng: np.random.Generator) -> LensPSF:
    """A real lens's PSF shape in the ranges of Abuolaim et al. 2021 (Butterworth order 3–9, cut-off
    0.8–1 of the CoC radius, centre weight 0.1–0.3 of the rim) with a Gaussian edge of 0–10 % of the radius."""
    return LensPSF(order=float(rng.uniform(3, 9)), cutoff=float(rng.uniform(0.8, 1.0)),
                   floor=float(rng.uniform(0.1, 0.3)), edge=float(rng.uniform(0.0, 0.1)))


@dataclass(frozen=True)
class DPSynthesis:
    """How :func:`synthetic_dp_sample` degrades a pair. ``coc_max``: largest CoC radius (px, skewed to
    small); ``softness``: the photodiode split τ range (DP disparity per CoC radius 0.76 at τ 0.15, 0.43 at
    0.5, 0.34 — what a real Canon DSLR measures — at 0.75, 0.24 at 1.0); fractions of the pairs with a real
    lens's PSF shape (``lens_psf``), green-only views (``green``), a GIF palette (``palette``; with
    Floyd–Steinberg dithering if ``dither``, as the shared Canon frames are stored), camera JPEG
    compression at quality 75–95 (``jpeg``), a Bayer mosaic demosaiced by OpenCV (``demosaic``);
    ``lens_softness``: the largest Gaussian σ (px, drawn uniformly from 0) of a lens's softness wide open — a
    blur every view has even in focus, which the target does not (0: a perfect lens); ``sharpen``: fraction of
    the pairs through a camera's sharpening (unsharp mask, σ 0.5–1.5 px, amount 0.3–1.0, after the demosaic,
    before the JPEG)."""

    coc_max: float = 12.0
    softness: tuple = (0.15, 1.0)
    lens_psf: float = 0.0
    green: float = 0.0
    palette: float = 0.5
    dither: bool = False
    jpeg: float = 0.0
    demosaic: float = 0.0
    lens_softness: float = 0.0
    sharpen: float = 0.0


def synthetic_dp_sample(pool: PhotoPool, rng: np.random.Generator, size: int = 96,
                        synthesis: DPSynthesis = DPSynthesis()) -> dict:
    """One training sample: ``left``, ``right`` (degraded views), ``aif``, ``disparity`` (px),
    each ``(1, C, size, size)``: a slanted background and 0–2 nearer shapes of photo crops, the DP views of
    :func:`~genrefocus.optics.dp_synthesis.synthesize_dp` (a flat disk, or a real lens's PSF shape,
    :func:`random_lens_psf`), per-view fall-off, sensor noise, then the capture pipeline's degradations of
    ``synthesis`` (:class:`DPSynthesis`)."""
    s = synthesis
    mag = lambda: s.coc_max * float(rng.random()) ** 1.5  # noqa: E731  (skewed to small blur)
    c0 = mag() * (1 if rng.random() < 0.5 else -1)
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
    gy, gx = rng.uniform(-0.25, 0.25, 2) * min(s.coc_max, abs(c0) + 3)
    coc = (c0 + gy * yy + gx * xx)[None]
    aif = pool.crop(rng, size)
    for _ in range(int(rng.choice([0, 1, 1, 2]))):
        m = _shape_mask(rng, size)
        c_near = float(coc.max()) + 0.5 + mag() * 0.8  # nearer than what lies behind it: a larger CoC
        c_near = min(c_near, s.coc_max)
        aif = aif * (1 - m) + pool.crop(rng, size) * m
        coc = torch.where(m > 0.5, torch.full_like(coc, c_near), coc)
    tau = float(rng.uniform(*s.softness))
    psf = random_lens_psf(rng) if rng.random() < s.lens_psf else LensPSF()
    left, right = synthesize_dp(aif[None], coc[None], softness=tau, gamma="srgb", psf=psf)
    if s.lens_softness > 0:
        sigma = float(rng.uniform(0, s.lens_softness))
        left, right = soften(left, sigma), soften(right, sigma)
    if rng.random() < 0.5:
        left, right = view_falloff(left, right, float(rng.uniform(-0.15, 0.15)), float(rng.uniform(-0.1, 0.1)))
    g = torch.Generator().manual_seed(int(rng.integers(2 ** 31)))
    shot, read = float(np.exp(rng.uniform(np.log(1e-4), np.log(3e-3)))), float(rng.uniform(0.001, 0.01))
    left, right = sensor_noise(left, shot, read, g), sensor_noise(right, shot, read, g)
    if s.demosaic > 0 and rng.random() < s.demosaic:  # before the JPEG / palette, as in a camera
        left, right = demosaic(left), demosaic(right)
    if s.sharpen > 0 and rng.random() < s.sharpen:  # in-camera sharpening, before the JPEG
        sigma, amount = float(rng.uniform(0.5, 1.5)), float(rng.uniform(0.3, 1.0))
        left, right = unsharp_mask(left, sigma, amount), unsharp_mask(right, sigma, amount)
    if s.jpeg > 0 and rng.random() < s.jpeg:
        q = int(rng.integers(75, 96))
        left, right = jpeg(left, q), jpeg(right, q)
    if rng.random() < s.palette:
        left, right = gif_palette(left, s.dither), gif_palette(right, s.dither)
    if rng.random() < s.green:
        left, right, aif = green_only(left), green_only(right), green_only(aif[None])[0]
    return {"left": left, "right": right, "aif": aif[None], "disparity": (psf.disparity_factor(tau) * coc)[None],
            "disparity_known": torch.ones(1, 1, 1, 1)}


def soften(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """``x`` ``(1, 3, H, W)`` sRGB blurred in linear light by a Gaussian of ``sigma`` px (scipy, reflected
    borders): a lens's softness in focus."""
    from scipy.ndimage import gaussian_filter

    if sigma <= 0:
        return x
    lin = to_linear(x, "srgb")[0].numpy()
    return from_linear(torch.from_numpy(gaussian_filter(lin, (0, sigma, sigma), mode="reflect"))[None], "srgb")


def _u8(x: torch.Tensor) -> np.ndarray:
    return (x[0].permute(1, 2, 0).numpy() * 255 + 0.5).clip(0, 255).astype(np.uint8)


def _f32(arr: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32) / 255.0).permute(2, 0, 1)[None]


def jpeg(x: torch.Tensor, quality: int) -> torch.Tensor:
    """``x`` ``(1, 3, H, W)`` through an 8-bit JPEG at ``quality`` (PIL, 4:2:0 chroma subsampling)."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(_u8(x)).save(buf, format="JPEG", quality=int(quality))
    buf.seek(0)
    with Image.open(buf) as im:
        return _f32(np.asarray(im.convert("RGB")))


def demosaic(x: torch.Tensor) -> torch.Tensor:
    """``x`` ``(1, 3, H, W)`` sampled on an RGGB Bayer mosaic and demosaiced by OpenCV (edge-aware
    variable-number-of-gradients), as a camera's raw pipeline does (its colour fringes and zippers)."""
    import cv2

    rgb = _u8(x)
    raw = np.zeros(rgb.shape[:2], np.uint8)
    raw[0::2, 0::2] = rgb[0::2, 0::2, 0]
    raw[0::2, 1::2] = rgb[0::2, 1::2, 1]
    raw[1::2, 0::2] = rgb[1::2, 0::2, 1]
    raw[1::2, 1::2] = rgb[1::2, 1::2, 2]
    return _f32(cv2.cvtColor(raw, cv2.COLOR_BayerBG2RGB_VNG))


def _batch(items: list) -> dict:
    """Samples (dicts of ``(1, …)`` tensors or None) → one dict of ``(n, …)`` tensors (None where any is None)."""
    out = {}
    for k in items[0]:
        vals = [it[k] for it in items]
        out[k] = None if any(v is None for v in vals) else torch.cat(vals)
    return out


def scene_lab_dp_sample(rng: np.random.Generator, size: int, k_range=(2.0, 6.0), spacing_px: float = 0.5,
                        softness_max: float = 0.0) -> dict:
    """One exact sample: ``left``, ``right``, ``aif``, ``blurry`` ``(1, 3, s, s)``, ``coc`` (px),
    ``target`` (exact render focused on a random visible plane) and its ``mask`` ``(1, 1, s, s)``.
    ``spacing_px``: aperture sample spacing of the renders (0.5 = the scene lab's exact default; 1.0
    is 4× cheaper and still smooth for the small CoCs used in training). ``softness_max`` > 0 draws a
    smooth photodiode split τ ∈ [0, softness_max] per sample (:meth:`Scene.dual_pixel`)."""
    depths = sorted(rng.uniform(0.8, 8.0, 3), reverse=True)
    sc = make_scene((size, size), depths_m=tuple(depths), seed=int(rng.integers(1 << 30)),
                    textures=_TEXTURES[int(rng.integers(len(_TEXTURES)))])
    K = float(rng.uniform(*k_range))
    i = int(rng.integers(len(sc.planes)))
    df = sc.planes[i].disparity
    tau = float(rng.uniform(0, softness_max)) if softness_max > 0 else 0.0
    left, right = sc.dual_pixel(K, df, spacing_px=spacing_px, softness=tau)
    depth = sc.depth()
    visible = [j for j, p in enumerate(sc.planes) if int((depth == p.depth_m).sum()) >= 16]
    others = [j for j in visible if j != i]
    if others and rng.random() < 0.8:  # mostly a real refocus, sometimes the identity
        visible = others
    j = visible[int(rng.integers(len(visible)))]
    return {"left": left, "right": right, "aif": sc.aif(), "blurry": (left + right) / 2,
            "coc": K * (sc.disparity() - df), "target": sc.render(K, sc.planes[j].disparity, spacing_px=spacing_px),
            "mask": (depth == sc.planes[j].depth_m).float(),
            "dp_factor": torch.full((1, 1, 1, 1), dp_disparity_factor(tau))}


def scene_lab_dp_batch(rng: np.random.Generator, n: int, size: int, k_range=(2.0, 6.0), spacing_px: float = 0.5,
                       softness_max: float = 0.0) -> dict:
    """A batch of :func:`scene_lab_dp_sample` (``(n, ...)`` tensors)."""
    return _batch([scene_lab_dp_sample(rng, size, k_range, spacing_px, softness_max) for _ in range(n)])


def flip_dp_sample(sample: dict, horizontal: bool, vertical: bool) -> dict:
    """Flip every map of a sample; a horizontal flip mirrors the DP disparity, so the views are
    swapped to keep "left" = the left half aperture (the CoC sign is unchanged)."""
    dims = [d for d, f in ((-1, horizontal), (-2, vertical)) if f]
    if not dims:
        return sample
    out = {k: (None if v is None else torch.flip(v, dims)) for k, v in sample.items()}
    if horizontal:
        out["left"], out["right"] = out["right"], out["left"]
    return out


def half_disk_apertures(radius: int = 64):
    """Left / right half-disk :class:`~genrefocus.optics.apertures.RasterAperture` pair."""
    from ..optics.apertures import RasterAperture

    yy, xx = np.mgrid[-radius:radius + 1, -radius:radius + 1]
    disk = (yy ** 2 + xx ** 2) <= radius ** 2
    return (RasterAperture(disk & (xx <= 0), name="left half", centered=False),
            RasterAperture(disk & (xx >= 0), name="right half", centered=False))


def dp_from_aif(aif: torch.Tensor, disparity: torch.Tensor, K: float, focus: float, gamma=4.0):
    """DP pair ``(left, right)`` from AIF ``(B, 3, H, W)`` + disparity (1/m) for bokeh level ``K`` (px·m)
    focused at ``focus`` (1/m): left/right half-disk apertures, rotated 180° in front of the focal plane
    (the renderer's physical flip), layered occlusion; ``(L + R)/2`` in linear light is the full disk."""
    left_ap, right_ap = half_disk_apertures()
    coc = K * (disparity - focus)
    left = render_bokeh(aif, coc, mode="layered", aperture=left_ap, flip_front=True, gamma=gamma)
    right = render_bokeh(aif, coc, mode="layered", aperture=right_ap, flip_front=True, gamma=gamma)
    return left, right


def _random_crop(maps: list, size: int, rng: np.random.Generator, name: str) -> list:
    """One random ``size × size`` window (top, then left offset drawn) applied to every map."""
    H, W = maps[0].shape[-2:]
    if min(H, W) < size:
        raise InputError(name, f"{W}×{H} is smaller than the training size {size}")
    y0, x0 = int(rng.integers(0, H - size + 1)), int(rng.integers(0, W - size + 1))
    return [m[..., y0:y0 + size, x0:x0 + size] for m in maps]


def aif_depth_dp_sample(record: dict, rng: np.random.Generator, size: int, k_range=(2.0, 6.0)) -> dict:
    """:func:`dp_from_aif` on a random ``size`` crop of a manifest record (``aif``, ``depth`` paths);
    the refocus target is the layered full-disk render focused at a random pixel's disparity."""
    from ..io import load_depth, load_image
    from ..optics.defocus import depth_to_disparity

    aif = load_image(record["aif"])
    depth = load_depth(record["depth"])
    if depth.shape[-2:] != aif.shape[-2:]:
        depth = torch.nn.functional.interpolate(depth, size=aif.shape[-2:], mode="nearest")
    aif, depth = _random_crop([aif, depth], size, rng, record["aif"])
    disp = depth_to_disparity(depth)
    K = float(rng.uniform(*k_range))
    pick = lambda: float(disp.flatten()[int(rng.integers(disp.numel()))])  # noqa: E731
    df, dt = pick(), pick()
    left, right = dp_from_aif(aif, disp, K, df)
    band = 0.5 / K  # within half a pixel of CoC of the new focal plane
    return {"left": left, "right": right, "aif": aif, "blurry": (left + right) / 2, "coc": K * (disp - df),
            "target": render_bokeh(aif, K * (disp - dt), mode="layered"),
            "mask": ((disp - dt).abs() <= band).float(), "dp_factor": torch.full((1, 1, 1, 1), HALF_DISK_DISPARITY)}


def dpdd_dp_sample(record: dict, rng: np.random.Generator, size: int) -> dict:
    """A random crop of a DPDD capture (``left``, ``right``, ``blurry``, ``aif``; no CoC)."""
    from ..io import load_image

    views = [load_image(record[k]) for k in ("left", "right", "blurry", "aif")]
    left, right, blurry, aif = _random_crop(views, size, rng, record["left"])
    return {"left": left, "right": right, "aif": aif, "blurry": blurry, "coc": None, "target": None, "mask": None,
            "dp_factor": None}


class DPBatches:
    """Batches from the configured sources (module doc); deterministic given the generator.

    ``scene_cache`` > 0 renders that many scene-lab samples up front and then draws from them with
    random flips (:func:`flip_dp_sample`) — on a CPU the exact renders cost more than a training step.
    """

    def __init__(self, sources, size: int, k_range=(2.0, 6.0), scene_cache: int = 0, spacing_px: float = 0.5,
                 seed: int = 0, progress: bool = False, softness_max: float = 0.0):
        from .readers import dpdd_dual_pixel
        from .manifest_dataset import read_manifest

        self.size, self.k_range, self.spacing_px, self.sources = size, tuple(k_range), spacing_px, []
        self.softness_max = softness_max
        self.cache = None
        if scene_cache > 0 and any(str(s) == "scene_lab" for s in sources):
            rng = np.random.default_rng([seed, 7])
            self.cache = [scene_lab_dp_sample(rng, size, k_range, spacing_px, softness_max)
                          for _ in tqdm(range(scene_cache), desc="render scene-lab DP samples", disable=not progress)]
        for spec in sources:
            kind, _, arg = str(spec).partition(":")
            if kind == "scene_lab":
                self.sources.append((kind, None))
            elif kind == "aif_depth":
                self.sources.append((kind, [r for r in read_manifest(arg) if r.get("aif") and r.get("depth")]))
            elif kind == "dpdd":
                self.sources.append((kind, list(dpdd_dual_pixel(arg, split="train"))))
            else:
                raise InputError("sources", f"unknown DP data source {spec!r} (scene_lab, aif_depth:<manifest>, "
                                            "dpdd:<root>)")
            if kind != "scene_lab" and not self.sources[-1][1]:
                raise InputError("sources", f"{spec!r} has no usable records")

    def __call__(self, rng: np.random.Generator, n: int) -> dict:
        kind, records = self.sources[int(rng.integers(len(self.sources)))]
        if kind == "scene_lab" and self.cache is not None:
            return _batch([flip_dp_sample(self.cache[int(rng.integers(len(self.cache)))], *(rng.random(2) < 0.5))
                           for _ in range(n)])
        if kind == "scene_lab":
            return scene_lab_dp_batch(rng, n, self.size, self.k_range, self.spacing_px, self.softness_max)
        pick = lambda: records[int(rng.integers(len(records)))]  # noqa: E731
        if kind == "aif_depth":
            return _batch([aif_depth_dp_sample(pick(), rng, self.size, self.k_range) for _ in range(n)])
        return _batch([dpdd_dp_sample(pick(), rng, self.size) for _ in range(n)])


__all__ = ["DPBatches", "DPSynthesis", "demosaic", "jpeg", "soften", "aif_depth_dp_sample", "dp_from_aif", "dpdd_dp_sample", "flip_dp_sample", "half_disk_apertures",
           "random_lens_psf", "scene_lab_dp_batch", "scene_lab_dp_sample", "synthetic_dp_sample"]
