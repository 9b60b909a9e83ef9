"""genrefocus: one photo → a controllable virtual camera (refocus, bokeh strength, aperture shape).

The API in one import::

    from genrefocus import PhysicalRefocusPipeline, GenRefocusPipeline, DualPixelPipeline, Focus

Every pipeline takes a photo and a :class:`Focus` (a point, a box, a mask, a depth region, a disparity
value or a text prompt) and returns a :class:`RefocusResult`. Subpackages: :mod:`genrefocus.optics`
(physics), :mod:`genrefocus.models`, :mod:`genrefocus.perception`, :mod:`genrefocus.pipelines`,
:mod:`genrefocus.metrics`, :mod:`genrefocus.data`, :mod:`genrefocus.training`, :mod:`genrefocus.io`.
"""

__version__ = "0.2.0"

from .errors import InputError, MissingDependencyError, MissingWeightsError  # noqa: E402

_LAZY = {"DPOptions", "DualPixelPipeline", "Focus", "FocusPullResult", "GenRefocusPipeline", "GenerativeLoadOptions",
         "PhysicalRefocusPipeline", "RefocusResult", "SamplerOptions"}

__all__ = sorted(_LAZY) + ["InputError", "MissingDependencyError", "MissingWeightsError", "__version__"]


def __getattr__(name):  # the pipelines import torch (and the generative one diffusers): load on first use
    if name in _LAZY:
        from . import pipelines

        return getattr(pipelines, name)
    raise AttributeError(f"module 'genrefocus' has no attribute {name!r}")
