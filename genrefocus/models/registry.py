"""Load any model folder genrefocus writes by its ``model_type`` (:mod:`genrefocus.models.folder`)."""

from __future__ import annotations

from pathlib import Path
from typing import Union

from ..errors import InputError
from .folder import read_model_type


def load_model(folder: Union[str, Path], what: str = "model"):
    """Any model folder genrefocus writes, by its ``model_type``: ``dp_deblur`` (DPDeblurNet),
    ``uid`` (UiD; also a folder without the field), ``jdrl`` (JDRL's deblurring model)."""
    kind = read_model_type(folder, what)
    if kind == "dp_deblur":
        from .dp_deblur import DPDeblurNet as cls
    elif kind == "uid":
        from .uid import UiDModel as cls
    elif kind == "jdrl":
        from .jdrl import JDRLDeblur as cls
    else:
        raise InputError(what, f"{str(folder)!r} holds an unknown model_type {kind!r} (dp_deblur, uid, jdrl)")
    return cls.from_pretrained(folder, what=what)


__all__ = ["load_model"]
