"""The one on-disk format of the small models genrefocus ships and trains (DPDeblurNet, UiD, JDRL): a
folder with ``config.json`` — ``{"model_type": ..., <the model's dataclass config>}`` — and
``model.safetensors``.

Writes are atomic (a reader never sees half a folder's file). Reads check everything before a weight
is copied, each problem as one error naming the folder: no or unreadable ``config.json``, another
model's type, unknown config fields, a config the model class refuses, and weights whose names or
shapes do not fit the model the config describes (e.g. a FLUX LoRA file saved as
``model.safetensors``). A folder without ``model_type`` is read as UiD: the format of UiD checkpoints
written before every model had a type.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Union

import torch

from ..errors import InputError, MissingWeightsError

CONFIG = "config.json"
WEIGHTS = "model.safetensors"
#: model_type of folders written before the field existed (UiD checkpoints)
LEGACY_TYPE = "uid"


def save_model_folder(folder: Union[str, Path], model: torch.nn.Module, model_type: str) -> Path:
    """Write ``model`` (with a dataclass ``model.config``) into ``folder``."""
    from safetensors.torch import save_file

    from ..io import atomic_write

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cfg = {"model_type": model_type, **asdict(model.config)}
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    atomic_write(folder / WEIGHTS, lambda tmp: save_file(state, tmp))
    atomic_write(folder / CONFIG, lambda tmp: Path(tmp).write_text(json.dumps(cfg, indent=1)))
    return folder


def read_model_type(folder: Union[str, Path], what: str = "model") -> str:
    """The ``model_type`` of a model folder (:data:`LEGACY_TYPE` when the field is absent)."""
    return _read_config(Path(folder), what).get("model_type", LEGACY_TYPE)


def _read_config(folder: Path, what: str) -> dict:
    try:
        cfg = json.loads((folder / CONFIG).read_text())
    except FileNotFoundError:
        raise MissingWeightsError(f"{what}: {str(folder)!r} is not a model folder (no {CONFIG})") from None
    except (OSError, ValueError) as exc:
        raise InputError(what, f"{str(folder / CONFIG)!r} is not readable JSON ({type(exc).__name__})") from None
    if not isinstance(cfg, dict):
        raise InputError(what, f"{str(folder / CONFIG)!r} must hold a JSON object")
    return cfg


def load_model_folder(folder: Union[str, Path], cls, config_cls, model_type: str, what: str = "model"):
    """``cls(config_cls(**config))`` with the folder's weights, in eval mode — after the checks of the
    module doc."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = Path(folder)
    cfg = _read_config(folder, what)
    found = cfg.pop("model_type", LEGACY_TYPE)
    if found != model_type:
        raise InputError(what, f"{str(folder)!r} holds a {found!r} model, not {model_type!r}")
    unknown = sorted(set(cfg) - set(config_cls.__dataclass_fields__))
    if unknown:
        raise InputError(what, f"{str(folder / CONFIG)!r} has unknown field(s) {', '.join(unknown)} for a "
                               f"{model_type} model (known: {', '.join(config_cls.__dataclass_fields__)})")
    try:
        model = cls(config_cls(**cfg))
    except (TypeError, ValueError) as exc:
        raise InputError(what, f"{str(folder / CONFIG)!r}: {exc}") from None
    try:
        state = load_file(str(folder / WEIGHTS))
    except FileNotFoundError:
        raise MissingWeightsError(f"{what}: {str(folder)!r} has no {WEIGHTS}") from None
    except (OSError, SafetensorError, ValueError) as exc:
        raise InputError(what, f"{str(folder / WEIGHTS)!r} is not a readable safetensors file ({exc})") from None
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    shapes = [k for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k].shape)]
    if missing or extra or shapes:
        detail = "; ".join(x for x in (
            f"{len(missing)} missing (e.g. {missing[0]})" if missing else "",
            f"{len(extra)} unexpected (e.g. {extra[0]})" if extra else "",
            f"{len(shapes)} of another shape (e.g. {shapes[0]}: {tuple(state[shapes[0]].shape)} vs "
            f"{tuple(expected[shapes[0]].shape)})" if shapes else "") if x)
        raise InputError(what, f"the weights in {str(folder)!r} do not fit the {model_type} model its {CONFIG} "
                               f"describes: {detail}")
    if not all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point()):
        raise InputError(what, f"{str(folder / WEIGHTS)!r} has NaN/inf weights")
    model.load_state_dict(state)
    return model.eval()


__all__ = ["LEGACY_TYPE", "load_model_folder", "read_model_type", "save_model_folder"]
