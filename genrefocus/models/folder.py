"""A small model's folder on disk: ``config.json`` (its dataclass config + ``model_type``) and
``model.safetensors`` — written atomically, read with a one-line error naming what is missing. Shared by
the CPU models (DPDeblurNet, the JDRL deblurring model)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Union

import torch

from ..errors import MissingWeightsError


def save_model_folder(folder: Union[str, Path], model: torch.nn.Module, model_type: str, extra: dict | None = None) -> Path:
    """Write ``model`` (with a dataclass ``model.config``) into ``folder``."""
    from safetensors.torch import save_file

    from ..io import atomic_write

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cfg = {"model_type": model_type, **asdict(model.config), **(extra or {})}
    atomic_write(folder / "config.json", lambda tmp: Path(tmp).write_text(json.dumps(cfg, indent=1)))
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    atomic_write(folder / "model.safetensors", lambda tmp: save_file(state, tmp))
    return folder


def load_model_folder(folder: Union[str, Path], cls, config_cls, what: str):
    """``cls(config_cls(**known config fields))`` with the folder's weights, in eval mode."""
    from safetensors.torch import load_file

    folder = Path(folder)
    try:
        cfg = json.loads((folder / "config.json").read_text())
        state = load_file(str(folder / "model.safetensors"))
    except (OSError, ValueError) as exc:
        raise MissingWeightsError(f"{what} checkpoint {str(folder)!r} could not be loaded ({type(exc).__name__}): "
                                  "it needs config.json and model.safetensors") from None
    fields = config_cls.__dataclass_fields__
    model = cls(config_cls(**{k: v for k, v in cfg.items() if k in fields}))
    model.load_state_dict(state)
    return model.eval()


__all__ = ["load_model_folder", "save_model_folder"]
