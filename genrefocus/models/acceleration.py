"""Speed and memory options for the FLUX transformer: torchao weight quantization, torch.compile
of the per-branch block functions.

``quantize_transformer(t, "int8")`` (int8 weight-only, any device) or ``"fp8"`` (float8 weights and
activations; CUDA compute capability ≥ 8.9, i.e. Ada/Hopper). LoRA matrices stay in full precision;
the frozen base weights are quantized, so official LoRA files still load and route as before.
"""

from __future__ import annotations

import torch

from ..errors import InputError
from . import branches


def quantize_transformer(transformer: torch.nn.Module, mode: str) -> torch.nn.Module:
    """Quantize the transformer's linear layers in place with torchao (``mode``: int8 / fp8)."""
    try:
        from torchao.quantization import (Float8DynamicActivationFloat8WeightConfig, Int8WeightOnlyConfig,
                                          quantize_)
    except ImportError:
        raise InputError("quantize", "needs torchao (pip install torchao)") from None
    if mode == "fp8":
        if not torch.cuda.is_available() or torch.cuda.get_device_capability() < (8, 9):
            raise InputError("quantize", "fp8 needs a CUDA GPU with compute capability ≥ 8.9 (Ada/Hopper); "
                                         "use int8 here")
        config = Float8DynamicActivationFloat8WeightConfig()
    elif mode == "int8":
        config = Int8WeightOnlyConfig()
    else:
        raise InputError("quantize", f"unknown mode {mode!r}; use int8 or fp8")

    def keep(module, name):  # base linears only: LoRA factors and tiny layers stay as they are
        return isinstance(module, torch.nn.Linear) and "lora_" not in name and module.in_features >= 16

    quantize_(transformer, config, filter_fn=keep)
    return transformer


def compile_blocks(**compile_kwargs) -> branches.BlockFunctions:
    """``torch.compile``d double- and single-block functions of the multi-branch forward (the
    repeated blocks). Give the result to the pipeline (``pipe.block_functions = compile_blocks()``)
    or to :func:`~genrefocus.models.branches.multibranch_forward` (``blocks=``); nothing global
    changes, other models in the process keep running eager."""
    return branches.BlockFunctions(torch.compile(branches.EAGER_BLOCKS.double, **compile_kwargs),
                                   torch.compile(branches.EAGER_BLOCKS.single, **compile_kwargs))
