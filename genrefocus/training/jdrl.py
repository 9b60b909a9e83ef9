"""Training JDRL's deblurring model from misaligned pairs (paper 004; ``training/train_jdrl.py``).

* Data (:func:`misaligned_pair`): a sharp crop (scikit-image photos, as the DP trainer), defocused by
  the layered renderer with a smooth random CoC field (radius up to ``coc_max`` px) plus sensor noise →
  the blurry input; the ground truth is the sharp crop **moved** by a small random homography and a
  smooth flow field, with an exposure/colour shift — the misalignment of real pairs. The aligned sharp
  crop is kept for evaluation only (the ablation measures against it).
* Losses (:func:`jdrl_loss`): ``L_D`` — Charbonnier between Î and the ground truth warped onto it
  (flow ``I_S → Î``) and between the ground truth and Î warped onto it (the reverse flow: cycle
  deformation), each under its calibration mask (Eq. 6, λ = 0.35); for the first
  ``flow_warmup_steps`` the flow is computed against the blurry input (Î is uninformative then, as
  the paper's first T epochs); ``L_R`` — Charbonnier between the input and the reblurred Î; ``L_P`` —
  Charbonnier between ``B̂`` and the pseudo map ``B_P`` (held fixed); total ``L_D + α·L_R + β·L_P``,
  α = β = 0.5 (Eq. 2). ``loss="l1"`` is the ablation's variant #1: plain L1 against the misaligned
  ground truth, no reblurring module.
* Real pairs (``data="dpdd:ROOT"``, ``"realdof:ROOT"``, ``"sdd:ROOT"``; :mod:`.real_pairs`): the same
  command trains or fine-tunes (``init_from``) on a dataset on disk — the misalignment is then the
  real one, which is what the JDRL losses are for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from ..errors import InputError
from ..models.jdrl import JDRLConfig, JDRLDeblur
from ..models.jdrl_reblur import Reblur, calibration_mask, charbonnier, pseudo_defocus_map
from ..optics.dp_synthesis import sensor_noise
from ..optics.render import render_bokeh
from ..perception.flow import OpenCVFlow, warp
from .dp_deblur import PhotoPool
from .loop import LoopConfig, save_result, train_loop
from .real_pairs import DEBLUR_SOURCES, CropSampler, deblur_items


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
    flow: str = "dis"
    flow_warmup_steps: int = 200
    alpha: float = 0.5
    beta: float = 0.5
    lam: float = 0.35

    def __post_init__(self):
        problems = self.loop_problems(JDRLConfig, DEBLUR_SOURCES, ints={"flow_warmup_steps": 0},
                                      positive=("coc_max",), nonnegative=("shift_max", "alpha", "beta", "lam"))
        if self.loss not in ("jdrl", "l1"):
            problems.append(f"loss: 'jdrl' or 'l1', got {self.loss!r}")
        if self.flow not in ("dis", "farneback"):
            problems.append(f"flow: 'dis' or 'farneback', got {self.flow!r}")
        if problems:
            raise InputError("JDRL training config", "; ".join(problems))


def _smooth_field(rng: np.random.Generator, size: int, amplitude: float) -> torch.Tensor:
    """A smooth random flow ``(1, 2, size, size)`` px with max |component| ≈ ``amplitude``."""
    from scipy import ndimage

    f = np.stack([ndimage.gaussian_filter(rng.standard_normal((size, size)), size / 6) for _ in range(2)])
    f = f / max(np.abs(f).max(), 1e-8) * amplitude
    return torch.from_numpy(f.astype(np.float32))[None]


def misaligned_pair(pool: PhotoPool, rng: np.random.Generator, size: int = 96, coc_max: float = 8.0,
                    shift_max: float = 2.0) -> dict:
    """``blurry``, ``target`` (misaligned sharp), ``aligned`` (the exact sharp image, for evaluation),
    each ``(1, 3, size, size)``."""
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
    target = warp(big, flow)
    gain = torch.from_numpy(rng.uniform(0.95, 1.05, 3).astype(np.float32)).view(1, 3, 1, 1)
    target = (target * gain + float(rng.uniform(-0.02, 0.02))).clamp(0, 1)
    crop = lambda t: t[..., m:m + size, m:m + size]  # noqa: E731
    return {"blurry": crop(blurry), "target": crop(target), "aligned": crop(big)}


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
    target_w, m1 = warp(target, f1), calibration_mask(f1, cfg.lam)
    f2 = flow(target, ref)                      # Î(p + f2) ≈ target: Î moved onto the ground truth
    sharp_w, m2 = warp(sharp, f2), calibration_mask(f2, cfg.lam)
    l_d = charbonnier(m1 * sharp, m1 * target_w) + charbonnier(m2 * target, m2 * sharp_w)
    l_d = l_d + sum(charbonnier(m1 * s, m1 * target_w) for s in earlier)   # each earlier stage vs the moved truth
    r = reblur(sharp, batch["blurry"])
    l_r = charbonnier(batch["blurry"], r["reblurred"])
    l_p = charbonnier(out["defocus"], pseudo_defocus_map(r["weights"], r["seeds"]).detach())
    loss = l_d + cfg.alpha * l_r + cfg.beta * l_p
    return loss, {"l_d": float(l_d.detach()), "l_r": float(l_r.detach()), "l_p": float(l_p.detach()),
                  "mask": float(m1.mean())}


def train_jdrl(cfg: JDRLTrainConfig, progress: bool = True) -> Path:
    """Train and save ``config.json`` + ``model.safetensors`` (the deblurring model F; the reblurring
    module is training-only and kept in the checkpoints) + ``train_log.json``."""
    torch.manual_seed(cfg.seed)
    real = CropSampler(deblur_items(cfg.data)) if cfg.data != "synthetic" else None
    pool, flow = (None if real else PhotoPool()), OpenCVFlow(cfg.flow)
    modules = [JDRLDeblur(JDRLConfig(**cfg.model))] + ([Reblur(nf=16, blocks=2)] if cfg.loss == "jdrl" else [])

    def batch(rng):
        items = [real.sample(rng, cfg.size) if real else
                 misaligned_pair(pool, rng, cfg.size, cfg.coc_max, cfg.shift_max) for _ in range(cfg.batch_size)]
        return {k: torch.cat([it[k] for it in items]) for k in ("blurry", "target")}

    def loss(mods, data, step):
        return jdrl_loss(mods[0], mods[1] if len(mods) > 1 else None, data, flow, cfg, step)

    (model, *_), seconds, main = train_loop(cfg, modules, batch, loss, f"train JDRL ({cfg.loss})", progress)
    return save_result(cfg, model, seconds, main)


__all__ = ["JDRLTrainConfig", "jdrl_loss", "misaligned_pair", "train_jdrl"]
