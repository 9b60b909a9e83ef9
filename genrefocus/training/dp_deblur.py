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
time, a 256-colour palette (the validation GIFs are palette-quantised), optionally a lens's in-focus softness
(``lens_softness``: a Gaussian on both views, never on the target) and in-camera sharpening (``sharpen``). Targets: the clean all-in-focus image and the disparity ``f(τ)·c`` (``f`` of that PSF shape).

Loss: Charbonnier (ε = 1e-3) on the AIF + ``lam_disp``·L1 on the disparity (+ ``lam_fft``·L1 of the AIF's
Fourier coefficients, MIMO-UNet's frequency loss, when set; 0.01 makes it about as large as the
Charbonnier term for a trained model; + ``lam_detail``·L1 of the local RMS Laplacians,
:func:`~genrefocus.models.losses.detail_energy`, JDRL's detail term, on ``detail_band``). AdamW, cosine schedule,
checkpoints and exact resume as the other trainers (:mod:`genrefocus.training.checkpoints`).

``data="dpdd:ROOT"``: the same command trains — or, with ``init_from``, fine-tunes — on DPDD's real
dual-pixel train captures (left/right views → the f/22 all-in-focus target; no disparity target there,
so that term is off for those samples; crops keep the split axis: no rotation or horizontal flip).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..data.dp_samples import DPSynthesis, synthetic_dp_sample
from ..data.photos import PhotoPool
from ..data.real_pairs import DUAL_PIXEL_SOURCES, CropSampler, dual_pixel_items
from ..models.dp_deblur import DPDeblurConfig, DPDeblurNet
from ..models.losses import charbonnier, detail_energy, frequency
from .config import fraction, nonnegative, one_of, positive
from .loop import LoopConfig, save_result, train_loop

@dataclass
class DPDeblurTrainConfig(LoopConfig):
    output_dir: str = "runs/dp_deblur"
    steps: int = 6000
    batch_size: int = 8
    learning_rate: float = 1e-3
    warmup: int = 100
    model: dict = field(default_factory=lambda: {"width": 16, "scales": 3})
    data: str = "synthetic"           # or "dpdd:ROOT" (DPDD's dual-pixel train captures)
    coc_max: float = 12.0
    lam_disp: float = 0.05
    lens_psf: float = 0.0             # fraction of synthetic pairs with a real lens's PSF shape
    green: float = 0.0                # fraction of green-only (grey) pairs, as Pixel phones capture them
    softness_min: float = 0.15        # split softness τ ~ U(softness_min, softness_max): DP disparity per CoC radius
    softness_max: float = 1.0         # 0.76 at τ 0.15 … 0.34 (a real Canon DSLR) at 0.75 … 0.24 at 1.0
    jpeg: float = 0.0                 # fraction of pairs through camera JPEG compression (quality 75–95)
    demosaic: float = 0.0             # fraction of pairs through a Bayer mosaic + demosaic
    dither: bool = False              # the GIF palette (half the pairs) with Floyd–Steinberg dithering, as the Canon frames
    lam_fft: float = 0.0              # weight of an L1 on the AIF's Fourier coefficients (MIMO-UNet's frequency loss)
    lam_detail: float = 0.0           # weight of an L1 between the local RMS Laplacians of the AIF and its target
    detail_band: str = "full"         # that term on the images ("full") or after a [1, 2, 1] binomial ("binomial")
    lens_softness: float = 0.0        # largest Gaussian σ (px) of the lens's in-focus softness on the views (0: none)
    sharpen: float = 0.0              # fraction of pairs through in-camera sharpening (unsharp mask) before the JPEG
    keep_snapshots: bool = False      # keep the model of every checkpoint in snapshots/ (a learning curve)

    WHAT = "DP deblur training config"
    MODEL_CONFIG = DPDeblurConfig
    DATA_SOURCES = DUAL_PIXEL_SOURCES
    RULES = {**LoopConfig.RULES, "coc_max": positive(), "lam_disp": nonnegative(), "lam_fft": nonnegative(),
             "lam_detail": nonnegative(), "detail_band": one_of("full", "binomial"),
             "lens_psf": fraction(), "green": fraction(), "lens_softness": nonnegative(), "sharpen": fraction(), "jpeg": fraction(), "demosaic": fraction(),
             "softness_min": (lambda v: 0.05 <= v <= 5.0, "in [0.05, 5]"),
             "softness_max": (lambda v: 0.05 < v <= 5.0, "in (0.05, 5]")}
    HELP = {**LoopConfig.HELP, "coc_max": "largest CoC radius of the synthetic pairs (px)",
            "lam_disp": "weight of the disparity L1", "lam_fft": "weight of an L1 on the AIF's Fourier coefficients "
            "(MIMO-UNet's frequency loss; 0: off)",
            "lam_detail": "weight of an L1 between the local RMS Laplacians (9×9 windows) of the AIF and its target "
            "(the target's amount of fine detail; 0: off)",
            "detail_band": "that term on the images (full) or after a [1, 2, 1] binomial filter (binomial: blind to "
            "the Nyquist frequency, so a pixel-scale grid earns nothing)",
            "lens_psf": "fraction of pairs blurred with a real lens's rim-bright, soft-edged PSF (Abuolaim et al. 2021)",
            "green": "fraction of green-only (grey) pairs, as Pixel phones capture their DP views",
            "softness_max": "largest photodiode split softness τ (τ ~ U(0.15, max); DP disparity per CoC radius 0.76 "
            "at τ 0.15, 0.43 at 0.5, 0.24 at 1.0; a real Canon DSLR measures 0.34)",
            "softness_min": "smallest split softness τ", "keep_snapshots": "keep each checkpoint's model in snapshots/", "jpeg": "fraction of pairs through JPEG compression (75–95)",
            "demosaic": "fraction of pairs through a Bayer mosaic + demosaic",
            "dither": "the GIF palette half the pairs go through, with Floyd–Steinberg dithering as the shared Canon "
            "frames are stored (false: nearest colour)",
            "sharpen": "fraction of pairs through a camera's sharpening (unsharp mask σ 0.5–1.5 px, amount 0.3–1.0) "
            "before the JPEG",
            "lens_softness": "largest Gaussian σ (px, σ ~ U(0, max)) of a lens's softness wide open: both views "
            "blurred by it even in focus, the target sharp (0: a perfect lens)",
            "data": "synthetic, or dpdd:ROOT (real dual-pixel captures)"}

    def extra_problems(self) -> list:
        problems = super().extra_problems()
        if not self.softness_min < self.softness_max:
            problems.append(f"softness_min: must be < softness_max ({self.softness_max}), got {self.softness_min}")
        return problems

    def synthesis(self) -> DPSynthesis:
        return DPSynthesis(coc_max=self.coc_max, softness=(self.softness_min, self.softness_max), lens_psf=self.lens_psf,
                           green=self.green, jpeg=self.jpeg, demosaic=self.demosaic, dither=self.dither,
                           lens_softness=self.lens_softness, sharpen=self.sharpen)


def dp_deblur_loss(model: DPDeblurNet, batch: dict, lam_disp: float, lam_fft: float = 0.0, lam_detail: float = 0.0,
                   detail_band: str = "full") -> tuple:
    out = model(batch["left"], batch["right"])
    aif = charbonnier(out["aif"], batch["aif"])
    known = batch["disparity_known"]   # (B, 1, 1, 1): 0 for real captures (no disparity target)
    disp = ((out["disparity"] - batch["disparity"]).abs() * known).mean() / known.mean().clamp(min=1e-6)
    parts = {"aif": float(aif.detach()), "disparity": float(disp.detach())}
    total = aif + lam_disp * disp
    if lam_fft > 0:  # Cho et al. 2021 (MIMO-UNet): blur removes high frequencies; an L1 in the Fourier domain weighs them
        fft = frequency(out["aif"], batch["aif"])
        total, parts["fft"] = total + lam_fft * fft, float(fft.detach())
    if lam_detail > 0:  # the target's amount of fine detail where it is (an L1 on pixels settles on the smoothed mean)
        det = detail_energy(out["aif"], batch["aif"], band=detail_band)
        total, parts["detail"] = total + lam_detail * det, float(det.detach())
    return total, parts


def train_dp_deblur(cfg: DPDeblurTrainConfig, progress: bool = True) -> Path:
    """Train and save the checkpoint folder (``config.json`` + ``model.safetensors`` + ``train_log.json``);
    checkpoints every ``checkpointing_steps`` (:func:`~genrefocus.training.loop.train_loop`), each with a
    usable ``latest_model`` beside it."""
    torch.manual_seed(cfg.seed)
    real = CropSampler(dual_pixel_items(cfg.data), rotate=False) if cfg.data != "synthetic" else None
    pool, synthesis = (None if real else PhotoPool()), cfg.synthesis()

    def real_sample(rng):
        s = real.sample(rng, cfg.size)
        return {**s, "disparity": torch.zeros(1, 1, cfg.size, cfg.size), "disparity_known": torch.zeros(1, 1, 1, 1)}

    def batch(rng):
        items = [real_sample(rng) if real else
                 synthetic_dp_sample(pool, rng, cfg.size, synthesis)
                 for _ in range(cfg.batch_size)]
        return {k: torch.cat([it[k] for it in items]) for k in items[0]}

    (model,), seconds, main = train_loop(
        cfg, [DPDeblurNet(DPDeblurConfig(**cfg.model))], batch,
        lambda mods, data, step: dp_deblur_loss(mods[0], data, cfg.lam_disp, cfg.lam_fft, cfg.lam_detail,
                                                cfg.detail_band), "train DPDeblurNet", progress,
        on_checkpoint=lambda mods, out: _snapshot(mods[0], out, cfg.keep_snapshots))
    return save_result(cfg, model, seconds, main)


def _snapshot(model: DPDeblurNet, out: Path, keep: bool) -> None:
    """``latest_model`` beside the checkpoints; with ``keep``, also ``snapshots/step-N`` (N from the newest
    checkpoint) for a curve of quality against training time (``eval/dp_capacity.py``)."""
    model.save_pretrained(out / "latest_model")
    if keep:
        from .checkpoints import Checkpoints

        ck = Checkpoints(out).latest()
        model.save_pretrained(out / "snapshots" / f"step-{Checkpoints.step_of(ck):07d}")


__all__ = ["DPDeblurTrainConfig", "dp_deblur_loss", "train_dp_deblur"]
