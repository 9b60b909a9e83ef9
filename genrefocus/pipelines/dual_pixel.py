"""DPRefocusPipeline: refocus a dual-pixel capture; focus by mask, point, box (SAM when loaded) or text
(OWLv2 box → SAM).

The refocusing block is swapped, not flagged: the learned UiD model (:class:`UiDModel`) or the
classical baseline (:class:`~genrefocus.optics.dp_classical.ClassicalDP`: SGBM → defocus map →
Wiener deconvolution → layered renderer). :class:`DPOptions` says how the pair is read: the sensor's
split ``axis`` (``horizontal`` — Canon DSLRs —, ``vertical`` — Google Pixel phones —, or ``auto``:
decided by SGBM along both axes, reported in the output) and, for the learned models, the ``tile``
size that bounds memory (overlapping tiles blended with linear ramps; Eq. 13's focus shift is
gathered over all tiles first, so a tiled refocus uses the same shift as a whole-image one)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence, Union

import torch
import torch.nn.functional as F

from ..errors import InputError, MissingWeightsError
from ..models.dp_deblur import DPDeblurNet
from ..models.dp_model import UiDModel, load_dp_pair
from ..optics.dp_classical import ClassicalDP
from ..optics.dp_disparity import DP_AXES, detect_dp_axis, to_horizontal

#: the learned DP model genrefocus ships and loads by default (DPDeblurNet, trained on synthetic pairs)
DEFAULT_CHECKPOINT = Path(__file__).resolve().parents[1] / "weights" / "dp_deblur"
#: the earlier UiD checkpoint (kept for comparison: it is below the input on real captures)
UID_CHECKPOINT = Path(__file__).resolve().parents[1] / "weights" / "uid"
OWLV2_ID = "google/owlv2-base-patch16-ensemble"


@dataclass
class DPRefocusOutput:
    """``refocused`` and ``aif`` ``(1, 3, H, W)``, ``disparity`` ``(1, 1, H, W)`` (px along the split
    axis; ``left(x) ≈ right(x − d)``), ``mask`` the focus region used, ``axis`` the split axis used
    (with the evidence when it was detected)."""

    refocused: Optional[torch.Tensor]
    aif: torch.Tensor
    disparity: torch.Tensor
    mask: Optional[torch.Tensor]
    axis: str = "horizontal"


@dataclass(frozen=True)
class DPOptions:
    """``axis``: ``horizontal | vertical | auto``; ``tile``: tile side (px) for the learned model, 0 =
    the whole pair at once; ``overlap``: px shared by neighbouring tiles; ``fill_disparity``: fill
    DPDeblurNet's disparity on textureless regions from their surroundings
    (:func:`~genrefocus.optics.dp_disparity.fill_textureless`; a flat region has no parallax to read);
    ``reuse_capture``: refocus from the capture ``(L + R)/2`` itself wherever the target is blurrier than
    it, the all-in-focus estimate only where the target is sharper
    (:func:`~genrefocus.optics.dp_disparity.refocus_from_disparity`; DPDeblurNet and the classical
    method — UiD has its own learned refocus)."""

    axis: str = "auto"
    tile: int = 320
    overlap: int = 32
    fill_disparity: bool = True
    reuse_capture: bool = True

    def __post_init__(self):
        if self.axis not in DP_AXES:
            raise InputError("axis", f"must be one of {', '.join(DP_AXES)}, got {self.axis!r}")
        if not (isinstance(self.tile, int) and (self.tile == 0 or self.tile >= 64)):
            raise InputError("tile", f"must be 0 (no tiling) or ≥ 64 px, got {self.tile!r}")
        if not (isinstance(self.overlap, int) and 0 <= self.overlap and (self.tile == 0 or 2 * self.overlap < self.tile)):
            raise InputError("overlap", f"must be ≥ 0 and under half the tile, got {self.overlap!r}")
        for name in ("fill_disparity", "reuse_capture"):
            if not isinstance(getattr(self, name), bool):
                raise InputError(name, f"must be True or False, got {getattr(self, name)!r}")


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


def load_dp_model(path: Union[str, Path]):
    """A learned DP model folder: :class:`~genrefocus.models.dp_deblur.DPDeblurNet` when its
    ``config.json`` says ``"model_type": "dp_deblur"``, else :class:`UiDModel`."""
    import json

    cfg = Path(path) / "config.json"
    try:
        kind = json.loads(cfg.read_text()).get("model_type")
    except (OSError, ValueError):
        raise MissingWeightsError(f"{str(path)!r} is not a dual-pixel checkpoint folder (no readable config.json)") from None
    if kind == "dp_deblur":
        from ..models.dp_deblur import DPDeblurNet

        return DPDeblurNet.from_pretrained(path)
    return UiDModel.from_pretrained(path)


class DPRefocusPipeline:
    """``pipe(left, right, mask=... | point=(x, y) | box=(x0, y0, x1, y1) | text="...")``.

    ``model``: a :class:`UiDModel` or a :class:`ClassicalDP`; ``options``: :class:`DPOptions`."""

    def __init__(self, model: Union[UiDModel, ClassicalDP], sam=None, text_detector=None, point_radius: float = 0.05,
                 options: DPOptions = DPOptions()):
        self.model = model.eval() if isinstance(model, torch.nn.Module) else model
        self.sam, self.text_detector = sam, text_detector
        self.point_radius, self.options = point_radius, options

    @classmethod
    def from_pretrained(cls, path: Union[str, Path, None] = None, sam=None, text_detector=None,
                        method: str = "learned", options: DPOptions = DPOptions()) -> "DPRefocusPipeline":
        """``method="learned"``: the checkpoint at ``path`` — UiD or DPDeblurNet, by its config's
        ``model_type`` (default: the one shipped with genrefocus); ``"classical"``: the SGBM +
        deconvolution baseline (no weights)."""
        if method == "classical":
            if path is not None:
                raise InputError("checkpoint", "the classical method has no checkpoint")
            return cls(ClassicalDP(), sam, text_detector, options=options)
        if method != "learned":
            raise InputError("method", f"must be 'learned' or 'classical', got {method!r}")
        return cls(load_dp_model(path or DEFAULT_CHECKPOINT), sam, text_detector, options=options)

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
        axis, note = self._axis(lt, rt)
        lh, rh, mh = (to_horizontal(t, axis) for t in (lt, rt, m.float()))
        if isinstance(self.model, UiDModel):
            sums = self._tiled(lambda a, b, c: dict(zip(("num", "den"), self.model.focus_sums(a, b, c))),
                               lh, rh, mh, reduce=True)
            if float(sums["den"].sum()) <= 0:
                raise InputError("mask", "the focus mask is empty")
            shift = sums["num"] / sums["den"]
            out = self._tiled(lambda a, b: self.model.refocus(a, b, shift=shift), lh, rh)
        elif isinstance(self.model, DPDeblurNet):
            out = self._deblur_net(lh, rh)
            capture = (lh.float() + rh.float()) / 2 if self.options.reuse_capture else None
            out.update(self.model.refocus_from(out["aif"], out["disparity"], mh, capture))
        else:  # a block with its own refocus (the classical baseline)
            out = self.model.refocus(lh, rh, mh, reuse_capture=self.options.reuse_capture)
        back = {k: to_horizontal(out[k], axis) for k in ("refocused", "aif", "disparity")}
        back = {k: v.cpu().clamp(0, 1) if v.shape[1] == 3 else v.cpu() for k, v in back.items()}
        return DPRefocusOutput(mask=m, axis=note, **back)

    @torch.no_grad()
    def all_in_focus(self, left, right=None) -> DPRefocusOutput:
        """The all-in-focus image and disparity of a pair, with no focus prompt (``refocused`` and
        ``mask`` are None)."""
        lt, rt = self._pair(left, right)
        axis, note = self._axis(lt, rt)
        lh, rh = to_horizontal(lt, axis), to_horizontal(rt, axis)
        if isinstance(self.model, UiDModel):
            out = self._tiled(lambda a, b: self.model(a, b), lh, rh)
        elif isinstance(self.model, DPDeblurNet):
            out = self._deblur_net(lh, rh)
        else:
            out = self.model.all_in_focus(lh, rh)
        return DPRefocusOutput(refocused=None, aif=to_horizontal(out["aif"], axis).cpu().clamp(0, 1),
                               disparity=to_horizontal(out["disparity"], axis).cpu(), mask=None, axis=note)

    def _deblur_net(self, lh, rh) -> dict:
        """DPDeblurNet over tiles, on views balanced over the whole pair first; its disparity filled on
        textureless regions (``options.fill_disparity``)."""
        from ..optics.dp_disparity import fill_textureless
        from ..optics.dp_synthesis import balance_views

        lb, rb = balance_views(lh.float(), rh.float())
        out = self._tiled(lambda a, b: self.model(a, b), lb, rb)
        if self.options.fill_disparity:
            out["disparity"] = fill_textureless(out["disparity"], (lb + rb) / 2)
        return out

    def _axis(self, lt, rt) -> tuple:
        if self.options.axis != "auto":
            return self.options.axis, self.options.axis
        found = detect_dp_axis(lt, rt)
        return found.axis, str(found)

    @staticmethod
    def _pair(left, right) -> tuple:
        if isinstance(left, torch.Tensor):
            if right is None or left.shape != right.shape:
                raise InputError("dual-pixel pair", "give two views of the same size")
            return left, right
        return load_dp_pair(left, right)

    def _tiled(self, fn, *maps, reduce: bool = False) -> dict:
        """``fn`` over overlapping tiles of ``maps`` (each padded to the model's stride). Image-like
        outputs are blended with linear ramps over the overlap; with ``reduce`` (focus sums) the last
        map — the mask — is weighted by each tile's share of the blend, so every pixel counts once,
        and the per-tile sums are added."""
        H, W = maps[0].shape[-2:]
        tiles = self._tiles(H, W)
        total = torch.zeros(1, 1, H, W)
        for y, x, h, w in tiles:
            total[..., y:y + h, x:x + w] += self._ramp(y, x, h, w, H, W)
        acc = {}
        for y, x, h, w in tiles:
            share = self._ramp(y, x, h, w, H, W) / total[..., y:y + h, x:x + w]
            crop = [t[..., y:y + h, x:x + w] for t in maps]
            if reduce:
                crop[-1] = crop[-1] * share.to(crop[-1].dtype)
            for k, v in self._run(fn, *crop, zero_last=reduce).items():
                if reduce:
                    acc[k] = acc.get(k, 0) + v
                    continue
                if k not in acc:
                    acc[k] = torch.zeros(v.shape[0], v.shape[1], H, W)
                acc[k][..., y:y + h, x:x + w] += v * share
        return acc

    def _tiles(self, H: int, W: int) -> list:
        """``(y, x, h, w)`` of the tiles: side ``tile``, neighbours sharing ``2·overlap`` px."""
        T, ov = self.options.tile, self.options.overlap
        if T == 0 or (H <= T and W <= T):
            return [(0, 0, H, W)]
        starts = lambda n: sorted(set(list(range(0, max(1, n - T), T - 2 * ov)) + [max(0, n - T)]))  # noqa: E731
        return [(y, x, min(T, H), min(T, W)) for y in starts(H) for x in starts(W)]

    def _ramp(self, y, x, h, w, H, W) -> torch.Tensor:
        """Blend weights of one tile: linear over ``2·overlap`` px on each side that meets another tile."""
        ov = self.options.overlap

        def axis(n, start, total):
            r = torch.ones(n)
            if ov > 0 and start > 0:
                r[:2 * ov] = torch.linspace(0.02, 1, 2 * ov)
            if ov > 0 and start + n < total:
                r[-2 * ov:] = torch.minimum(r[-2 * ov:], torch.linspace(1, 0.02, 2 * ov))
            return r
        return (axis(h, y, H)[:, None] * axis(w, x, W)[None])[None, None]

    def _run(self, fn, *maps, zero_last: bool = False) -> dict:
        """``fn`` on the maps padded to the model's stride (replicated borders; zeros for the last map
        with ``zero_last``), full-size outputs cropped back, all on the CPU."""
        H, W = maps[0].shape[-2:]
        mult = self.model.stride
        ph, pw = (-H) % mult, (-W) % mult
        p = next(self.model.parameters())
        padded = [F.pad(t.float(), (0, pw, 0, ph), mode="constant" if zero_last and i == len(maps) - 1 else "replicate")
                  .to(p.device) for i, t in enumerate(maps)]
        out = fn(*padded)
        return {k: (v[..., :H, :W] if v.shape[-2:] == padded[0].shape[-2:] else v).cpu() for k, v in out.items()}
