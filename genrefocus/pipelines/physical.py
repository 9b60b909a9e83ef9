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
from ..optics.render import DEFAULT_MODE, MODES, Gamma, render_bokeh


@dataclass
class PhysicalRefocusOutput:
    """``image`` ``(1, 3, H, W)`` in [0, 1]; ``coc`` signed CoC (px) ``(1, 1, H, W)``;
    ``disparity`` used ``(1, 1, H, W)``; ``focus_disparity`` ``d_f``; ``K``."""

    image: torch.Tensor
    coc: torch.Tensor
    disparity: torch.Tensor
    focus_disparity: float
    K: float


@dataclass
class FocusPullOutput:
    """``frames`` ``(N, 3, H, W)`` in [0, 1]; per frame, the focus disparity and K used."""

    frames: torch.Tensor
    focus_disparity: list
    K: list


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
        mode: renderer (:data:`~genrefocus.optics.render.MODES`; default ``"layered"``).
        gamma: linearization (BokehMe's 4.0, or ``"srgb"``).
        device: where to render (default: the image's device).
    """

    def __init__(self, mode: str = DEFAULT_MODE, gamma: Gamma = 4.0, device: Union[str, torch.device, None] = None):
        if mode not in MODES:
            raise InputError("mode", f"unknown renderer {mode!r}; choose one of {', '.join(MODES)}")
        self.mode, self.gamma, self.device = mode, gamma, device

    def __call__(self, image: torch.Tensor, *, disparity: Optional[torch.Tensor] = None,
                 depth: Optional[torch.Tensor] = None, K: float = 20.0,
                 focus_point: Optional[Sequence[float]] = None, focus_box: Optional[Sequence[float]] = None,
                 focus_mask: Optional[torch.Tensor] = None, focus_disparity_value: Optional[float] = None,
                 aperture: Union[Aperture, str, None] = None, flip_front: Optional[bool] = None,
                 **render_kwargs) -> PhysicalRefocusOutput:
        # 1. inputs, 2. disparity at the image size (depth → 1/depth)
        image, disp = self._prepare(image, disparity, depth, K)
        K = validate_k(K)
        aperture = parse_aperture(aperture)
        # 3. focus plane
        d_f = self._focus(disp, focus_point, focus_box, focus_mask, focus_disparity_value)
        # 4. signed CoC (px) and 5. render
        coc = signed_coc(disp, K, d_f)
        out = render_bokeh(image, coc, mode=self.mode, gamma=self.gamma, aperture=aperture,
                           flip_front=flip_front, **render_kwargs)
        return PhysicalRefocusOutput(image=out, coc=coc, disparity=disp, focus_disparity=d_f, K=K)

    def focus_pull(self, image: torch.Tensor, *, disparity: Optional[torch.Tensor] = None,
                   depth: Optional[torch.Tensor] = None, start: Sequence[float], end: Sequence[float],
                   frames: int = 48, K: float = 20.0, K_end: Optional[float] = None,
                   aperture: Union[Aperture, str, None] = None, ease: str = "smooth", batch: int = 4,
                   progress: bool = True) -> FocusPullOutput:
        """A rack-focus animation from one photo: the focal plane moves from the disparity at point
        ``start`` (x, y) to the one at ``end`` over ``frames`` frames — linearly in disparity (a
        focus ring turns linearly in 1/distance), eased with smoothstep (``ease="smooth"``) or not
        (``"linear"``); K goes from ``K`` to ``K_end`` (default: fixed). Frames are rendered
        ``batch`` at a time. Returns the frames ``(N, 3, H, W)`` and the per-frame focus and K."""
        from tqdm.auto import tqdm

        image, disp = self._prepare(image, disparity, depth, K)
        if image.shape[0] != 1:
            raise InputError("image", "a focus pull takes one image")
        if not (isinstance(frames, int) and 2 <= frames <= 1000):
            raise InputError("frames", f"must be an integer in [2, 1000], got {frames!r}")
        if not (isinstance(batch, int) and batch >= 1):
            raise InputError("batch", f"must be a positive integer, got {batch!r}")
        if ease not in ("smooth", "linear"):
            raise InputError("ease", f"must be 'smooth' or 'linear', got {ease!r}")
        K0 = validate_k(K)
        K1 = K0 if K_end is None else validate_k(K_end)
        aperture = parse_aperture(aperture)
        d0 = self._focus(disp, start, None, None, None)
        d1 = self._focus(disp, end, None, None, None)
        t = torch.linspace(0.0, 1.0, frames, dtype=torch.float64)
        if ease == "smooth":
            t = t * t * (3 - 2 * t)
        focus = [d0 + (d1 - d0) * float(u) for u in t]
        ks = [K0 + (K1 - K0) * float(u) for u in t]
        out = []
        for i in tqdm(range(0, frames, batch), desc="focus pull", unit="batch", disable=not progress):
            n = min(batch, frames - i)
            coc = torch.cat([signed_coc(disp, ks[i + j], focus[i + j]) for j in range(n)])
            out.append(render_bokeh(image.expand(n, -1, -1, -1).contiguous(), coc, mode=self.mode, gamma=self.gamma,
                                    aperture=aperture))
        return FocusPullOutput(frames=torch.cat(out), focus_disparity=focus, K=ks)

    def _prepare(self, image, disparity, depth, K) -> tuple:
        image = check_image(image)
        if self.device is not None:
            image = image.to(self.device)
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
                          "render is uniform (check the file)", stacklevel=3)
        return image, disp

    @staticmethod
    def _focus(disp, focus_point, focus_box, focus_mask, focus_disparity_value) -> float:
        if focus_disparity_value is not None:
            if any(v is not None for v in (focus_point, focus_box, focus_mask)):
                raise InputError("focus", "give focus_disparity_value alone, not with a point, box or mask")
            d_f = float(focus_disparity_value)
            if not math.isfinite(d_f):
                raise InputError("focus_disparity_value", f"must be finite, got {focus_disparity_value!r}")
        else:
            d_f = focus_disparity(disp, mask=focus_mask, point=focus_point, box=focus_box)
        return d_f
