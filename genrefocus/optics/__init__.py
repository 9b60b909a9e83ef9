"""Physics without learned weights: focus and defocus maps, EXIF K, apertures, renderers, scene lab,
light fields, the focus value and focus measures (docs/design.md §3). K calibration, which maximises SSIM, is
:mod:`genrefocus.metrics.calibration`."""

from . import apertures
from .apertures import Aperture, parse_aperture
from .defocus import (MAX_COC, defocus_condition, depth_to_disparity, focus_disparity, scale_k,
                      signed_coc, validate_k)
from .focus import Focus
from .exif_k import KEstimate, focus_distance_from_mask, k_from_exif, read_exif, thin_lens_k
from .focus_measure import local_variance_of_laplacian, sharpness_mask, variance_of_laplacian
from .layered import render_layered
from .light_field import aperture_mask, load_hci_light_field, shift_and_add
from .render import DEFAULT_MODE, MODES, from_linear, render_bokeh, to_linear
from .scatter import scatter_fast, scatter_reference
from .scene_lab import Plane, Scene, make_scene

__all__ = [
    "apertures", "Aperture", "Focus", "parse_aperture", "MAX_COC",
    "defocus_condition", "depth_to_disparity", "focus_disparity", "scale_k", "signed_coc",
    "validate_k", "KEstimate", "focus_distance_from_mask", "k_from_exif", "read_exif", "thin_lens_k",
    "local_variance_of_laplacian", "sharpness_mask", "variance_of_laplacian", "render_layered",
    "aperture_mask", "load_hci_light_field", "shift_and_add", "DEFAULT_MODE", "MODES", "from_linear", "render_bokeh",
    "to_linear", "scatter_fast", "scatter_reference", "Plane", "Scene", "make_scene",
]
