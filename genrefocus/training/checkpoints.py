"""Crash-safe training checkpoints shared by every trainer (LoRA, UiD, JDRL).

* A checkpoint is written into ``.tmp-checkpoint-<step>`` and renamed to ``checkpoint-<step>`` only
  when complete (its ``step.json`` is the last file written), so a kill during the write leaves no
  folder that looks finished.
* ``latest`` is the newest *complete* checkpoint; half-written folders are ignored and removed.
* Old checkpoints are pruned only after the new one is complete (``checkpoints_total_limit``).
* The per-step log (``loss.jsonl``) is cut back to the resumed step, so no step appears twice.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Callable, Optional, Union

from ..errors import InputError
from ..io import atomic_write_text

STEP_FILE = "step.json"
PREFIX = "checkpoint-"
TMP_PREFIX = ".tmp-checkpoint-"


class Checkpoints:
    """The checkpoint folders of one run directory."""

    def __init__(self, run_dir: Union[str, Path]):
        self.dir = Path(run_dir)

    def complete(self) -> list:
        """Complete checkpoints, oldest first."""
        out = []
        for p in self.dir.glob(f"{PREFIX}*"):
            tail = p.name[len(PREFIX):]
            if p.is_dir() and tail.isdigit() and (p / STEP_FILE).is_file():
                out.append(p)
        return sorted(out, key=lambda p: int(p.name[len(PREFIX):]))

    def latest(self) -> Optional[Path]:
        done = self.complete()
        return done[-1] if done else None

    def resolve(self, spec: Optional[str]) -> Optional[Path]:
        """``None`` → no resume; ``"latest"`` → the newest complete checkpoint (None when there is
        none: a fresh start); a folder → that checkpoint, which must be complete."""
        if not spec:
            return None
        if spec == "latest":
            return self.latest()
        p = Path(spec)
        if not (p.is_dir() and (p / STEP_FILE).is_file()):
            raise InputError("resume_from_checkpoint", f"{spec!r} is not a complete checkpoint (no {STEP_FILE})")
        self.check_files(p)
        return p

    @staticmethod
    def check_files(checkpoint: Path) -> None:
        """Refuse (one line naming the file) a checkpoint whose pickled state files (``.bin``, ``.pt``,
        ``.pkl``) do not load as weights only — accelerate reads some of them with ``weights_only=False``,
        so a checkpoint from elsewhere is read here first, safely, before any model loads."""
        from accelerate.utils import load

        for f in sorted(Path(checkpoint).iterdir()):
            if f.suffix in (".bin", ".pt", ".pkl") and f.is_file():
                try:
                    load(f, map_location="cpu")
                except Exception as exc:  # UnpicklingError, EOFError, RuntimeError on a corrupt zip
                    raise InputError("resume_from_checkpoint", f"{str(f)!r} is not a weights-only checkpoint file "
                                     f"({type(exc).__name__}): refusing to unpickle it") from None

    @staticmethod
    def step_of(checkpoint: Path) -> int:
        return int(json.loads((Path(checkpoint) / STEP_FILE).read_text())["step"])

    def remove_orphans(self) -> None:
        """Delete half-written checkpoints (of a run that was killed while saving)."""
        for p in self.dir.glob(f"{TMP_PREFIX}*"):
            shutil.rmtree(p, ignore_errors=True)

    def save(self, step: int, write: Callable[[Path], None], limit: Optional[int] = None,
             is_main: bool = True, barrier: Callable[[], None] = lambda: None) -> Path:
        """Write checkpoint ``step``: ``write(folder)`` fills a temporary folder (every process may
        write into it), then the main process marks it complete, renames it and prunes old ones."""
        tmp = self.dir / f"{TMP_PREFIX}{step}"
        final = self.dir / f"{PREFIX}{step}"
        if is_main:
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
        barrier()
        write(tmp)
        barrier()
        if is_main:
            atomic_write_text(tmp / STEP_FILE, json.dumps({"step": int(step)}))
            _fsync_dir(tmp)
            if final.exists():
                shutil.rmtree(final)
            os.replace(tmp, final)
            _fsync_dir(self.dir)
            if limit:
                for old in self.complete()[:-limit]:
                    shutil.rmtree(old, ignore_errors=True)
        barrier()
        return final


def resume_problems(resume, field: str = "resume_from_checkpoint") -> list:
    """``[]`` for no resume, ``"latest"`` or a complete checkpoint folder whose files load safely; else one
    message (checked with the config, before any model loads)."""
    if not resume or resume == "latest":
        return []
    if not isinstance(resume, str) or not Path(resume).is_dir():
        return [f"{field}: 'latest' or a checkpoint folder, got {resume!r}"]
    try:
        Checkpoints(Path(resume).parent).resolve(resume)
    except InputError as exc:
        return [f"{field}: {exc.problem}"]
    return []


def number_problems(cfg, ints: Optional[dict] = None, positive: tuple = (), nonnegative: tuple = (),
                    resume_field: str = "resume_from_checkpoint") -> list:
    """The usual checks of a trainer config, as one message per problem: ``ints`` ``{field: minimum}``
    (integers, not bools), ``positive`` / ``nonnegative`` finite numbers, the resume spec
    (``"latest"`` or an existing folder) and ``init_from`` (a model folder), when the config has it."""
    import math

    problems = []
    for name, low in (ints or {}).items():
        v = getattr(cfg, name)
        if isinstance(v, bool) or not isinstance(v, int) or v < low:
            problems.append(f"{name}: must be an integer ≥ {low}, got {v!r}")
    for names, ok, what in ((positive, lambda v: v > 0, "> 0"), (nonnegative, lambda v: v >= 0, "≥ 0")):
        for name in names:
            v = getattr(cfg, name)
            if not (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and ok(v)):
                problems.append(f"{name}: must be a finite number {what}, got {v!r}")
    problems += resume_problems(getattr(cfg, resume_field, None), resume_field)
    init = getattr(cfg, "init_from", None)
    if init and not (Path(init) / "model.safetensors").is_file():
        problems.append(f"init_from: a model folder with model.safetensors, got {init!r}")
    return problems


def truncate_log(path: Union[str, Path], step: int, key: str = "step") -> None:
    """Keep the JSONL log lines whose ``key`` field is ≤ ``step`` (and drop a torn last line)."""
    p = Path(path)
    if not p.is_file():
        return
    keep = []
    for line in p.read_text().splitlines():
        try:
            if int(json.loads(line)[key]) <= step:
                keep.append(line)
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            continue
    atomic_write_text(p, "".join(x + "\n" for x in keep))


def append_log(path: Union[str, Path], record: dict) -> None:
    """Append one JSON line and flush it to disk."""
    with open(path, "a") as fh:
        fh.write(json.dumps(record) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


__all__ = ["Checkpoints", "append_log", "truncate_log"]
