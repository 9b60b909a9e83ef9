"""Depth estimators through transformers, behind one interface: ``estimate(image) → DepthEstimate``.

* :class:`DepthAnything` — Depth Anything V2 Small (``depth-anything/Depth-Anything-V2-Small-hf``,
  Apache-2.0, ~25 M parameters): **relative** inverse depth, fast on a CPU; the default for the
  physical path, which works on normalised disparity.
* :class:`DepthPro` — Apple's Depth Pro: **metric** depth in metres (research-only licence, 1.9 GB,
  best on a GPU); BokehNet's defocus map uses 1/metres as the official code does.

Depth Pro:

Preprocessing is done in torch (no torchvision): bilinear resize to the model's square input
(``patch_size / min(scaled_images_ratios)``, 1536 px for Depth Pro), ``(x − 0.5)/0.5``. The
output canonical inverse depth is scaled by ``W / f_px`` (``f_px`` from the predicted field of view
or given, e.g. from EXIF), resized to the image size and inverted, as transformers'
``post_process_depth_estimation`` and the official ``depth_pro`` package do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

import torch
import torch.nn.functional as F

from ..errors import MissingWeightsError
from ..hub import download_command

DEPTH_PRO_ID = "apple/DepthPro-hf"
DEPTH_ANYTHING_ID = "depth-anything/Depth-Anything-V2-Small-hf"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class DepthEstimate:
    """What a depth estimator returns, with its kind explicit.

    ``disparity`` ``(B, 1, H, W)``: larger = nearer. ``metric`` True: in 1/m (``depth_m`` = 1/disparity
    is metres); False: relative, min–max normalised to [0, 1] per image (no scale: use it with the
    physical renderer's K, not with BokehNet's metric defocus map)."""

    disparity: torch.Tensor
    metric: bool

    @property
    def depth_m(self) -> torch.Tensor:
        if not self.metric:
            raise ValueError("a relative depth estimate has no metric depth; use a metric estimator (Depth Pro)")
        return 1.0 / self.disparity.clamp_min(1e-6)


def _load(cls_name: str, path, hub_id: str, what: str, kwargs):
    from ..errors import require

    transformers = require("transformers", "depth", what)

    try:
        return getattr(transformers, cls_name).from_pretrained(str(path), **kwargs)
    except (OSError, ValueError) as exc:
        raise MissingWeightsError(
            f"{what} weights {str(path)!r} could not be loaded ({type(exc).__name__}). Download them with "
            f"`{download_command(hub_id)}` and pass that folder, or give a depth/disparity map yourself.") from None


class DepthAnything:
    """Callable ``image (B, 3, H, W) in [0, 1] → relative disparity (B, 1, H, W) in [0, 1]`` (1 = nearest).

    Preprocessing as the model's image processor (DPT): keep the aspect ratio, scale so the side whose
    scale is closest to 1 reaches ``input_size`` (518), both sides rounded to a multiple of the patch
    size (14), bicubic; ImageNet mean/std. The prediction is resized back bilinearly and min–max
    normalised per image."""

    metric = False

    def __init__(self, model, device: Union[str, torch.device, None] = None, dtype=torch.float32,
                 input_size: int = 518):
        self.model = model.eval().to(device=device, dtype=dtype) if device else model.eval().to(dtype=dtype)
        self.patch = int(model.config.patch_size)
        self.input_size = int(input_size)

    @classmethod
    def from_pretrained(cls, path: Union[str, Path] = DEPTH_ANYTHING_ID, device=None, dtype=torch.float32, **kwargs):
        """Load Depth Anything (V2) weights (hub id or local folder); a clear error says what to download."""
        return cls(_load("DepthAnythingForDepthEstimation", path, DEPTH_ANYTHING_ID, "Depth Anything", kwargs),
                   device=device, dtype=dtype)

    def input_shape(self, H: int, W: int) -> tuple:
        """The network's input ``(h, w)`` for an ``H × W`` image (DPT ``keep_aspect_ratio`` resize)."""
        sh, sw = self.input_size / H, self.input_size / W
        scale = sw if abs(1 - sw) < abs(1 - sh) else sh
        h = max(self.patch, int(round(H * scale / self.patch)) * self.patch)
        w = max(self.patch, int(round(W * scale / self.patch)) * self.patch)
        return h, w

    def preprocess(self, image: torch.Tensor) -> torch.Tensor:
        """``(B, 3, H, W)`` in [0, 1] → the network's ``pixel_values`` (float32, on the image's device)."""
        x = F.interpolate(image.float(), size=self.input_shape(*image.shape[-2:]), mode="bicubic",
                          align_corners=False, antialias=True).clamp(0, 1)
        mean = x.new_tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        std = x.new_tensor(IMAGENET_STD).view(1, 3, 1, 1)
        return (x - mean) / std

    @torch.no_grad()
    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        p = next(self.model.parameters())
        H, W = image.shape[-2:]
        x = self.preprocess(image.to(p.device))
        pred = self.model(pixel_values=x.to(p.dtype)).predicted_depth.float()[:, None]
        pred = F.interpolate(pred, size=(H, W), mode="bilinear", align_corners=False)
        lo = pred.amin(dim=(-2, -1), keepdim=True)
        hi = pred.amax(dim=(-2, -1), keepdim=True)
        return ((pred - lo) / (hi - lo).clamp_min(1e-8)).to(image.device)

    def estimate(self, image: torch.Tensor) -> DepthEstimate:
        return DepthEstimate(self(image), metric=False)


class DepthPro:
    """Callable ``image (1, 3, H, W) in [0, 1] → depth (1, 1, H, W) in metres``."""

    metric = True

    def __init__(self, model, device: Union[str, torch.device, None] = None, dtype=torch.float32):
        self.model = model.eval().to(device=device, dtype=dtype) if device else model.eval().to(dtype=dtype)
        cfg = model.config
        self.input_size = int(round(cfg.patch_size / min(cfg.scaled_images_ratios)))

    @classmethod
    def from_pretrained(cls, path: Union[str, Path] = DEPTH_PRO_ID, device=None, dtype=torch.float32, **kwargs):
        """Load Depth Pro weights (hub id or local folder); a clear error says what to download."""
        return cls(_load("DepthProForDepthEstimation", path, DEPTH_PRO_ID, "Depth Pro", kwargs),
                   device=device, dtype=dtype)

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


    def estimate(self, image: torch.Tensor, focal_length_px: Optional[float] = None) -> DepthEstimate:
        return DepthEstimate(1.0 / self(image, focal_length_px).clamp_min(1e-6), metric=True)


class RelativeAsMetric:
    """A relative estimator where metres are needed (BokehNet's defocus map): the normalised disparity
    ``d`` ∈ [0, 1] is read as ``d / near_m`` in 1/m — the nearest point at ``near_m`` metres, the
    farthest at infinity (depth clamped at ``far_m``). The scale is a convention, not a measurement:
    with it K keeps its usual range (CoC px per 1/m, subjects 1 m to infinity), and the focus is still
    set on the photo. Callable ``image → depth (B, 1, H, W) m``, as :class:`DepthPro`."""

    metric = True

    def __init__(self, estimator, near_m: float = 1.0, far_m: float = 1000.0):
        if not (0 < near_m < far_m):
            raise ValueError(f"need 0 < near_m < far_m, got {near_m}, {far_m}")
        self.estimator, self.near_m, self.far_m = estimator, float(near_m), float(far_m)

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        d = self.estimator(image)
        return self.near_m / d.clamp_min(self.near_m / self.far_m)

    def estimate(self, image: torch.Tensor) -> DepthEstimate:
        return DepthEstimate(1.0 / self(image), metric=True)


def load_depth_estimator(path: Union[str, Path], metric: bool = False, device=None, dtype=torch.float32,
                         **kwargs):
    """Depth Pro or Depth Anything, chosen by the checkpoint's ``model_type`` (its ``config.json``, in a
    local folder or the HF cache). ``metric=True`` (BokehNet): Depth Anything comes wrapped in
    :class:`RelativeAsMetric`; ``metric=False`` (the physical renderer): Depth Pro still returns
    metres — use ``.estimate(image).disparity`` for either."""
    import json

    s = str(path)
    local = Path(s).expanduser()
    try:
        if local.is_dir():
            config = json.loads((local / "config.json").read_text())
        else:
            from huggingface_hub import hf_hub_download

            config = json.loads(Path(hf_hub_download(s, "config.json", local_files_only=kwargs.get(
                "local_files_only", False))).read_text())
    except Exception as exc:  # noqa: BLE001 - missing, not cached, unreadable: one message
        raise MissingWeightsError(f"depth model {s!r}: no readable config.json ({type(exc).__name__}); download "
                                  f"`{download_command(DEPTH_ANYTHING_ID)}` or `{download_command(DEPTH_PRO_ID)}`, "
                                  "or give a depth map yourself") from None
    kind = config.get("model_type")
    if kind == "depth_pro":
        return DepthPro.from_pretrained(s, device=device, dtype=dtype, **kwargs)
    if kind == "depth_anything":
        est = DepthAnything.from_pretrained(s, device=device, dtype=dtype, **kwargs)
        return RelativeAsMetric(est) if metric else est
    raise MissingWeightsError(f"depth model {s!r} is a {kind!r} model; genrefocus reads Depth Pro and Depth "
                              "Anything checkpoints")


def fov_to_focal_px(fov_degrees: float, width_px: int) -> float:
    """Horizontal field of view (degrees) → focal length in pixels."""
    return 0.5 * width_px / math.tan(0.5 * math.radians(fov_degrees))
