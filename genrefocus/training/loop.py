"""The training loop shared by the CPU trainers (DPDeblurNet, JDRL, UiD): AdamW with linear warmup and
a cosine decay to 1 % (:func:`warmup_cosine`), accelerate, crash-safe checkpoints with exact resume —
model(s), optimizer, schedule, the data RNG and the elapsed time — and a ``loss.jsonl`` that never
repeats a step (:mod:`genrefocus.training.checkpoints`)."""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, ClassVar, Optional, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from ..data.real_pairs import parse_spec
from .checkpoints import Checkpoints, append_log, resume_problems, truncate_log
from .config import Config, at_least, positive


@dataclass
class LoopConfig(Config):
    """The fields :func:`train_loop` uses; each CPU trainer's config extends it (and sets its own
    defaults). ``data``: ``"synthetic"`` or a ``SOURCE:ROOT`` spec (:mod:`genrefocus.data.real_pairs`;
    ``DATA_SOURCES`` lists a trainer's); ``init_from``: a model folder to start from (its config must match
    ``model``)."""

    output_dir: str = "runs/train"
    steps: int = 1000
    batch_size: int = 4
    size: int = 96
    learning_rate: float = 1e-3
    warmup: int = 100
    seed: int = 0
    model: dict = field(default_factory=dict)
    log_every: int = 25
    checkpointing_steps: int = 250
    checkpoints_total_limit: Optional[int] = 2
    resume_from_checkpoint: Optional[str] = None
    init_from: Optional[str] = None
    data: str = "synthetic"

    DATA_SOURCES: ClassVar[tuple] = ()
    RULES: ClassVar[dict] = {
        "steps": at_least(1), "batch_size": at_least(1), "size": at_least(32), "learning_rate": positive(),
        "warmup": at_least(0), "seed": at_least(0), "log_every": at_least(1), "checkpointing_steps": at_least(0),
        "checkpoints_total_limit": at_least(1)}
    HELP: ClassVar[dict] = {
        "output_dir": "run folder (checkpoints, loss.jsonl, the final model)", "steps": "optimizer steps",
        "size": "training crop side (px)", "warmup": "linear warm-up steps before the cosine decay",
        "checkpointing_steps": "checkpoint every N steps (0: never)",
        "resume_from_checkpoint": "'latest' or a checkpoint folder: continue a run exactly",
        "init_from": "start from this model folder's weights (fine-tuning), fresh optimizer and schedule",
        "data": "synthetic, or real pairs as SOURCE:ROOT"}

    def extra_problems(self) -> list:
        problems = []
        if self.data != "synthetic":
            problems += parse_spec(self.data, self.DATA_SOURCES) if self.DATA_SOURCES else \
                [f"data: this trainer learns from synthetic data only, got {self.data!r}"]
        problems += resume_problems(self.resume_from_checkpoint)
        if self.init_from and not (Path(self.init_from) / "model.safetensors").is_file():
            problems.append(f"init_from: a model folder with model.safetensors, got {self.init_from!r}")
        return problems


def warmup_cosine(steps: int, warmup: int, floor: float = 0.01) -> Callable[[int], float]:
    """LR factor per step: linear warmup over ``warmup`` steps, then cosine from 1 to ``floor``."""
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        t = (step - warmup) / max(1, steps - warmup)
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, t)))
    return factor


def train_loop(cfg, modules: Sequence[torch.nn.Module], batch: Callable, loss: Callable, desc: str,
               progress: bool = True, on_checkpoint: Callable | None = None) -> tuple:
    """Run ``cfg.steps`` steps (``cfg`` has the fields of :func:`loop_config` plus ``warmup``,
    ``log_every``, ``checkpoints_total_limit``; with ``init_from`` the first module starts from that model
    folder's weights unless a checkpoint is resumed).

    ``batch(rng)`` draws one batch (dict of tensors; None for a target the batch lacks) from the data RNG; ``loss(modules, batch, step)``
    returns ``(total, parts)`` with the prepared modules; ``on_checkpoint(modules, out)`` runs after each
    checkpoint. Returns ``(unwrapped modules, seconds, is_main_process)``; the caller saves the result."""
    from ..errors import require

    Accelerator = require("accelerate", "train", "training").Accelerator
    acc = Accelerator(cpu=not torch.cuda.is_available())
    if getattr(cfg, "init_from", None) and cfg.resume_from_checkpoint is None:
        init_weights(modules[0], cfg.init_from)
    params = [p for m in modules for p in m.parameters()]
    opt = torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, warmup_cosine(cfg.steps, cfg.warmup))
    *modules, opt = acc.prepare(*modules, opt)
    acc.register_for_checkpointing(sched)
    rng = np.random.default_rng([cfg.seed, acc.process_index])
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    checkpoints = Checkpoints(out)
    if acc.is_main_process:
        checkpoints.remove_orphans()
    start, elapsed = 0, 0.0
    ck = checkpoints.resolve(cfg.resume_from_checkpoint)
    if ck is not None:
        acc.load_state(str(ck))
        start = Checkpoints.step_of(ck)
        state = json.loads((ck / f"data_rng_{acc.process_index}.json").read_text())
        rng.bit_generator.state, elapsed = state["rng"], state["elapsed"]
        truncate_log(out / "loss.jsonl", start - 1)
        acc.print(f"resumed from {ck} at step {start}")
    elif acc.is_main_process:
        truncate_log(out / "loss.jsonl", -1)  # a fresh start: no steps of an earlier run in the log
    if acc.is_main_process:
        record_segment(out, start)
    t0 = time.time() - elapsed

    def write_checkpoint(folder: Path) -> None:
        acc.save_state(str(folder))
        (folder / f"data_rng_{acc.process_index}.json").write_text(
            json.dumps({"rng": rng.bit_generator.state, "elapsed": time.time() - t0}))

    bar = tqdm(range(start, cfg.steps), desc=desc, initial=start, total=cfg.steps,
               disable=not progress or not acc.is_main_process)
    for step in bar:
        data = {k: (None if v is None else v.to(acc.device)) for k, v in batch(rng).items()}
        total, parts = loss(modules, data, step)
        opt.zero_grad()
        acc.backward(total)
        acc.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        if acc.is_main_process and (step % cfg.log_every == 0 or step == cfg.steps - 1):
            append_log(out / "loss.jsonl", {"step": step, "loss": float(total.detach()), **parts,
                                            "lr": sched.get_last_lr()[0], "seconds": round(time.time() - t0, 1)})
            bar.set_postfix(loss=f"{float(total.detach()):.4f}")
        done = step + 1
        if cfg.checkpointing_steps and done % cfg.checkpointing_steps == 0 and done < cfg.steps:
            checkpoints.save(done, write_checkpoint, cfg.checkpoints_total_limit, acc.is_main_process,
                             acc.wait_for_everyone)
            if on_checkpoint is not None and acc.is_main_process:
                on_checkpoint([acc.unwrap_model(m) for m in modules], out)
    return [acc.unwrap_model(m) for m in modules], time.time() - t0, acc.is_main_process


def _command() -> Optional[str]:
    """This process's command line (None when not run as a script)."""
    import sys

    return "python " + " ".join(sys.argv) if sys.argv and sys.argv[0] else None


def record_segment(out: Path, start: int) -> None:
    """Append this process's segment (command, machine, first step, start time) to ``segments.jsonl``;
    segments that began at or after ``start`` are dropped first (their steps were discarded by resuming
    from an earlier checkpoint), so the file lists the segments whose steps make up the run."""
    from datetime import datetime, timezone

    from ..benchmark import machine

    path = out / "segments.jsonl"
    truncate_log(path, start - 1, key="from_step")
    append_log(path, {"from_step": start, "command": _command(),
                      "machine": machine(), "started": datetime.now(timezone.utc).isoformat(timespec="seconds")})


def segments(out: Path, steps: int) -> list:
    """The run's segments from ``segments.jsonl`` with ``to_step`` (exclusive) filled in."""
    path = out / "segments.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.is_file() else []
    for row, nxt in zip(rows, rows[1:] + [None]):
        row["to_step"] = nxt["from_step"] if nxt else steps
    return rows


def init_weights(model: torch.nn.Module, folder) -> None:
    """Load ``folder/model.safetensors`` into ``model`` (strict: same architecture, e.g. the shipped model's
    ``config.json`` fields given to the trainer)."""
    from safetensors.torch import load_file

    from ..errors import InputError

    try:
        model.load_state_dict(load_file(str(Path(folder) / "model.safetensors")))
    except (OSError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError("init_from", f"{str(folder)!r} does not fit this model ({first}); give the trainer the "
                                      "folder's config.json fields (e.g. --width)") from None


def save_result(cfg, model, seconds: float, is_main: bool) -> Path:
    """The finished run: ``model.save_pretrained(output_dir)`` and ``train_log.json``
    (:func:`write_train_log`)."""
    out = Path(cfg.output_dir)
    if is_main:
        model.save_pretrained(out)
        write_train_log(cfg, seconds)
    return out


def lineage(init_from, steps: int, seconds: float) -> dict:
    """What a run started from another model folder owes to it: ``initialised_from`` (that folder's
    ``train_log.json``), ``total_steps`` and ``total_seconds`` (its totals — or own steps and seconds — plus
    this run's). Empty without ``init_from`` or when that folder has no train log."""
    log = Path(init_from) / "train_log.json" if init_from else None
    if log is None or not log.is_file():
        return {}
    prev = json.loads(log.read_text())
    return {"initialised_from": prev, "total_steps": int(prev.get("total_steps", prev.get("steps", 0))) + int(steps),
            "total_seconds": round(float(prev.get("total_seconds", prev.get("seconds", 0.0))) + float(seconds), 1)}


def write_train_log(cfg, seconds: float, **extra) -> Path:
    """``output_dir/train_log.json``: the command line, machine, steps, batch, size, wall time, the mean
    of each logged loss term over the first and the last 10 % of the steps (from ``loss.jsonl``), the
    full config, the log itself, the run's segments (one per start or resume: command, machine, steps), its
    :func:`lineage` when it started from a model folder, and ``extra`` fields (e.g. a note)."""
    from dataclasses import asdict

    from ..benchmark import machine
    from ..io import atomic_write

    out = Path(cfg.output_dir)
    log = []
    if (out / "loss.jsonl").is_file():
        log = [json.loads(line) for line in (out / "loss.jsonl").read_text().splitlines() if line.strip()]
    span = max(1, cfg.steps // 10)

    def means(lo, hi):
        rows = [r for r in log if lo <= r["step"] < hi]
        keys = [k for k in (rows[0] if rows else {}) if k not in ("step", "lr", "seconds")]
        return {k: round(float(np.mean([r[k] for r in rows if k in r])), 5) for k in keys}

    record = {"command": _command(),
              "machine": machine(), "steps": cfg.steps, "batch_size": cfg.batch_size, "size": cfg.size,
              "seconds": round(seconds, 1), f"loss_mean_steps_0_{span - 1}": means(0, span),
              f"loss_mean_steps_{cfg.steps - span}_{cfg.steps - 1}": means(cfg.steps - span, cfg.steps),
              "segments": segments(out, cfg.steps),
              **lineage(getattr(cfg, "init_from", None), cfg.steps, seconds), **extra, "config": asdict(cfg), "log": log}
    text = json.dumps(record, indent=1, default=list)
    return atomic_write(out / "train_log.json", lambda tmp: Path(tmp).write_text(text))


__all__ = ["LoopConfig", "init_weights", "lineage", "save_result", "train_loop", "warmup_cosine", "write_train_log"]
