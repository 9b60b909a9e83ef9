"""Training configuration: a YAML file → :class:`TrainConfig`, checked against a typed schema.

Every problem of a config (malformed YAML, unknown keys, wrong types, values out of range, missing
files) is collected and reported at once, as one :class:`~genrefocus.errors.InputError`, before
anything is loaded or started.
"""

from __future__ import annotations

import math
import typing
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Optional, Union

from ..errors import InputError
from ..parsing import DEFAULT_RENDER_MODE, RENDER_MODES
from ..models.tasks import TASKS

#: field → (check, requirement) for values beyond their type
_RULES = {
    "rank": (lambda v: v >= 1, "≥ 1"),
    "max_steps": (lambda v: v >= 1, "≥ 1"),
    "learning_rate": (lambda v: math.isfinite(v) and v > 0, "a finite number > 0"),
    "weight_decay": (lambda v: math.isfinite(v) and v >= 0, "a finite number ≥ 0"),
    "max_grad_norm": (lambda v: math.isfinite(v) and v >= 0, "a finite number ≥ 0 (0 = no clipping)"),
    "train_batch_size": (lambda v: v >= 1, "≥ 1"),
    "gradient_accumulation_steps": (lambda v: v >= 1, "≥ 1"),
    "resolution": (lambda v: v >= 16 and v % 16 == 0, "a multiple of 16, ≥ 16"),
    "text_dropout": (lambda v: 0 <= v <= 1, "in [0, 1]"),
    "condition_dropout": (lambda v: 0 <= v <= 1, "in [0, 1]"),
    "seed": (lambda v: v >= 0, "≥ 0"),
    "checkpointing_steps": (lambda v: v >= 0, "≥ 0 (0 = no checkpoints)"),
    "checkpoints_total_limit": (lambda v: v is None or v >= 1, "≥ 1 or null"),
    "validation_steps": (lambda v: v >= 0, "≥ 0 (0 = no validation)"),
    "validation_inference_steps": (lambda v: v >= 1, "≥ 1"),
    "log_every": (lambda v: v >= 1, "≥ 1"),
    "task": (lambda v: v in TASKS, f"one of {', '.join(TASKS)}"),
    "optimizer": (lambda v: v in ("adamw", "prodigy"), "adamw or prodigy"),
    "mixed_precision": (lambda v: v in ("no", "fp16", "bf16"), "no, fp16 or bf16"),
}


@dataclass
class TrainConfig:
    """Every knob of :func:`genrefocus.training.trainer.train` (defaults = the paper's settings)."""

    task: str = "bokeh"                  # a task of genrefocus.models.tasks.TASKS (deblur, pre_deblur, bokeh, shape)
    model: str = "black-forest-labs/FLUX.1-dev"
    prompt_cache: Optional[str] = None   # safetensors from GenRefocusPipeline.save_prompt_cache
    output_dir: str = "runs/lora"
    rank: int = 64
    max_steps: int = 40000               # optimizer steps
    learning_rate: float = 1e-4
    optimizer: str = "adamw"             # adamw | prodigy
    weight_decay: float = 1e-2
    max_grad_norm: float = 1.0
    train_batch_size: int = 1
    gradient_accumulation_steps: int = 8
    mixed_precision: str = "bf16"        # no | fp16 | bf16
    gradient_checkpointing: bool = True
    resolution: int = 512                # random crops of this size
    text_dropout: float = 0.1
    condition_dropout: float = 0.1
    independent_conditions: bool = False  # train for the KV-cache fast mode (stored in the LoRA metadata)
    init_lora: Optional[str] = None      # start from this LoRA (e.g. synthetic → real)
    base_lora: Optional[str] = None      # shape task: frozen base bokeh LoRA
    data: dict = field(default_factory=dict)  # {"manifest": path} or {"synthetic": {...}}
    seed: int = 0
    fixed_noise: bool = False            # overfitting checks: σ, ε and dropout depend on the sample only
    checkpointing_steps: int = 1000
    checkpoints_total_limit: Optional[int] = 3
    resume_from_checkpoint: Optional[str] = None  # "latest" or a checkpoint folder
    validation_steps: int = 1000
    validation_inference_steps: int = 28
    log_every: int = 10
    allow_download: bool = False         # let a missing Hub model download (else: local folders / HF cache only)

    def __post_init__(self):
        problems = config_problems(asdict(self))
        if problems:
            raise InputError("training config", "; ".join(problems))

    def to_dict(self) -> dict:
        return asdict(self)


def _type_of(f) -> tuple:
    """(base type, optional) of a dataclass field's annotation."""
    hint = typing.get_type_hints(TrainConfig)[f.name]
    args = typing.get_args(hint)
    if type(None) in args:
        return next(a for a in args if a is not type(None)), True
    return hint, False


def _coerce_type(name: str, value, problems: list):
    f = {x.name: x for x in fields(TrainConfig)}[name]
    base, optional = _type_of(f)
    if value is None:
        if not optional:
            problems.append(f"{name}: must not be null")
        return value
    if base is bool:
        if not isinstance(value, bool):
            problems.append(f"{name}: expected true or false, got {value!r}")
        return value
    if base is int:
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(f"{name}: expected an integer, got {value!r}")
        return value
    if base is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.append(f"{name}: expected a number, got {value!r}")
            return value
        return float(value)
    if base is str:
        if not isinstance(value, str) or not value:
            problems.append(f"{name}: expected a non-empty string, got {value!r}")
        return value
    if base is dict and not isinstance(value, dict):
        problems.append(f"{name}: expected a mapping, got {value!r}")
    return value


def _data_problems(data: dict) -> list:
    problems = []
    if not isinstance(data, dict) or not data:
        return ["data: set data.manifest (a JSONL file) or data.synthetic"]
    unknown = set(data) - {"manifest", "synthetic"}
    if unknown:
        problems.append(f"data: unknown keys {sorted(unknown)} (manifest, synthetic)")
    syn = data.get("synthetic")
    if syn is not None:
        if not isinstance(syn, dict):
            return problems + ["data.synthetic: expected a mapping"]
        unknown = set(syn) - {"manifest", "k_range", "apertures", "renderer"}
        if unknown:
            problems.append(f"data.synthetic: unknown keys {sorted(unknown)} (manifest, k_range, apertures, renderer)")
        manifest = syn.get("manifest")
        kr = syn.get("k_range", [5.0, 40.0])
        if not (isinstance(kr, (list, tuple)) and len(kr) == 2 and all(isinstance(v, (int, float)) and
                                                                       not isinstance(v, bool) for v in kr)
                and all(math.isfinite(v) for v in kr) and 0 <= kr[0] < kr[1]):
            problems.append(f"data.synthetic.k_range: need [K_min, K_max] with 0 ≤ K_min < K_max, got {kr!r}")
        if syn.get("renderer", DEFAULT_RENDER_MODE) not in RENDER_MODES:
            problems.append(f"data.synthetic.renderer: one of {', '.join(RENDER_MODES)}, got {syn.get('renderer')!r}")
        aps = syn.get("apertures", ["disk"])
        if not isinstance(aps, list) or not aps:
            problems.append(f"data.synthetic.apertures: a non-empty list, got {aps!r}")
        else:
            from ..optics.apertures import parse_aperture

            for a in aps:
                try:
                    parse_aperture(a)
                except InputError as exc:
                    problems.append(f"data.synthetic.apertures: {exc.problem}")
    else:
        manifest = data.get("manifest")
    if not isinstance(manifest, str) or not manifest:
        problems.append("data: a manifest path is needed (data.manifest or data.synthetic.manifest)")
    return problems


def config_problems(raw: dict) -> list:
    """Every problem of a config mapping (empty when it is valid)."""
    problems = []
    known = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(raw) - known)
    if unknown:
        problems.append(f"unknown keys {unknown}")
    values, type_problems = {}, []
    for name in known & set(raw):
        values[name] = _coerce_type(name, raw[name], type_problems)
    problems += type_problems
    bad_type = {x.split(":")[0] for x in type_problems}
    for name, (check, need) in _RULES.items():
        if name in values and values[name] is not None and name not in bad_type:
            try:
                ok = check(values[name])
            except TypeError:
                ok = False
            if not ok:
                problems.append(f"{name}: must be {need}, got {values[name]!r}")
    if "data" in values:
        problems += _data_problems(values["data"])
    task = values.get("task", "bokeh")
    if task == "shape" and not values.get("base_lora"):
        problems.append("base_lora: the shape task trains a new adapter next to a frozen base bokeh LoRA: set it")
    return problems


def missing_files(cfg: "TrainConfig") -> list:
    """The files a config names that do not exist (checked by the trainer before it loads anything;
    the shipped example configs name data that users build first)."""
    problems = []
    data = cfg.data.get("synthetic") or cfg.data
    manifest = data.get("manifest") if isinstance(data, dict) else None
    if isinstance(manifest, str) and not Path(manifest).is_file():
        problems.append(f"data manifest {manifest!r} does not exist")
    for name in ("init_lora", "base_lora", "prompt_cache"):
        v = getattr(cfg, name)
        if isinstance(v, str) and not Path(v).is_file():
            problems.append(f"{name}: {v!r} does not exist")
    resume = cfg.resume_from_checkpoint
    if isinstance(resume, str) and resume != "latest" and not Path(resume).is_dir():
        problems.append(f"resume_from_checkpoint: 'latest' or a checkpoint folder, got {resume!r}")
    out = Path(cfg.output_dir)
    if out.exists() and not out.is_dir():
        problems.append(f"output_dir: {cfg.output_dir!r} is a file")
    return problems


def _coerce_text(value: str, like):
    """A ``--set key=value`` string as the type of ``like`` (unparseable text is kept and reported)."""
    low = value.lower()
    if low in ("none", "null"):
        return None
    if isinstance(like, bool):
        return {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}.get(low, value)
    if isinstance(like, int):
        try:
            return int(value)
        except ValueError:
            return value
    if isinstance(like, float):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def load_config(path: Union[str, Path], overrides: Optional[list] = None) -> TrainConfig:
    """Read a YAML config; ``overrides`` are ``key=value`` strings (``data.manifest=...`` allowed).
    All problems are reported at once."""
    import yaml

    p = Path(path)
    if not p.is_file():
        raise InputError("--config", f"{str(p)!r} does not exist")
    try:
        raw = yaml.safe_load(p.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise InputError(str(p), f"is not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    except UnicodeDecodeError:
        raise InputError(str(p), "is not a text file") from None
    raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        raise InputError(str(p), f"must be a mapping of keys to values, got {type(raw).__name__}")
    defaults = {f.name: f.default for f in fields(TrainConfig)}
    problems = []
    for item in overrides or []:
        key, sep, value = item.partition("=")
        if not sep:
            problems.append(f"--set {item!r}: expected KEY=VALUE")
        elif key.startswith("data."):
            if not isinstance(raw.get("data", {}), dict):
                problems.append("data: expected a mapping")
            else:
                raw.setdefault("data", {})[key[5:]] = value
        elif key not in defaults:
            problems.append(f"--set {key}: unknown key")
        else:
            like = raw.get(key, defaults[key])
            if like is None:
                like = {"checkpoints_total_limit": 1}.get(key, "")
            raw[key] = _coerce_text(value, like)
    problems += config_problems(raw)
    if problems:
        raise InputError(str(p), "; ".join(problems))
    return TrainConfig(**raw)
