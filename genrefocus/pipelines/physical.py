"""Refocusing with the physical renderer: disparity → focus plane → signed CoC → bokeh render."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Optional, Sequence, Union

import torch

from ..errors import InputError
from ..optics.apertures import Aperture, parse_aperture
from ..optics.defocus import (depth_to_disparity, focus_disparity, resize_map, signed_coc,
                              validate_disparity, validate_k)
from ..optics.render import MODES, Gamma, render_bokeh


@dataclass
class PhysicalRefocusOutput:
    """``image`` ``(1, 3, H, W)`` in [0, 1]; ``coc`` signed CoC (px) ``(1, 1, H, W)``;
    ``disparity`` used ``(1, 1, H, W)``; ``focus_disparity`` ``d_f``; ``K``."""

    image: torch.Tensor
    coc: torch.Tensor
    disparity: torch.Tensor
    focus_disparity: float
    K: float


def check_image(image: torch.Tensor, name: str = "image") -> torch.Tensor:
    """Validate an image tensor: ``(1|B, 3, H, W)`` finite float in [0, 1], sides ≥ 16 px."""
    if not isinstance(image, torch.Tensor):
        raise InputError(name, f"expected a torch.Tensor (B, 3, H, W), got {type(image).__name__}")
    if image.ndim == 3:
        image = image[None]
    if image.ndim != 4 or image.shape[1] != 3:
        raise InputError(name, f"expected shape (B, 3, H, W), got {tuple(image.shape)}")
    if min(image.shape[-2:]) < 16:
        raise InputError(name, f"{image.shape[-1]}×{image.shape[-2]} is smaller than 16 px on a side")
    image = image.float()
    if not torch.isfinite(image).all():
        raise InputError(name, "contains NaN/inf values")
    return image.clamp(0.0, 1.0)


class PhysicalRefocusPipeline:
    """Refocus a photo with a known disparity (or depth) map, no learned weights.

    Args:
        mode: renderer, ``"fast"`` (default), ``"bokehme"`` (reference) or ``"layered"``.
        gamma: linearization (BokehMe's 4.0, or ``"srgb"``).
        device: where to render (default: the image's device).
    """

    def __init__(self, mode: str = "fast", gamma: Gamma = 4.0, device: Union[str, torch.device, None] = None):
        if mode not in MODES:
            raise InputError("mode", f"unknown renderer {mode!r}; choose one of {', '.join(MODES)}")
        self.mode, self.gamma, self.device = mode, gamma, device

    def __call__(self, image: torch.Tensor, *, disparity: Optional[torch.Tensor] = None,
                 depth: Optional[torch.Tensor] = None, K: float = 20.0,
                 focus_point: Optional[Sequence[float]] = None, focus_box: Optional[Sequence[float]] = None,
                 focus_mask: Optional[torch.Tensor] = None, focus_disparity_value: Optional[float] = None,
                 aperture: Union[Aperture, str, None] = None, flip_front: Optional[bool] = None,
                 **render_kwargs) -> PhysicalRefocusOutput:
        # 1. inputs
        image = check_image(image)
        if self.device is not None:
            image = image.to(self.device)
        K = validate_k(K)
        aperture = parse_aperture(aperture)
        # 2. disparity at the image size (depth → 1/depth)
        if (disparity is None) == (depth is None):
            raise InputError("depth", "give exactly one of disparity or depth")
        disp = depth_to_disparity(depth) if depth is not None else validate_disparity(disparity)
        if tuple(disp.shape[-2:]) != tuple(image.shape[-2:]):
            warnings.warn(f"{'depth' if depth is not None else 'disparity'} is {tuple(disp.shape[-2:])}, "
                          f"image is {tuple(image.shape[-2:])}: resizing it bilinearly", stacklevel=2)
            disp = resize_map(disp, image.shape[-2:])
        disp = disp.to(image.device)
        if float(disp.max() - disp.min()) == 0.0 and K > 0:
            warnings.warn("the depth/disparity map is constant: every pixel is at the same distance, so the "
                          "render is uniform (check the file)", stacklevel=2)
        # 3. focus plane
        if focus_disparity_value is not None:
            if any(v is not None for v in (focus_point, focus_box, focus_mask)):
                raise InputError("focus", "give focus_disparity_value alone, not with a point, box or mask")
            d_f = float(focus_disparity_value)
            if not math.isfinite(d_f):
                raise InputError("focus_disparity_value", f"must be finite, got {focus_disparity_value!r}")
        else:
            d_f = focus_disparity(disp, mask=focus_mask, point=focus_point, box=focus_box)
        # 4. signed CoC (px) and 5. render
        coc = signed_coc(disp, K, d_f)
        out = render_bokeh(image, coc, mode=self.mode, gamma=self.gamma, aperture=aperture,
                           flip_front=flip_front, **render_kwargs)
        return PhysicalRefocusOutput(image=out, coc=coc, disparity=disp, focus_disparity=d_f, K=K)
