"""What every pipeline returns: :class:`RefocusResult` (and :class:`FocusPullResult` for animations)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import torch


@dataclass
class RefocusResult:
    """The result of a refocus (or of a deblur: then ``image`` is the all-in-focus image).

    Attributes:
        image: ``(1, 3, H, W)`` in [0, 1] at the size the user gets (the photo's; the working size when
            the generative pipeline was asked for a ``long_side``).
        aif: the all-in-focus image the render started from — the photo itself for the physical
            pipeline, DeblurNet's or the dual-pixel model's estimate otherwise (generative: at the
            working size).
        disparity: ``(1, 1, h, w)`` the disparity used, larger = nearer, in the units of
            ``meta["disparity_units"]``: ``"1/m"`` (metric depth), ``"relative"`` (min–max normalised to
            [0, 1]) or ``"px"`` (dual-pixel disparity).
        depth: metric depth (m) when known, else None.
        coc: signed circle-of-confusion radius (px), positive = nearer than the focal plane.
        focus_disparity: ``d_f``, in the units of ``disparity``.
        K: the bokeh level used (CoC px per unit of disparity; NaN where it does not apply).
        mask: the in-focus region used (dual-pixel), else None.
        meta: pipeline-specific extras, e.g. ``defocus_map`` and ``image_working`` (generative),
            ``axis`` (dual-pixel split), ``mode`` (renderer), ``focus`` (the :class:`Focus` used).
    """

    image: torch.Tensor
    aif: Optional[torch.Tensor] = None
    disparity: Optional[torch.Tensor] = None
    depth: Optional[torch.Tensor] = None
    coc: Optional[torch.Tensor] = None
    focus_disparity: float = float("nan")
    K: float = float("nan")
    mask: Optional[torch.Tensor] = None
    meta: dict = field(default_factory=dict)


@dataclass
class FocusPullResult:
    """``frames`` ``(N, 3, H, W)`` in [0, 1]; per frame, the focus disparity and K used; ``disparity``
    the map used (as in :class:`RefocusResult`)."""

    frames: torch.Tensor
    focus_disparity: list
    K: list
    disparity: Optional[torch.Tensor] = None


__all__ = ["FocusPullResult", "RefocusResult"]
