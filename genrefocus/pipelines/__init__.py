"""User-facing pipelines: physical renderer, generative (FLUX + LoRA) refocusing, sampler options, tiling."""

from .physical import PhysicalRefocusOutput, PhysicalRefocusPipeline

__all__ = ["PhysicalRefocusPipeline", "PhysicalRefocusOutput", "GenRefocusPipeline", "BokehOutput", "DeblurOutput",
           "SamplerOptions", "ProcessSplit"]


def __getattr__(name):  # the generative pipeline imports diffusers: load it only when asked for
    if name in ("GenRefocusPipeline", "BokehOutput", "DeblurOutput"):
        from . import generative

        return getattr(generative, name)
    if name == "SamplerOptions":
        from .options import SamplerOptions

        return SamplerOptions
    if name == "ProcessSplit":
        from .distributed import ProcessSplit

        return ProcessSplit
    raise AttributeError(name)
