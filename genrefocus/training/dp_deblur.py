"""Training DPDeblurNet (``accelerate launch training/train_dp_deblur.py``) on synthetic dual-pixel
pairs — no real capture is used, so the Canon validation scenes stay unseen.

Each sample (:func:`synthetic_dp_sample`): sharp textures from scikit-image's photos (random scale,
crop, flips, colour gain), a depth layout — a slanted background plane and 0–2 nearer shapes, each
with a signed CoC (``|c|`` up to ``coc_max`` px, skewed to small) —, the DP views of
:func:`~genrefocus.optics.dp_synthesis.synthesize_dp` with a random split softness τ ∈ [0.15,
``softness_max``] (DP disparity per CoC radius 0.76 … 0.24 for τ up to 1.0: a real Canon DSLR measures
0.34, :func:`~genrefocus.metrics.dual_pixel.blur_disparity_relation`), in a fraction ``lens_psf`` of the
samples a real lens's PSF shape (:func:`random_lens_psf`: rim-bright and soft-edged, the ranges Abuolaim
et al. 2021 fitted to a Canon DSLR) instead of a flat disk, in a fraction ``green`` a green-only capture
(grey views, as Pixel phones deliver them), uncorrected per-view fall-off, sensor noise and, half the
time, a 256-colour palette (the validation GIFs are palette-quantised). Targets: the clean all-in-focus image and the disparity ``f(τ)·c`` (``f`` of that PSF shape).

Loss: Charbonnier (ε = 1e-3) on the AIF + ``lam_disp``·L1 on the disparity (+ ``lam_fft``·L1 of the AIF's
Fourier coefficients, MIMO-UNet's frequency loss, when set; 0.01 makes it about as large as the
Charbonnier term for a trained model). AdamW, cosine schedule,
checkpoints and exact resume as the other trainers (:mod:`genrefocus.training.checkpoints`).

``data="dpdd:ROOT"``: the same command trains — or, with ``init_from``, fine-tunes — on DPDD's real
dual-pixel train captures (left/right views → the f/22 all-in-focus target; no disparity target there,
so that term is off for those samples; crops keep the split axis: no rotation or horizontal flip).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import InputError
from ..models.dp_deblur import DPDeblurConfig, DPDeblurNet
from ..models.dp_losses import frequency
from ..models.jdrl_reblur import charbonnier
from ..optics.dp_synthesis import LensPSF, green_only, sensor_noise, synthesize_dp, view_falloff
from .loop import LoopConfig, save_result, train_loop
from .real_pairs import DUAL_PIXEL_SOURCES, CropSampler, dual_pixel_items

#: scikit-image photos used as sharp textures (colour photos and grey textures)
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "cat", "brick", "grass", "gravel", "camera", "page",
          "text", "coins", "moon", "motorcycle")


@dataclass
class DPDeblurTrainConfig(LoopConfig):
    output_dir: str = "runs/dp_deblur"
    steps: int = 6000
    batch_size: int = 8
    learning_rate: float = 1e-3
    warmup: int = 100
    data: str = "synthetic"           # or "dpdd:ROOT" (DPDD's dual-pixel train captures)
    coc_max: float = 12.0
    lam_disp: float = 0.05
    lens_psf: float = 0.0             # fraction of synthetic pairs with a real lens's PSF shape
    green: float = 0.0                # fraction of green-only (grey) pairs, as Pixel phones capture them
    softness_max: float = 1.0         # split softness τ ~ U(0.15, softness_max): DP disparity per CoC 0.76 … f(max)
    lam_fft: float = 0.0              # weight of an L1 on the AIF's Fourier coefficients (MIMO-UNet's frequency loss)

    def __post_init__(self):
        problems = self.loop_problems(DPDeblurConfig, DUAL_PIXEL_SOURCES, positive=("coc_max",),
                                      nonnegative=("lam_disp", "lam_fft"))
        if not 0.15 < float(self.softness_max) <= 5.0:
            problems.append(f"softness_max must be in (0.15, 5], got {self.softness_max}")
        for name in ("lens_psf", "green"):
            if not 0.0 <= float(getattr(self, name)) <= 1.0:
                problems.append(f"{name} must be a fraction in [0, 1], got {getattr(self, name)}")
        if problems:
            raise InputError("DP deblur training config", "; ".join(problems))


def _photo(name: str) -> np.ndarray:
    from skimage import data

    img = data.stereo_motorcycle()[0] if name == "motorcycle" else getattr(data, name)()
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, -1)
    return img[..., :3].astype(np.float32) / 255.0


class PhotoPool:
    """The sharp photos, loaded once, as ``(3, H, W)`` tensors: scikit-image's photos ``names``, or the
    given ``images`` (e.g. held-out photos for an evaluation)."""

    def __init__(self, names=PHOTOS, images=None):
        self.images = ([img.float().contiguous() for img in images] if images is not None else
                       [torch.from_numpy(_photo(n)).permute(2, 0, 1).contiguous() for n in names])

    def crop(self, rng: np.random.Generator, size: int) -> torch.Tensor:
        img = self.images[int(rng.integers(len(self.images)))]
        H, W = img.shape[-2:]
        scale = float(rng.uniform(max(size / min(H, W), 0.35), 1.0))
        # the source window that maps to `size` px after scaling, resized with antialiasing
        sh, sw = min(H, math.ceil(size / scale)), min(W, math.ceil(size / scale))
        y0, x0 = int(rng.integers(0, H - sh + 1)), int(rng.integers(0, W - sw + 1))
        x = img[None, :, y0:y0 + sh, x0:x0 + sw]
        x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)[0]
        if rng.random() < 0.5:
            x = x.flip(-1)
        if rng.random() < 0.5:
            x = x.flip(-2)
        x = x.rot90(int(rng.integers(4)), dims=(-2, -1))
        gain = torch.from_numpy(rng.uniform(0.8, 1.15, size=3).astype(np.float32)).view(3, 1, 1)
        return (x * gain).clamp(0, 1)


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


def synthetic_dp_sample(pool: PhotoPool, rng: np.random.Generator, size: int = 96, coc_max: float = 12.0,
                        lens_psf: float = 0.0, green: float = 0.0, softness_max: float = 1.0) -> dict:
    """One training sample: ``left``, ``right`` (degraded views), ``aif``, ``disparity`` (px),
    each ``(1, C, size, size)``; with probability ``lens_psf`` the blur has a real lens's PSF shape
    (:func:`random_lens_psf`), otherwise a flat disk; the split softness τ is uniform in
    [0.15, ``softness_max``]; with probability ``green`` the pair (and its AIF
    target) is a green-only capture (:func:`~genrefocus.optics.dp_synthesis.green_only`)."""
    mag = lambda: coc_max * float(rng.random()) ** 1.5  # noqa: E731  (skewed to small blur)
    c0 = mag() * (1 if rng.random() < 0.5 else -1)
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
    gy, gx = rng.uniform(-0.25, 0.25, 2) * min(coc_max, abs(c0) + 3)
    coc = (c0 + gy * yy + gx * xx)[None]
    aif = pool.crop(rng, size)
    for _ in range(int(rng.choice([0, 1, 1, 2]))):
        m = _shape_mask(rng, size)
        c_near = float(coc.max()) + 0.5 + mag() * 0.8  # nearer than what lies behind it: a larger CoC
        c_near = min(c_near, coc_max)
        aif = aif * (1 - m) + pool.crop(rng, size) * m
        coc = torch.where(m > 0.5, torch.full_like(coc, c_near), coc)
    tau = float(rng.uniform(0.15, softness_max))
    psf = random_lens_psf(rng) if rng.random() < lens_psf else LensPSF()
    left, right = synthesize_dp(aif[None], coc[None], softness=tau, gamma="srgb", psf=psf)
    if rng.random() < 0.5:
        left, right = view_falloff(left, right, float(rng.uniform(-0.15, 0.15)), float(rng.uniform(-0.1, 0.1)))
    g = torch.Generator().manual_seed(int(rng.integers(2 ** 31)))
    shot, read = float(np.exp(rng.uniform(np.log(1e-4), np.log(3e-3)))), float(rng.uniform(0.001, 0.01))
    left, right = sensor_noise(left, shot, read, g), sensor_noise(right, shot, read, g)
    if rng.random() < 0.5:
        left, right = _palette(left), _palette(right)
    if rng.random() < green:
        left, right, aif = green_only(left), green_only(right), green_only(aif[None])[0]
    return {"left": left, "right": right, "aif": aif[None], "disparity": (psf.disparity_factor(tau) * coc)[None],
            "disparity_known": torch.ones(1, 1, 1, 1)}


def _palette(x: torch.Tensor) -> torch.Tensor:
    """A 256-colour palette with dithering, as a GIF frame."""
    from PIL import Image

    arr = (x[0].permute(1, 2, 0).numpy() * 255 + 0.5).clip(0, 255).astype(np.uint8)
    q = np.asarray(Image.fromarray(arr).quantize(256).convert("RGB"), np.float32) / 255.0
    return torch.from_numpy(q).permute(2, 0, 1)[None]


def dp_deblur_loss(model: DPDeblurNet, batch: dict, lam_disp: float, lam_fft: float = 0.0) -> tuple:
    out = model(batch["left"], batch["right"])
    aif = charbonnier(out["aif"], batch["aif"])
    known = batch["disparity_known"]   # (B, 1, 1, 1): 0 for real captures (no disparity target)
    disp = ((out["disparity"] - batch["disparity"]).abs() * known).mean() / known.mean().clamp(min=1e-6)
    parts = {"aif": float(aif.detach()), "disparity": float(disp.detach())}
    total = aif + lam_disp * disp
    if lam_fft > 0:  # Cho et al. 2021 (MIMO-UNet): blur removes high frequencies; an L1 in the Fourier domain weighs them
        fft = frequency(out["aif"], batch["aif"])
        total, parts["fft"] = total + lam_fft * fft, float(fft.detach())
    return total, parts


def train_dp_deblur(cfg: DPDeblurTrainConfig, progress: bool = True) -> Path:
    """Train and save the checkpoint folder (``config.json`` + ``model.safetensors`` + ``train_log.json``);
    checkpoints every ``checkpointing_steps`` (:func:`~genrefocus.training.loop.train_loop`), each with a
    usable ``latest_model`` beside it."""
    torch.manual_seed(cfg.seed)
    real = CropSampler(dual_pixel_items(cfg.data), rotate=False) if cfg.data != "synthetic" else None
    pool = None if real else PhotoPool()

    def real_sample(rng):
        s = real.sample(rng, cfg.size)
        return {**s, "disparity": torch.zeros(1, 1, cfg.size, cfg.size), "disparity_known": torch.zeros(1, 1, 1, 1)}

    def batch(rng):
        items = [real_sample(rng) if real else
                 synthetic_dp_sample(pool, rng, cfg.size, cfg.coc_max, cfg.lens_psf, cfg.green, cfg.softness_max)
                 for _ in range(cfg.batch_size)]
        return {k: torch.cat([it[k] for it in items]) for k in items[0]}

    (model,), seconds, main = train_loop(
        cfg, [DPDeblurNet(DPDeblurConfig(**cfg.model))], batch,
        lambda mods, data, step: dp_deblur_loss(mods[0], data, cfg.lam_disp, cfg.lam_fft), "train DPDeblurNet", progress,
        on_checkpoint=lambda mods, out: mods[0].save_pretrained(out / "latest_model"))
    return save_result(cfg, model, seconds, main)


__all__ = ["DPDeblurTrainConfig", "PhotoPool", "dp_deblur_loss", "random_lens_psf", "synthetic_dp_sample", "train_dp_deblur"]
