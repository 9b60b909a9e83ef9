"""In-focus masks and prompted segmentation behind small interfaces.

* :class:`SamPrompter` — SAM through transformers (``SamModel``) for point / box prompts, with
  torch preprocessing (long side → ``image_size``, ImageNet normalization, bottom-right padding).
* :class:`BiRefNetSegmenter` — salient-object mask with BiRefNet; its modelling code lives on the
  Hub, so it runs only when the user opts in with ``trust_remote_code=True``.
* :class:`TextBoxDetector` — an open-vocabulary box for a text prompt with OWLv2 (transformers).
* :func:`in_focus_mask` — BiRefNet / rembg when available, else the local-sharpness mask of
  :func:`genrefocus.optics.sharpness_mask` (no model).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence, Union

import torch
import torch.nn.functional as F

from ..errors import InputError, MissingWeightsError, require
from ..hub import download_command

SAM_ID = "facebook/sam-vit-base"
OWLV2_ID = "google/owlv2-base-patch16-ensemble"
BIREFNET_ID = "ZhengPeng7/BiRefNet"
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


def _normalize(x: torch.Tensor) -> torch.Tensor:
    m = torch.tensor(_IMAGENET_MEAN, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    s = torch.tensor(_IMAGENET_STD, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    return (x - m) / s


class SamPrompter:
    """``mask = sam(image, point=(x, y))`` or ``sam(image, box=(x0, y0, x1, y1))`` → bool
    ``(1, 1, H, W)``; prompts in image pixels."""

    def __init__(self, model, device=None):
        self.model = model.eval().to(device) if device else model.eval()
        self.size = int(model.config.vision_config.image_size)

    @classmethod
    def from_pretrained(cls, path: Union[str, Path] = SAM_ID, device=None, **kwargs):
        SamModel = require("transformers", "depth", "SAM").SamModel

        try:
            model = SamModel.from_pretrained(str(path), **kwargs)
        except (OSError, ValueError) as exc:
            raise MissingWeightsError(
                f"SAM weights {str(path)!r} could not be loaded ({type(exc).__name__}); download them with "
                f"`{download_command(SAM_ID)}`, or pass a mask yourself.") from None
        return cls(model, device)

    @torch.no_grad()
    def __call__(self, image: torch.Tensor, point: Optional[Sequence[float]] = None,
                 box: Optional[Sequence[float]] = None) -> torch.Tensor:
        if (point is None) == (box is None):
            raise InputError("prompt", "give exactly one of point or box")
        p = next(self.model.parameters())
        H, W = image.shape[-2:]
        s = self.size / max(H, W)
        h, w = int(H * s + 0.5), int(W * s + 0.5)
        x = F.interpolate(image.to(p.device, torch.float32), size=(h, w), mode="bilinear", align_corners=False,
                          antialias=True)
        x = F.pad(_normalize(x), (0, self.size - w, 0, self.size - h))
        kw = {}
        if point is not None:
            if not (0 <= point[0] < W and 0 <= point[1] < H):
                raise InputError("focus point", f"({point[0]:g}, {point[1]:g}) lies outside the {W}×{H} image")
            kw["input_points"] = torch.tensor([[[[point[0] * s, point[1] * s]]]], device=p.device)
            kw["input_labels"] = torch.ones(1, 1, 1, dtype=torch.long, device=p.device)
        else:
            kw["input_boxes"] = torch.tensor([[[v * s for v in box]]], device=p.device)
        out = self.model(pixel_values=x.to(p.dtype), multimask_output=False, **kw)
        low = out.pred_masks[:, 0, :1].float()  # (1, 1, h', w')
        full = F.interpolate(low, size=(self.size, self.size), mode="bilinear", align_corners=False)[..., :h, :w]
        return (F.interpolate(full, size=(H, W), mode="bilinear", align_corners=False) > 0).to(image.device)


class TextBoxDetector:
    """``box = detector(image, "the red car")`` → ``(x0, y0, x1, y1)`` image pixels: the highest-scoring
    OWLv2 box for the prompt."""

    def __init__(self, processor, model):
        self.processor, self.model = processor, model.eval()

    @classmethod
    def from_pretrained(cls, path: Union[str, Path] = OWLV2_ID, **kwargs):
        transformers = require("transformers", "depth", "OWLv2 text boxes")
        Owlv2ForObjectDetection, Owlv2Processor = transformers.Owlv2ForObjectDetection, transformers.Owlv2Processor

        try:
            return cls(Owlv2Processor.from_pretrained(str(path), **kwargs),
                       Owlv2ForObjectDetection.from_pretrained(str(path), **kwargs))
        except (OSError, ValueError) as exc:
            raise MissingWeightsError(f"OWLv2 {str(path)!r} could not be loaded ({type(exc).__name__}); download "
                                      f"{OWLV2_ID} or give a point, box or mask instead of text") from None

    @torch.no_grad()
    def __call__(self, image: torch.Tensor, text: str) -> tuple:
        from ..io import to_uint8

        H, W = image.shape[-2:]
        inputs = self.processor(text=[[text]], images=to_uint8(image), return_tensors="pt")
        out = self.model(**inputs)
        side = max(H, W)  # OWLv2 pads to a square
        post = getattr(self.processor, "post_process_grounded_object_detection", None) or \
            self.processor.post_process_object_detection  # transformers < 4.48 name
        res = post(out, threshold=0.0, target_sizes=[(side, side)])[0]
        if len(res["scores"]) == 0:
            raise InputError("text", f"no region found for {text!r}")
        x0, y0, x1, y1 = res["boxes"][int(res["scores"].argmax())].tolist()
        return max(0.0, x0), max(0.0, y0), min(W, x1), min(H, y1)


class BiRefNetSegmenter:
    """Salient-object (in-focus subject) mask with BiRefNet; ``(1, 1, H, W)`` bool."""

    def __init__(self, model, device=None, size: int = 1024):
        self.model = model.eval().to(device) if device else model.eval()
        self.size = size

    @classmethod
    def from_pretrained(cls, path: Union[str, Path] = BIREFNET_ID, trust_remote_code: bool = False, device=None):
        if not trust_remote_code:
            raise InputError("BiRefNet", "its model code is downloaded from the Hub and executed; opt in with "
                                         "trust_remote_code=True (CLI: --trust-remote-code), or use the sharpness "
                                         "mask / a mask file instead")
        AutoModelForImageSegmentation = require("transformers", "depth", "BiRefNet").AutoModelForImageSegmentation

        try:
            model = AutoModelForImageSegmentation.from_pretrained(str(path), trust_remote_code=True)
        except (OSError, ValueError) as exc:
            raise MissingWeightsError(f"BiRefNet {str(path)!r} could not be loaded ({type(exc).__name__}); "
                                      f"download {BIREFNET_ID} or pass a mask yourself") from None
        return cls(model, device)

    @torch.no_grad()
    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        p = next(self.model.parameters())
        H, W = image.shape[-2:]
        x = F.interpolate(image.to(p.device, torch.float32), size=(self.size, self.size), mode="bilinear",
                          align_corners=False, antialias=True)
        logits = self.model(_normalize(x).to(p.dtype))[-1].float()
        prob = F.interpolate(logits.sigmoid(), size=(H, W), mode="bilinear", align_corners=False)
        return (prob > 0.5).to(image.device)


def in_focus_mask(image: torch.Tensor, segmenter=None) -> torch.Tensor:
    """In-focus mask ``(1, 1, H, W)``: ``segmenter(image)`` when given (BiRefNet, SAM closure, …),
    else rembg if installed, else the local-sharpness mask."""
    if segmenter is not None:
        return segmenter(image)
    from ..optics.focus_measure import sharpness_mask

    try:
        from rembg import remove  # optional: pip install rembg
    except ImportError:
        return sharpness_mask(image)
    import warnings

    import numpy as np

    from ..io import to_uint8

    try:
        alpha = np.asarray(remove(to_uint8(image), only_mask=True)) > 127
    except Exception as exc:  # noqa: BLE001 - rembg fetches its model on first use; offline it fails
        warnings.warn(f"rembg failed ({type(exc).__name__}: {exc}); using the sharpness mask", stacklevel=2)
        return sharpness_mask(image)
    return torch.from_numpy(alpha)[None, None].to(image.device)


def load_prompt_models(sam_model: Optional[str] = None, text_model: Optional[str] = None,
                       allow_download: bool = False, device=None) -> tuple:
    """``(sam, text_detector)`` for :func:`~genrefocus.optics.focus.prompt_focus`: each loaded from its
    folder or Hub id when given (else None), its source checked first (:func:`genrefocus.hub.weights_source`:
    no download unless ``allow_download``)."""
    from ..hub import weights_source

    sam_kw = weights_source(sam_model, "--sam-model", allow_download) if sam_model else None
    text_kw = weights_source(text_model, "--text-model", allow_download) if text_model else None
    sam = SamPrompter.from_pretrained(sam_model, device=device, **sam_kw) if sam_model else None
    detector = TextBoxDetector.from_pretrained(text_model, **text_kw) if text_model else None
    return sam, detector
