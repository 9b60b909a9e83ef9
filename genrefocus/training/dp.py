"""Training the UiD dual-pixel model (``accelerate launch training/train_dp.py``).

Data sources (``DPTrainConfig.sources``; each step draws its whole batch from one of them):

* ``"scene_lab"`` — exact DP pairs of random scene-lab scenes (left / right half apertures), the AIF,
  the signed CoC, and an exact full-aperture render focused on a random (visible) plane with that
  plane's mask as the refocus target;
* ``"aif_depth:<manifest.jsonl>"`` — DP synthesis from AIF + depth (:func:`dp_from_aif`, half-disk
  apertures through the occlusion-aware layered renderer) on the records of a manifest with ``aif``
  and ``depth`` (metres) — e.g. the output of ``genrefocus-data synthetic``; the refocus target is the
  layered full-aperture render at another focus;
* ``"dpdd:<root>"`` — real Canon DP captures of DPDD (``{split}_l``/``_r`` sources, ``_c`` target);
  no CoC or refocus supervision there.

AdamW (3e-4), cosine schedule with linear warmup, the UiD losses (+ our disparity and refocus terms).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from tqdm.auto import tqdm

from ..errors import InputError
from .checkpoints import Checkpoints, number_problems
from ..models.dp_losses import uid_loss
from ..models.dp_model import UiDConfig, UiDModel
from ..optics.dp_disparity import HALF_DISK_DISPARITY, dp_disparity_factor
from ..optics.render import render_bokeh
from ..optics.scene_lab import make_scene

COC_SCALE = 4.0  # the CoC target is c / COC_SCALE (px)
_TEXTURES = [("brick", "coffee", "chelsea"), ("grass", "astronaut", "rocket"), ("gravel", "cat", "coffee")]


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
    sources: tuple = ("scene_lab",)            # see the module doc
    scene_cache: int = 0          # > 0: render this many scene-lab samples once, reuse them with flips
    spacing_px: float = 1.0       # scene-lab aperture sample spacing for training renders
    softness_max: float = 0.0     # smooth DP photodiode split τ ∈ [0, softness_max] (0: hard halves)
    log_every: int = 50
    lam_disp: float = 0.5     # auxiliary disparity supervision (ours; 0 = the paper's losses only)
    lam_refocus: float = 1.0  # refocus term (ours; 0 = the paper's losses only)
    init_from: Optional[str] = None  # continue from a checkpoint folder's weights
    checkpointing_steps: int = 500   # 0: no checkpoints
    checkpoints_total_limit: Optional[int] = 2
    resume_from_checkpoint: Optional[str] = None  # "latest" or a checkpoint folder

    def __post_init__(self):
        problems = number_problems(self, {"steps": 1, "batch_size": 1, "size": 32, "warmup": 0, "scene_cache": 0,
                                          "log_every": 1, "checkpointing_steps": 0, "seed": 0},
                                   positive=("learning_rate", "spacing_px"),
                                   nonnegative=("softness_max", "lam_disp", "lam_refocus"))
        kr = tuple(self.k_range)
        if not (len(kr) == 2 and all(math.isfinite(float(v)) for v in kr) and 0 <= kr[0] < kr[1]):
            problems.append(f"k_range: need 0 ≤ K_min < K_max, got {self.k_range!r}")
        if self.checkpoints_total_limit is not None and self.checkpoints_total_limit < 1:
            problems.append(f"checkpoints_total_limit: ≥ 1 or None, got {self.checkpoints_total_limit}")
        if self.init_from and not (Path(self.init_from) / "config.json").is_file():
            problems.append(f"init_from: {self.init_from!r} is not a checkpoint folder (no config.json)")
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
        if problems:
            raise InputError("DP training config", "; ".join(problems))


def _batch(items: list) -> dict:
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
        from ..data.readers import dpdd_dual_pixel
        from .data import read_manifest

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


def dp_step_loss(model, batch: dict, lam_disp: float = 0.5, lam_refocus: float = 1.0):
    """The training loss of one batch (``uid_loss`` with the ground-truth AIF reblurred)."""
    core = model.module if hasattr(model, "module") else model
    D = core.config.max_disp
    coc = batch["coc"]
    refocus = lam_refocus > 0 and batch["target"] is not None
    out = model(batch["left"], batch["right"], sharp=batch["aif"], focus_mask=batch["mask"] if refocus else None)
    return uid_loss(out, batch["aif"], batch["blurry"], None if coc is None else coc / COC_SCALE,
                    disparity_true=None if coc is None else (batch.get("dp_factor", HALF_DISK_DISPARITY) * coc).clamp(-D, D),
                    lam_disp=lam_disp, refocus_target=batch["target"] if refocus else None,
                    lam_refocus=lam_refocus)


def train_dp(cfg: DPTrainConfig, progress: bool = True) -> Path:
    """Train and save the checkpoint folder (``config.json`` + ``model.safetensors`` + ``train_log.json``).

    Checkpoints (model, optimizer, LR schedule, every RNG — torch, NumPy, the data stream — step and
    log) every ``checkpointing_steps``, written atomically (:mod:`genrefocus.training.checkpoints`);
    ``resume_from_checkpoint="latest"`` continues exactly where an interrupted run stopped.
    """
    from accelerate import Accelerator

    acc = Accelerator(cpu=not torch.cuda.is_available())
    torch.manual_seed(cfg.seed)
    if cfg.init_from:
        model = UiDModel.from_pretrained(cfg.init_from).train()
        cfg.model = asdict(model.config)
    else:
        model = UiDModel(UiDConfig(**cfg.model))
    data = DPBatches(cfg.sources, cfg.size, cfg.k_range, cfg.scene_cache, cfg.spacing_px, cfg.seed,
                     progress and acc.is_main_process, cfg.softness_max)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate)

    def schedule(step):
        if step < cfg.warmup:
            return (step + 1) / cfg.warmup
        t = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, t)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
    model, opt = acc.prepare(model, opt)
    acc.register_for_checkpointing(sched)
    rng = np.random.default_rng([cfg.seed, acc.process_index])
    out = Path(cfg.output_dir)
    checkpoints = Checkpoints(out)
    if acc.is_main_process:
        checkpoints.remove_orphans()
    log, start = [], 0
    ck = checkpoints.resolve(cfg.resume_from_checkpoint)
    if ck is not None:
        acc.load_state(str(ck))
        start = Checkpoints.step_of(ck)
        rng.bit_generator.state = json.loads((ck / f"data_rng_{acc.process_index}.json").read_text())
        log = json.loads((ck / "log.json").read_text())
        acc.print(f"resumed from {ck} at step {start}")

    def write_checkpoint(folder: Path) -> None:
        acc.save_state(str(folder))
        (folder / f"data_rng_{acc.process_index}.json").write_text(json.dumps(rng.bit_generator.state))
        if acc.is_main_process:
            (folder / "log.json").write_text(json.dumps(log))

    bar = tqdm(range(start, cfg.steps), desc="train UiD", initial=start, total=cfg.steps,
               disable=not progress or not acc.is_main_process)
    for step in bar:
        batch = {k: (v.to(acc.device) if v is not None else None) for k, v in data(rng, cfg.batch_size).items()}
        total, parts = dp_step_loss(model, batch, cfg.lam_disp, cfg.lam_refocus)
        opt.zero_grad()
        acc.backward(total)
        acc.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % cfg.log_every == 0 or step == cfg.steps - 1:
            log.append({"step": step, "loss": float(total.detach()), **parts})
            bar.set_postfix(loss=f"{float(total.detach()):.4f}")
        done = step + 1
        if cfg.checkpointing_steps and done % cfg.checkpointing_steps == 0 and done < cfg.steps:
            checkpoints.save(done, write_checkpoint, cfg.checkpoints_total_limit, acc.is_main_process,
                             acc.wait_for_everyone)
    if acc.is_main_process:
        folder = acc.unwrap_model(model).save_pretrained(out)
        _write_text_atomic(out / "train_log.json", json.dumps({"config": asdict(cfg), "log": log}, indent=2,
                                                              default=list))
        return folder
    return out


def _write_text_atomic(path: Path, text: str) -> None:
    import os

    tmp = path.with_name(f".tmp-{path.name}")
    tmp.write_text(text)
    os.replace(tmp, path)
