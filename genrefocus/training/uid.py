"""Training the legacy UiD dual-pixel model (``python training/train.py uid``).

Data sources (``UiDTrainConfig.sources``; each step draws its whole batch from one of them):

* ``"scene_lab"`` — exact DP pairs of random scene-lab scenes (left / right half apertures), the AIF,
  the signed CoC, and an exact full-aperture render focused on a random (visible) plane with that
  plane's mask as the refocus target;
* ``"aif_depth:<manifest.jsonl>"`` — DP synthesis from AIF + depth (:func:`dp_from_aif`, half-disk
  apertures through the occlusion-aware layered renderer) on the records of a manifest with ``aif``
  and ``depth`` (metres) — e.g. the output of ``genrefocus-data synthetic``; the refocus target is the
  layered full-aperture render at another focus;
* ``"dpdd:<root>"`` — real Canon DP captures of DPDD (``{split}_l``/``_r`` sources, ``_c`` target);
  no CoC or refocus supervision there.

The shared CPU loop (:func:`~genrefocus.training.loop.train_loop`: AdamW, warm-up + cosine, exact resume),
the UiD losses (+ our disparity and refocus terms).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import torch

from ..data.dp_samples import DPBatches
from ..models.losses import uid_loss
from ..models.uid import UiDConfig, UiDModel
from ..optics.dp_disparity import HALF_DISK_DISPARITY
from .config import at_least, nonnegative, positive, value_range
from .loop import LoopConfig, save_result, train_loop

COC_SCALE = 4.0  # the CoC target is c / COC_SCALE (px)


@dataclass
class UiDTrainConfig(LoopConfig):
    output_dir: str = "runs/uid"
    steps: int = 2000
    size: int = 64
    learning_rate: float = 3e-4
    log_every: int = 50
    checkpointing_steps: int = 500
    k_range: tuple = (2.0, 6.0)
    sources: tuple = ("scene_lab",)  # see the module doc
    scene_cache: int = 0             # > 0: render this many scene-lab samples once, reuse them with flips
    spacing_px: float = 1.0          # scene-lab aperture sample spacing for training renders
    softness_max: float = 0.0        # smooth DP photodiode split τ ∈ [0, softness_max] (0: hard halves)
    lam_disp: float = 0.5            # auxiliary disparity supervision (ours; 0 = the paper's losses only)
    lam_refocus: float = 1.0         # refocus term (ours; 0 = the paper's losses only)

    WHAT = "UiD training config"
    MODEL_CONFIG = UiDConfig
    RULES = {**LoopConfig.RULES, "scene_cache": at_least(0), "spacing_px": positive(), "softness_max": nonnegative(),
             "lam_disp": nonnegative(), "lam_refocus": nonnegative(), "k_range": value_range()}
    HELP: ClassVar[dict] = {**LoopConfig.HELP, "k_range": "bokeh level range K (px·m) of the samples",
                            "sources": "scene_lab | aif_depth:<manifest.jsonl> | dpdd:<root> (one per step, at random)",
                            "scene_cache": "render N scene-lab samples once and reuse them with flips",
                            "softness_max": "smooth DP split τ range (aperture radii)"}

    def extra_problems(self) -> list:
        problems = super().extra_problems()
        if not self.sources:
            problems.append("sources: at least one data source")
        for spec in self.sources:
            kind, _, arg = str(spec).partition(":")
            if kind == "scene_lab" and not arg:
                continue
            if kind == "aif_depth" and arg and not Path(arg).is_file():
                problems.append(f"sources: {spec!r}: manifest {arg!r} does not exist")
            elif kind == "dpdd" and arg and not Path(arg).is_dir():
                problems.append(f"sources: {spec!r}: folder {arg!r} does not exist")
            elif kind not in ("aif_depth", "dpdd") or not arg:
                problems.append(f"sources: unknown DP data source {spec!r} (scene_lab, aif_depth:<manifest>, "
                                "dpdd:<root>)")
        return problems


def uid_step_loss(model, batch: dict, lam_disp: float = 0.5, lam_refocus: float = 1.0):
    """The training loss of one batch (``uid_loss`` with the ground-truth AIF reblurred)."""
    core = model.module if hasattr(model, "module") else model
    D = core.config.max_disp
    coc = batch["coc"]
    refocus = lam_refocus > 0 and batch["target"] is not None
    out = model(batch["left"], batch["right"], sharp=batch["aif"], focus_mask=batch["mask"] if refocus else None)
    factor = batch.get("dp_factor")
    factor = HALF_DISK_DISPARITY if factor is None else factor
    return uid_loss(out, batch["aif"], batch["blurry"], None if coc is None else coc / COC_SCALE,
                    disparity_true=None if coc is None else (factor * coc).clamp(-D, D),
                    lam_disp=lam_disp, refocus_target=batch["target"] if refocus else None,
                    lam_refocus=lam_refocus)


def train_uid(cfg: UiDTrainConfig, progress: bool = True) -> Path:
    """Train and save the model folder (``config.json`` + ``model.safetensors`` + ``train_log.json``), with
    checkpoints and exact resume (:func:`~genrefocus.training.loop.train_loop`)."""
    torch.manual_seed(cfg.seed)
    data = DPBatches(cfg.sources, cfg.size, cfg.k_range, cfg.scene_cache, cfg.spacing_px, cfg.seed, progress,
                     cfg.softness_max)
    (model,), seconds, main = train_loop(
        cfg, [UiDModel(UiDConfig(**cfg.model))], lambda rng: data(rng, cfg.batch_size),
        lambda mods, batch, step: uid_step_loss(mods[0], batch, cfg.lam_disp, cfg.lam_refocus), "train UiD", progress)
    return save_result(cfg, model, seconds, main)


__all__ = ["UiDTrainConfig", "train_uid", "uid_step_loss"]
