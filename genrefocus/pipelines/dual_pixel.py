"""DPRefocusPipeline: refocus a dual-pixel capture with the UiD model; focus by mask, point, box
(SAM when loaded) or text (OWLv2 box → SAM)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence, Union

import torch
import torch.nn.functional as F

from ..errors import InputError, MissingWeightsError
from ..models.dp_model import UiDModel, load_dp_pair

DEFAULT_CHECKPOINT = Path(__file__).resolve().parents[1] / "weights" / "uid"
OWLV2_ID = "google/owlv2-base-patch16-ensemble"


@dataclass
class DPRefocusOutput:
    """``refocused`` and ``aif`` ``(1, 3, H, W)``, ``disparity`` ``(1, 1, H, W)`` (px, the model's
    soft-argmin over the cost volume), ``mask`` the focus region used."""

    refocused: torch.Tensor
    aif: torch.Tensor
    disparity: torch.Tensor
    mask: torch.Tensor


class TextBoxDetector:
    """Open-vocabulary box for a text prompt with OWLv2 (transformers)."""

    def __init__(self, processor, model):
        self.processor, self.model = processor, model.eval()

    @classmethod
    def from_pretrained(cls, path: Union[str, Path] = OWLV2_ID, **kwargs):
        from transformers import Owlv2ForObjectDetection, Owlv2Processor

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


class DPRefocusPipeline:
    """``pipe(left, right, mask=... | point=(x, y) | box=(x0, y0, x1, y1) | text="...")``."""

    def __init__(self, model: UiDModel, sam=None, text_detector=None, point_radius: float = 0.05):
        self.model, self.sam, self.text_detector = model.eval(), sam, text_detector
        self.point_radius = point_radius

    @classmethod
    def from_pretrained(cls, path: Union[str, Path, None] = None, sam=None, text_detector=None) -> "DPRefocusPipeline":
        """The UiD checkpoint (default: the small one shipped with genrefocus)."""
        return cls(UiDModel.from_pretrained(path or DEFAULT_CHECKPOINT), sam, text_detector)

    def focus_mask(self, image: torch.Tensor, mask=None, point: Optional[Sequence[float]] = None,
                   box: Optional[Sequence[float]] = None, text: Optional[str] = None) -> torch.Tensor:
        """The focus region ``(1, 1, H, W)`` bool from exactly one prompt."""
        given = [n for n, v in (("mask", mask), ("point", point), ("box", box), ("text", text)) if v is not None]
        if len(given) != 1:
            raise InputError("focus", "give exactly one of mask, point, box or text")
        H, W = image.shape[-2:]
        if mask is not None:
            m = torch.as_tensor(mask).float()
            m = m.view(1, 1, *m.shape[-2:])
            m = F.interpolate(m, size=(H, W), mode="nearest") > 0.5
        elif text is not None:
            if self.text_detector is None:
                raise MissingWeightsError("a text prompt needs OWLv2 (DPRefocusPipeline(..., text_detector="
                                          "TextBoxDetector.from_pretrained(...)))")
            return self.focus_mask(image, box=self.text_detector(image, text))
        elif point is not None:
            x, y = point
            if not (0 <= x < W and 0 <= y < H):
                raise InputError("focus point", f"({x:g}, {y:g}) lies outside the {W}×{H} image")
            if self.sam is not None:
                m = self.sam(image, point=point)
            else:  # no SAM: a disc around the point
                r = self.point_radius * max(H, W)
                yy, xx = torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij")
                m = (((yy - y) ** 2 + (xx - x) ** 2) <= r * r)[None, None]
        else:
            x0, y0, x1, y1 = box
            if not (x1 > x0 and y1 > y0) or x1 <= 0 or y1 <= 0 or x0 >= W or y0 >= H:
                raise InputError("focus box", f"{tuple(box)} is empty or outside the {W}×{H} image")
            if self.sam is not None:
                m = self.sam(image, box=box)
            else:
                m = torch.zeros(1, 1, H, W, dtype=torch.bool)
                m[..., int(max(0, y0)):int(min(H, y1)), int(max(0, x0)):int(min(W, x1))] = True
        if not bool(m.any()):
            raise InputError("focus", "the focus region is empty")
        return m

    @torch.no_grad()
    def __call__(self, left, right=None, *, mask=None, point=None, box=None, text=None) -> DPRefocusOutput:
        lt, rt = self._pair(left, right)
        m = self.focus_mask((lt + rt) / 2, mask, point, box, text)
        out = self._run(self.model.refocus, lt, rt, m.float())
        return DPRefocusOutput(refocused=out["refocused"], aif=out["aif"], disparity=out["disparity"], mask=m)

    @torch.no_grad()
    def all_in_focus(self, left, right=None) -> tuple:
        """``(aif (1, 3, H, W), disparity (1, 1, H, W) px)`` of a pair, with no focus prompt (the web
        app hands both to the physical renderer)."""
        out = self._run(self.model, *self._pair(left, right))
        return out["aif"], out["disparity"]

    @staticmethod
    def _pair(left, right) -> tuple:
        if isinstance(left, torch.Tensor):
            if right is None or left.shape != right.shape:
                raise InputError("dual-pixel pair", "give two views of the same size")
            return left, right
        return load_dp_pair(left, right)

    def _run(self, fn, lt, rt, *maps) -> dict:
        """``fn`` on the pair (and maps) padded to the model's stride, outputs cropped back."""
        H, W = lt.shape[-2:]
        mult = 2 ** (self.model.config.stages - 1)
        ph, pw = (-H) % mult, (-W) % mult
        p = next(self.model.parameters())
        pad = lambda t: F.pad(t.float(), (0, pw, 0, ph), mode="replicate").to(p.device)  # noqa: E731
        out = fn(*(pad(t) for t in (lt, rt, *maps)))
        crop = lambda t: t[..., :H, :W].cpu().clamp(0, 1) if t.shape[1] == 3 else t[..., :H, :W].cpu()  # noqa: E731
        return {k: crop(v) for k, v in out.items()}
