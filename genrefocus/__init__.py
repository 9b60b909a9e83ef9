"""genrefocus: one photo → a controllable virtual camera (refocus, bokeh strength, aperture shape).

Subpackages: :mod:`genrefocus.optics` (physics), :mod:`genrefocus.pipelines` (user-facing
pipelines), :mod:`genrefocus.metrics`, :mod:`genrefocus.data`, :mod:`genrefocus.io`.
"""

__version__ = "0.1.0"

from .errors import InputError, MissingWeightsError  # noqa: E402

__all__ = ["InputError", "MissingWeightsError", "__version__"]
