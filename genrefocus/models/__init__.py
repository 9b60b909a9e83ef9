"""Network code: FLUX multi-branch conditioning with per-branch LoRA routing."""

from .branches import Branch, group_mask, multibranch_forward, route_lora

__all__ = ["Branch", "group_mask", "multibranch_forward", "route_lora"]
