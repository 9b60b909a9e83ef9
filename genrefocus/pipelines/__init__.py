"""User-facing pipelines: physical renderer, generative (FLUX + LoRA) refocusing, tiling."""

from .physical import PhysicalRefocusOutput, PhysicalRefocusPipeline

__all__ = ["PhysicalRefocusPipeline", "PhysicalRefocusOutput", "GenRefocusPipeline", "BokehOutput", "DeblurOutput"]


def __getattr__(name):  # the generative pipeline imports diffusers: load it only when asked for
    if name in ("GenRefocusPipeline", "BokehOutput", "DeblurOutput"):
        from . import generative

        return getattr(generative, name)
    raise AttributeError(name)
