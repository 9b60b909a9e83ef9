"""Training JDRL's deblurring model from misaligned pairs (paper 004; ``training/train_jdrl.py``).

* Data (:func:`misaligned_pair`): a sharp crop (scikit-image photos, as the DP trainer), defocused by
  the layered renderer with a smooth random CoC field (radius up to ``coc_max`` px) plus sensor noise
  (and, for a ``palette`` fraction, a GIF palette, with ``dither`` as the shared frames) → the blurry
  input; the ground truth is the sharp crop **moved** (Lanczos-4) by a small random homography and a
  smooth flow field, with an exposure/colour shift — the misalignment of real pairs. The aligned sharp
  crop is kept for evaluation only (the ablation measures against it).
* Losses (:func:`jdrl_loss`): ``L_D`` — Charbonnier between Î and the ground truth warped onto it
  (flow ``I_S → Î``) and between the ground truth and Î warped onto it (the reverse flow: cycle
  deformation), each under its calibration mask (Eq. 6, λ = 0.35), the warps bilinear as in the official
  code or, with ``warp="sharp"``, Lanczos-4 for the ground truth and bicubic for Î (a bilinear warp is a
  low-pass the model would learn to reproduce); for the first
  ``flow_warmup_steps`` the flow is computed against the blurry input (Î is uninformative then, as
  the paper's first T epochs); ``L_R`` — Charbonnier between the input and the reblurred Î; ``L_P`` —
  Charbonnier between ``B̂`` and the pseudo map ``B_P`` (held fixed); total ``L_D + α·L_R + β·L_P``,
  α = β = 0.5 (Eq. 2). Not in the paper, off by default: ``lam_fft`` (a Fourier-domain L1) and ``lam_detail``
  (the truth's local Laplacian energy, on ``detail_band``, and with ``detail_coc_max`` only where the
  synthetic pair's blur is small enough for that detail to be recovered). ``loss="l1"`` is the ablation's
  variant #1: plain L1 against the misaligned ground truth, no reblurring module.
* Real pairs (``data="dpdd:ROOT"``, ``"realdof:ROOT"``, ``"sdd:ROOT"``; :mod:`.real_pairs`): the same
  command trains or fine-tunes (``init_from``) on a dataset on disk — the misalignment is then the
  real one, which is what the JDRL losses are for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from ..data.misaligned import misaligned_pair
from ..data.photos import PhotoPool
from ..data.real_pairs import DEBLUR_SOURCES, CropSampler, deblur_items
from ..models.jdrl import JDRLConfig, JDRLDeblur
from ..models.jdrl_reblur import Reblur, calibration_mask, pseudo_defocus_map
from ..models.losses import charbonnier, detail_energy, frequency
from ..perception.flow import OpenCVFlow, warp
from .config import at_least, fraction, nonnegative, one_of, positive
from .loop import LoopConfig, save_result, train_loop

#: the loss's two warps per ``JDRLTrainConfig.warp``: (the ground truth onto Î, Î onto the ground truth)
LOSS_WARPS = {"bilinear": ("bilinear", "bilinear"), "sharp": ("lanczos", "bicubic")}


@dataclass
class JDRLTrainConfig(LoopConfig):
    output_dir: str = "runs/jdrl"
    steps: int = 2000
    learning_rate: float = 5e-4
    warmup: int = 50
    data: str = "synthetic"       # or "dpdd:ROOT" / "realdof:ROOT" / "sdd:ROOT" (training.real_pairs)
    loss: str = "jdrl"            # "jdrl" (Eq. 2) or "l1" (the ablation's plain L1)
    coc_max: float = 8.0
    shift_max: float = 2.0        # px of misalignment (homography translation; the smooth field adds ≤ 1 px)
    palette: float = 0.0          # fraction of inputs through a GIF palette (misaligned_pair)
    dither: bool = False          # that palette with Floyd–Steinberg dithering (as the shared Canon frames)
    flow: str = "dis"
    flow_warmup_steps: int = 200
    alpha: float = 0.5
    beta: float = 0.5
    lam: float = 0.35
    warp: str = "bilinear"        # the loss's warps: "bilinear" (the official code's) or "sharp"
    lam_fft: float = 0.0          # weight of a Fourier-domain L1 added to L_D (not in the paper's Eq. 2)
    fft: str = "complex"          # that term on the coefficients ("complex", MIMO-UNet's) or magnitudes ("amplitude")
    lam_detail: float = 0.0       # weight of a local Laplacian-energy L1 added to L_D (not in the paper's Eq. 2)
    detail_band: str = "full"     # that term on the images ("full") or after a [1, 2, 1] binomial ("binomial": no grid)
    detail_coc_max: float = 0.0   # that term only where the pair's CoC radius ≤ this (px; 0: everywhere)

    model: dict = field(default_factory=lambda: {"width": 16, "backbone": "unet", "blocks": 1})

    WHAT = "JDRL training config"
    MODEL_CONFIG = JDRLConfig
    DATA_SOURCES = DEBLUR_SOURCES
    RULES = {**LoopConfig.RULES, "flow_warmup_steps": at_least(0), "coc_max": positive(),
             "shift_max": nonnegative(), "palette": fraction(), "alpha": nonnegative(), "beta": nonnegative(),
             "lam": nonnegative(), "loss": one_of("jdrl", "l1"), "warp": one_of(*LOSS_WARPS),
             "flow": one_of("dis", "farneback"), "lam_fft": nonnegative(), "fft": one_of("complex", "amplitude"),
             "lam_detail": nonnegative(), "detail_band": one_of("full", "binomial"),
             "detail_coc_max": nonnegative()}
    HELP = {**LoopConfig.HELP, "loss": "jdrl (Eq. 2) or l1 (the ablation's plain L1)",
            "coc_max": "largest CoC radius of the synthetic pairs (px)",
            "shift_max": "misalignment of the synthetic pairs (px)",
            "palette": "fraction of synthetic inputs stored through a 256-colour GIF palette",
            "dither": "that palette with Floyd–Steinberg dithering, as the shared Canon frames are stored",
            "flow": "optical flow: dis or farneback",
            "flow_warmup_steps": "steps with the flow computed against the blurry input",
            "alpha": "weight of the reblurring loss L_R", "beta": "weight of the defocus-map loss L_P",
            "lam": "calibration mask tolerance λ (Eq. 6)",
            "warp": "the loss's warps: bilinear (the official code's) or sharp (the ground truth moved with "
                    "Lanczos-4, the output bicubically: less low-pass on what the model is held to)",
            "lam_fft": "weight of a Fourier-domain L1 between Î and the moved ground truth under the calibration "
                       "mask, added to L_D (0: the paper's Eq. 2)",
            "fft": "that term on the complex coefficients (MIMO-UNet's) or on their magnitudes (amplitude: "
                   "blind to residual misalignment)",
            "lam_detail": "weight of an L1 between the local RMS Laplacians (9×9 windows) of Î and the moved ground "
                          "truth, weighted by the calibration mask, added to L_D (0: the paper's Eq. 2)",
            "detail_band": "that term on the images (full) or after a [1, 2, 1] binomial filter (binomial: blind to "
                           "the Nyquist frequency, so a pixel-scale grid earns nothing)",
            "detail_coc_max": "that term only where the synthetic pair's CoC radius is at most this (px; 0: "
                              "everywhere): past it the blur has erased the detail, and the only way to match the "
                              "truth's energy there is to invent texture",
            "data": "synthetic, or real pairs dpdd:ROOT, realdof:ROOT, sdd:ROOT"}

    def extra_problems(self) -> list:
        problems = super().extra_problems()
        if self.detail_coc_max > 0 and self.data != "synthetic":
            problems.append(f"detail_coc_max: needs synthetic pairs (real pairs carry no CoC map), got data "
                            f"{self.data!r}")
        return problems


def jdrl_loss(model: JDRLDeblur, reblur: Optional[Reblur], batch: dict, flow, cfg: JDRLTrainConfig,
              step: int) -> tuple:
    """Eq. 2 (``cfg.loss == "jdrl"``) or plain L1 against the misaligned target (``"l1"``)."""
    out = model(batch["blurry"])
    sharp, target, earlier = out["sharp"], batch["target"], out.get("stages", [])   # stages: MPRNet's
    if cfg.loss == "l1":
        loss = sum([(s - target).abs().mean() for s in earlier], (sharp - target).abs().mean())
        return loss, {"l1": float(loss.detach())}
    ref = batch["blurry"] if step < cfg.flow_warmup_steps else sharp.detach()
    f1 = flow(ref, target)                      # target(p + f1) ≈ Î: the ground truth moved onto Î
    truth_mode, output_mode = LOSS_WARPS[cfg.warp]
    target_w, m1 = warp(target, f1, truth_mode), calibration_mask(f1, cfg.lam)
    f2 = flow(target, ref)                      # Î(p + f2) ≈ target: Î moved onto the ground truth
    sharp_w, m2 = warp(sharp, f2, output_mode), calibration_mask(f2, cfg.lam)
    l_d = charbonnier(m1 * sharp, m1 * target_w) + charbonnier(m2 * target, m2 * sharp_w)
    l_d = l_d + sum(charbonnier(m1 * s, m1 * target_w) for s in earlier)   # each earlier stage vs the moved truth
    parts = {}
    if cfg.lam_fft > 0:   # Cho et al. 2021: blur removes high frequencies; a Fourier-domain L1 weighs them
        l_f = frequency(m1 * sharp, m1 * target_w, amplitude=cfg.fft == "amplitude")
        l_d, parts["l_fft"] = l_d + cfg.lam_fft * l_f, float(l_f.detach())
    if cfg.lam_detail > 0:   # the truth's amount of fine detail where it is, not its phase
        w = m1 * (batch["coc"] <= cfg.detail_coc_max) if cfg.detail_coc_max > 0 else m1   # where it is recoverable
        l_e = detail_energy(sharp, target_w, w, band=cfg.detail_band)
        l_d, parts["l_detail"] = l_d + cfg.lam_detail * l_e, float(l_e.detach())
    r = reblur(sharp, batch["blurry"])
    l_r = charbonnier(batch["blurry"], r["reblurred"])
    l_p = charbonnier(out["defocus"], pseudo_defocus_map(r["weights"], r["seeds"]).detach())
    loss = l_d + cfg.alpha * l_r + cfg.beta * l_p
    return loss, {"l_d": float(l_d.detach()), "l_r": float(l_r.detach()), "l_p": float(l_p.detach()),
                  "mask": float(m1.mean()), **parts}


def train_jdrl(cfg: JDRLTrainConfig, progress: bool = True) -> Path:
    """Train and save ``config.json`` + ``model.safetensors`` (the deblurring model F; the reblurring
    module is training-only and kept in the checkpoints) + ``train_log.json``."""
    torch.manual_seed(cfg.seed)
    real = CropSampler(deblur_items(cfg.data)) if cfg.data != "synthetic" else None
    pool, flow = (None if real else PhotoPool()), OpenCVFlow(cfg.flow)
    modules = [JDRLDeblur(JDRLConfig(**cfg.model))] + ([Reblur(nf=16, blocks=2)] if cfg.loss == "jdrl" else [])

    def batch(rng):
        items = [real.sample(rng, cfg.size) if real else
                 misaligned_pair(pool, rng, cfg.size, cfg.coc_max, cfg.shift_max, cfg.palette, cfg.dither)
                 for _ in range(cfg.batch_size)]
        return {k: torch.cat([it[k] for it in items]) for k in ("blurry", "target", "coc") if k in items[0]}

    def loss(mods, data, step):
        return jdrl_loss(mods[0], mods[1] if len(mods) > 1 else None, data, flow, cfg, step)

    (model, *_), seconds, main = train_loop(cfg, modules, batch, loss, f"train JDRL ({cfg.loss})", progress)
    return save_result(cfg, model, seconds, main)


__all__ = ["JDRLTrainConfig", "LOSS_WARPS", "jdrl_loss", "train_jdrl"]
