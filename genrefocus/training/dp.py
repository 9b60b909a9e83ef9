"""Training the UiD dual-pixel model (``accelerate launch training/train_dp.py``).

Data: exact dual-pixel pairs from random scene-lab scenes (left/right half apertures, AIF, signed
CoC), generated on the fly with random depths, K and focus plane; or DP synthesis from AIF + depth
(:func:`dp_from_aif`). AdamW (3e-4), cosine schedule with linear warmup, the UiD losses.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from ..models.dp_losses import HALF_DISK_DISPARITY, uid_loss
from ..models.dp_model import UiDConfig, UiDModel
from ..optics.render import render_bokeh
from ..optics.scene_lab import make_scene

COC_SCALE = 4.0  # the CoC target is c / COC_SCALE (px)


@dataclass
class DPTrainConfig:
    output_dir: str = "runs/uid"
    steps: int = 2000
    batch_size: int = 4
    size: int = 64
    learning_rate: float = 3e-4
    warmup: int = 100
    k_range: tuple = (2.0, 6.0)
    seed: int = 0
    model: dict = field(default_factory=dict)  # UiDConfig fields
    log_every: int = 50
    lam_disp: float = 0.5  # auxiliary disparity supervision (ours; 0 = the paper's losses only)


def scene_lab_dp_batch(rng: np.random.Generator, n: int, size: int, k_range=(2.0, 6.0)):
    """``(left, right, aif, blurry, coc)`` batches of exact DP pairs from random scenes."""
    textures = [("brick", "coffee", "chelsea"), ("grass", "astronaut", "rocket"), ("gravel", "cat", "coffee")]
    out = [[] for _ in range(5)]
    for _ in range(n):
        depths = sorted(rng.uniform(0.8, 8.0, 3), reverse=True)
        sc = make_scene((size, size), depths_m=tuple(depths), seed=int(rng.integers(1 << 30)),
                        textures=textures[int(rng.integers(len(textures)))])
        K = float(rng.uniform(*k_range))
        df = sc.planes[int(rng.integers(len(sc.planes)))].disparity
        left, right = sc.dual_pixel(K, df)
        coc = K * (sc.disparity() - df)
        for lst, t in zip(out, (left, right, sc.aif(), (left + right) / 2, coc)):
            lst.append(t)
    return [torch.cat(x) for x in out]


def dp_from_aif(aif: torch.Tensor, disparity: torch.Tensor, K: float, focus: float, gamma=4.0):
    """DP pair from AIF + disparity (no layers): left/right half-disk apertures (swapped in front of
    the focal plane by the renderer's physical flip), ``B = (L + R)/2`` in linear light."""
    from ..optics.apertures import RasterAperture

    yy, xx = np.mgrid[-64:65, -64:65]
    disk = (yy ** 2 + xx ** 2) <= 64 ** 2
    left_ap = RasterAperture(disk & (xx <= 0), name="left half")
    right_ap = RasterAperture(disk & (xx >= 0), name="right half")
    coc = K * (disparity - focus)
    left = render_bokeh(aif, coc, mode="layered", aperture=left_ap, flip_front=True, gamma=gamma)
    right = render_bokeh(aif, coc, mode="layered", aperture=right_ap, flip_front=True, gamma=gamma)
    return left, right


def train_dp(cfg: DPTrainConfig, progress: bool = True) -> Path:
    """Train and save the checkpoint folder (``config.json`` + ``model.safetensors``) under ``output_dir``."""
    from accelerate import Accelerator

    acc = Accelerator(cpu=not torch.cuda.is_available())
    torch.manual_seed(cfg.seed)
    model = UiDModel(UiDConfig(**cfg.model))
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate)

    def schedule(step):
        if step < cfg.warmup:
            return (step + 1) / cfg.warmup
        t = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, t)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
    model, opt = acc.prepare(model, opt)
    rng = np.random.default_rng([cfg.seed, acc.process_index])
    out = Path(cfg.output_dir)
    log = []
    bar = tqdm(range(cfg.steps), desc="train UiD", disable=not progress or not acc.is_main_process)
    for step in bar:
        left, right, aif, blurry, coc = (t.to(acc.device) for t in scene_lab_dp_batch(rng, cfg.batch_size, cfg.size,
                                                                                      cfg.k_range))
        D = acc.unwrap_model(model).config.max_disp
        disp_true = (HALF_DISK_DISPARITY * coc).clamp(-D, D)
        total, parts = uid_loss(model(left, right), aif, blurry, coc / COC_SCALE, disparity_true=disp_true,
                                lam_disp=cfg.lam_disp)
        opt.zero_grad()
        acc.backward(total)
        opt.step()
        sched.step()
        if step % cfg.log_every == 0 or step == cfg.steps - 1:
            log.append({"step": step, "loss": float(total), **parts})
            bar.set_postfix(loss=f"{float(total):.4f}")
    if acc.is_main_process:
        folder = acc.unwrap_model(model).save_pretrained(out)
        (out / "train_log.json").write_text(json.dumps({"config": asdict(cfg), "log": log}, indent=2, default=list))
        return folder
    return out
