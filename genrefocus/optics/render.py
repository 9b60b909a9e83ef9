"""One entry point for the physical renderers: linearize, render in linear light, de-linearize.

Modes (docs/design.md §3.4):

* ``"bokehme"`` — BokehMe's classical scatter, evaluated exactly (slow; the compatibility reference);
* ``"scatter"`` — the same operator, radius-binned FFT (BokehMe-compatible, ≥ 40 dB to the reference);
* ``"fast"`` — occlusion-aware hybrid: three layers (behind / on / in front of the focal plane)
  composited with gap-aware disocclusion fill (:mod:`genrefocus.optics.layered`);
* ``"layered"`` — the same with fine layers (occlusion between objects at every depth); the default:
  best or within 0.5 dB of the best against exact scene-lab renders on every case of
  ``eval/bench_renderer.py``.

Linearization is ``I^γ`` (BokehMe's, default γ = 4) or ``"srgb"`` (the sRGB transfer curve).
"""

from __future__ import annotations

from typing import Union

import torch

from ..parsing import DEFAULT_RENDER_MODE, RENDER_MODES
from .apertures import Aperture, parse_aperture
from .layered import render_layered
from .scatter import scatter_fast, scatter_reference

MODES = RENDER_MODES
DEFAULT_MODE = DEFAULT_RENDER_MODE
Gamma = Union[float, str]
#: The largest CoC radius rendered, as a fraction of the image's long side. A larger blur says the
#: inputs are wrong (K, the focus disparity or the depth units); it is clamped with a warning, so
#: the renderers' cost stays bounded (their loops run over radii up to this value).
MAX_COC_FRACTION = 0.25


#: a CoC more than this many times the cap is refused rather than clamped: the inputs are wrong
MAX_COC_EXCESS = 10.0


def cap_coc(coc: torch.Tensor, size) -> torch.Tensor:
    """Check a signed CoC map (px): NaN/inf is an :class:`InputError`; radii beyond
    ``MAX_COC_FRACTION × long side`` are clamped with a warning, and radii beyond
    ``MAX_COC_EXCESS`` times that are refused (wrong units or K: a clamp would hide them)."""
    from ..errors import InputError

    if not bool(torch.isfinite(coc).all()):
        raise InputError("CoC", "the circle of confusion has NaN/inf values: check K, the focus disparity and "
                                "the depth/disparity map")
    limit = MAX_COC_FRACTION * max(int(size[0]), int(size[1]))
    peak = float(coc.detach().abs().max()) if coc.numel() else 0.0
    if peak > MAX_COC_EXCESS * limit:
        raise InputError("CoC", f"radii up to {peak:.3g} px, more than {MAX_COC_EXCESS:g}× the largest this "
                                f"{int(size[1])}×{int(size[0])} image can show ({limit:.0f} px): check the map's units "
                                "(depth in metres, disparity in 1/m — not mm or µm), K and the focus disparity")
    if peak > limit:
        import warnings

        warnings.warn(f"CoC radius up to {peak:.3g} px clamped to {limit:.0f} px (a quarter of the long side): "
                      "check K, the focus disparity and the depth units", stacklevel=3)
        coc = coc.clamp(-limit, limit)
    return coc


def to_linear(image: torch.Tensor, gamma: Gamma = 4.0) -> torch.Tensor:
    """``(B, C, H, W)`` in [0, 1] → linear light: ``I^γ`` or the sRGB decoding curve."""
    x = image.clamp(0.0, 1.0)
    if gamma == "srgb":
        return torch.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)
    if float(gamma) == 4.0:  # BokehMe's default: two squarings are faster than pow
        return x.square().square()
    return x ** float(gamma)


def from_linear(linear: torch.Tensor, gamma: Gamma = 4.0) -> torch.Tensor:
    """Inverse of :func:`to_linear`, clamped to [0, 1]."""
    x = linear.clamp(0.0, 1.0)
    if gamma == "srgb":
        return torch.where(x <= 0.0031308, 12.92 * x, 1.055 * x ** (1 / 2.4) - 0.055).clamp(0.0, 1.0)
    if float(gamma) == 4.0:
        return x.sqrt().sqrt()
    return x ** (1.0 / float(gamma))


def check_mode(mode: str) -> str:
    """A renderer name of :data:`MODES`, or :class:`~genrefocus.errors.InputError`."""
    if mode not in MODES:
        from ..errors import InputError

        raise InputError("mode", f"unknown renderer {mode!r}; choose one of {', '.join(MODES)}")
    return mode


def check_gamma(gamma: Gamma) -> Gamma:
    """A linearization: ``"srgb"`` or a number in [0.1, 10] (as float); else :class:`InputError`."""
    if gamma == "srgb":
        return gamma
    try:
        g = float(gamma)
    except (TypeError, ValueError):
        g = float("nan")
    if not (0.1 <= g <= 10.0):
        from ..errors import InputError

        raise InputError("gamma", f"must be 'srgb' or a number in [0.1, 10], got {gamma!r}")
    return g


def render_bokeh(image: torch.Tensor, coc: torch.Tensor, mode: str = DEFAULT_MODE, gamma: Gamma = 4.0,
                 aperture: Union[Aperture, str, None] = None, flip_front: bool | None = None,
                 **kwargs) -> torch.Tensor:
    """Render bokeh for a signed CoC map.

    Args:
        image: ``(B, C, H, W)`` in [0, 1]. coc: ``(B, 1, H, W)`` signed CoC radius (px).
        mode: ``"bokehme"``, ``"scatter"``, ``"fast"`` or ``"layered"`` (module doc).
        gamma: linearization exponent or ``"srgb"``.
        aperture: :class:`Aperture` or a spec (``disk``, ``polygon:6``, ``heart``, ``star``, path).
        flip_front: rotate the aperture 180° in front of the focal plane (default: False for the
            BokehMe-compatible modes, True for ``fast`` and ``layered``).
        kwargs: passed to the renderer (e.g. ``bins``, ``coarse_radius``, ``step``).
    Returns:
        ``(B, C, H, W)`` in [0, 1]. An all-zero CoC returns the input unchanged.
    """
    check_mode(mode)
    gamma = check_gamma(gamma)
    coc = cap_coc(coc, image.shape[-2:])
    if not bool((coc != 0).any()):
        return image.clone()
    ap = parse_aperture(aperture)
    if flip_front is None:
        flip_front = mode in ("fast", "layered")
    lin = to_linear(image, gamma)
    coc = coc.to(device=lin.device, dtype=lin.dtype)
    if mode == "bokehme":
        out = scatter_reference(lin, coc, ap, flip_front=flip_front)
    elif mode == "scatter":
        out = scatter_fast(lin, coc, ap, flip_front=flip_front, **kwargs)
    else:
        out = render_layered(lin, coc, ap, flip_front=flip_front, grouping="focus" if mode == "fast" else "fine",
                             **kwargs)
    return from_linear(out, gamma)
