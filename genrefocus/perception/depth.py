"""Metric depth with Depth Pro through transformers (``DepthProForDepthEstimation``).

Preprocessing is done in torch (no torchvision): bilinear resize to the model's square input
(``patch_size / min(scaled_images_ratios)``, 1536 px for Depth Pro), ``(x − 0.5)/0.5``. The
output canonical inverse depth is scaled by ``W / f_px`` (``f_px`` from the predicted field of view
or given, e.g. from EXIF), resized to the image size and inverted, as transformers'
``post_process_depth_estimation`` and the official ``depth_pro`` package do.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional, Union

import torch
import torch.nn.functional as F

from ..errors import MissingWeightsError

DEPTH_PRO_ID = "apple/DepthPro-hf"


class DepthPro:
    """Callable ``image (1, 3, H, W) in [0, 1] → depth (1, 1, H, W) in metres``."""

    def __init__(self, model, device: Union[str, torch.device, None] = None, dtype=torch.float32):
        self.model = model.eval().to(device=device, dtype=dtype) if device else model.eval().to(dtype=dtype)
        cfg = model.config
        self.input_size = int(round(cfg.patch_size / min(cfg.scaled_images_ratios)))

    @classmethod
    def from_pretrained(cls, path: Union[str, Path] = DEPTH_PRO_ID, device=None, dtype=torch.float32, **kwargs):
        """Load Depth Pro weights (hub id or local folder); a clear error says what to download."""
        from transformers import DepthProForDepthEstimation

        try:
            model = DepthProForDepthEstimation.from_pretrained(str(path), **kwargs)
        except (OSError, ValueError) as exc:
            raise MissingWeightsError(
                f"Depth Pro weights {str(path)!r} could not be loaded ({type(exc).__name__}). Download them with "
                f"`huggingface-cli download {DEPTH_PRO_ID} --local-dir ./DepthPro-hf` and pass that folder, "
                "or give a depth map (metres) yourself.") from None
        return cls(model, device=device, dtype=dtype)

    @torch.no_grad()
    def __call__(self, image: torch.Tensor, focal_length_px: Optional[float] = None) -> torch.Tensor:
        p = next(self.model.parameters())
        H, W = image.shape[-2:]
        x = F.interpolate(image.to(device=p.device, dtype=torch.float32), size=(self.input_size,) * 2,
                          mode="bilinear", align_corners=False, antialias=True)
        out = self.model(pixel_values=((x - 0.5) / 0.5).to(p.dtype))
        inv = out.predicted_depth.float()[:, None]  # (B, 1, h, w) canonical inverse depth
        if focal_length_px is None and out.field_of_view is not None:
            fov = out.field_of_view.float().reshape(-1, 1, 1, 1)
            focal_length_px = 0.5 * W / torch.tan(0.5 * torch.deg2rad(fov))
        if focal_length_px is not None:
            inv = inv * W / focal_length_px
        inv = F.interpolate(inv, size=(H, W), mode="bilinear", align_corners=False)
        return (1.0 / inv.clamp(1e-4, 1e4)).to(image.device)


def fov_to_focal_px(fov_degrees: float, width_px: int) -> float:
    """Horizontal field of view (degrees) → focal length in pixels."""
    return 0.5 * width_px / math.tan(0.5 * math.radians(fov_degrees))
