"""User-facing pipelines — physical, generative (FLUX + LoRA), dual-pixel — with one focus value, one
result type and their options."""

from .dual_pixel import DPOptions, DualPixelPipeline
from ..optics.focus import Focus
from .options import GenerativeLoadOptions, SamplerOptions
from .physical import PhysicalRefocusPipeline
from .result import FocusPullResult, RefocusResult

__all__ = ["DPOptions", "DualPixelPipeline", "Focus", "FocusPullResult", "GenRefocusPipeline", "GenerativeLoadOptions",
           "PhysicalRefocusPipeline", "ProcessSplit", "RefocusResult", "SamplerOptions"]


def __getattr__(name):  # the generative pipeline imports diffusers: load it only when asked for
    if name == "GenRefocusPipeline":
        from ..errors import require

        require("diffusers", "gpu", "the generative pipeline (GenRefocusPipeline)")
        from .generative import GenRefocusPipeline

        return GenRefocusPipeline
    if name == "ProcessSplit":
        from .distributed import ProcessSplit

        return ProcessSplit
    raise AttributeError(name)
