"""Training, one way for every model: a dataclass config (YAML, ``--set``, flags; checked by one typed
schema, :mod:`.config`) and ``python training/train.py <trainer>`` (``accelerate launch`` for several
processes).

Trainers (:data:`TRAINERS`): ``lora`` — DeblurNet / BokehNet / aperture-shape LoRAs on FLUX.1-dev
(:mod:`.lora`, its own accelerate loop with gradient accumulation and mixed precision); ``dp_deblur``,
``jdrl``, ``uid`` — the CPU models, on the one shared loop (:mod:`.loop`).
"""

from __future__ import annotations

import importlib

#: trainer name → (module, config class, train function)
TRAINERS = {"lora": ("lora", "LoRATrainConfig", "train"),
            "dp_deblur": ("dp_deblur", "DPDeblurTrainConfig", "train_dp_deblur"),
            "jdrl": ("jdrl", "JDRLTrainConfig", "train_jdrl"),
            "uid": ("uid", "UiDTrainConfig", "train_uid")}


def get_trainer(name: str) -> tuple:
    """``(config class, train function)`` of trainer ``name``."""
    from ..errors import InputError

    if name not in TRAINERS:
        raise InputError("trainer", f"unknown trainer {name!r}; use one of {', '.join(TRAINERS)}")
    module, cfg, fn = TRAINERS[name]
    mod = importlib.import_module(f".{module}", __name__)
    return getattr(mod, cfg), getattr(mod, fn)


__all__ = ["TRAINERS", "get_trainer"]
