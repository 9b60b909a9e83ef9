"""Training configuration: a YAML file → :class:`TrainConfig` (with command-line overrides)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Optional, Union

from ..errors import InputError
from ..models.tasks import TASKS


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

    def __post_init__(self):
        if self.task not in TASKS:
            raise InputError("task", f"{self.task!r}; use one of {', '.join(TASKS)}")
        if self.task == "shape" and not self.base_lora:
            raise InputError("base_lora", "the shape task trains a new adapter next to a frozen base bokeh LoRA: "
                                          "set base_lora to its file")
        if not self.data:
            raise InputError("data", "set data.manifest (a JSONL file) or data.synthetic")

    def to_dict(self) -> dict:
        return asdict(self)


def _coerce(value: str, like):
    if isinstance(like, bool):
        return value.lower() in ("1", "true", "yes")
    if isinstance(like, int) and not isinstance(like, bool):
        return int(value)
    if isinstance(like, float):
        return float(value)
    return None if value.lower() in ("none", "null") else value


def load_config(path: Union[str, Path], overrides: Optional[list] = None) -> TrainConfig:
    """Read a YAML config; ``overrides`` are ``key=value`` strings (``data.manifest=...`` allowed)."""
    import yaml

    p = Path(path)
    if not p.is_file():
        raise InputError("--config", f"{str(p)!r} does not exist")
    raw = yaml.safe_load(p.read_text()) or {}
    known = {f.name: f for f in fields(TrainConfig)}
    unknown = set(raw) - set(known)
    if unknown:
        raise InputError(str(p), f"unknown keys {sorted(unknown)}")
    defaults = TrainConfig.__dataclass_fields__
    for item in overrides or []:
        key, _, value = item.partition("=")
        if key.startswith("data."):
            raw.setdefault("data", {})[key[5:]] = value
            continue
        if key not in known:
            raise InputError("override", f"unknown key {key!r}")
        default = raw.get(key, defaults[key].default if defaults[key].default is not None else "")
        raw[key] = _coerce(value, default) if isinstance(value, str) else value
    return TrainConfig(**raw)
