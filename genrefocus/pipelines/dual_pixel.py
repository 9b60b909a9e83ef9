"""DualPixelPipeline: refocus a dual-pixel capture — all-in-focus image and DP disparity from the two
views, then a new focus (any :class:`~genrefocus.optics.focus.Focus`: point, box, mask, text, depth
region, disparity value).

The refocusing block is swapped, not flagged: the learned model (:class:`~genrefocus.models.dp_deblur.
DPDeblurNet`, shipped and the default; or the legacy UiD model, :mod:`genrefocus.models.uid`) or the
classical baseline (:class:`~genrefocus.optics.dp_classical.ClassicalDP`: SGBM → defocus map → Wiener
deconvolution → layered renderer). :class:`DPOptions` says how the pair is read: the sensor's split
``axis`` (``horizontal`` — Canon DSLRs —, ``vertical`` — Google Pixel phones —, or ``auto``: decided by
SGBM along both axes, reported in ``meta["axis"]``) and, for the learned models, the ``tile`` size that
bounds memory (overlapping tiles blended with linear ramps; UiD's Eq. 13 focus shift is gathered over all
tiles first, so a tiled refocus uses the same shift as a whole-image one).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

import torch
import torch.nn.functional as F

from ..errors import InputError
from ..io import load_dp_pair
from ..models.dp_deblur import DPDeblurNet
from ..models.registry import load_model
from ..models.uid import UiDModel
from ..optics.dp_classical import ClassicalDP
from ..optics.dp_disparity import DP_AXES, detect_dp_axis, to_horizontal
from ..optics.focus import Focus, prompt_focus
from .result import RefocusResult

#: the learned DP model genrefocus ships and loads by default (DPDeblurNet, trained on synthetic pairs)
DEFAULT_CHECKPOINT = Path(__file__).resolve().parents[1] / "weights" / "dp_deblur"
#: the legacy UiD checkpoint (kept for comparison: it is below the input on real captures)
UID_CHECKPOINT = Path(__file__).resolve().parents[1] / "weights" / "uid"
METHODS = ("learned", "classical")


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


class DualPixelPipeline:
    """``pipe(left, right, focus=...)`` → :class:`~genrefocus.pipelines.result.RefocusResult`.

    ``model``: a learned model (:class:`DPDeblurNet`, :class:`UiDModel`) or a :class:`ClassicalDP`;
    ``sam`` / ``text_detector``: optional prompt models (a point or box becomes SAM's mask; text needs
    the detector); without SAM a point focuses on a disc of ``point_radius`` × the long side."""

    def __init__(self, model: Union[DPDeblurNet, UiDModel, ClassicalDP], sam=None, text_detector=None,
                 point_radius: float = 0.05, options: DPOptions = DPOptions()):
        self.model = model.eval() if isinstance(model, torch.nn.Module) else model
        self.sam, self.text_detector = sam, text_detector
        self.point_radius, self.options = point_radius, options

    @staticmethod
    def check_sources(checkpoint: Union[str, Path, None] = None, method: str = "learned",
                      sam_model: Optional[str] = None, text_model: Optional[str] = None,
                      allow_download: bool = False) -> dict:
        """Everything :meth:`from_pretrained` will load, checked without loading: the method, the model
        folder's type, the prompt models' sources. Returns their ``from_pretrained`` keywords."""
        from ..hub import weights_source
        from ..models.folder import read_model_type

        if method not in METHODS:
            raise InputError("method", f"must be 'learned' or 'classical', got {method!r}")
        if method == "classical" and checkpoint is not None:
            raise InputError("--checkpoint", "the classical method has no checkpoint (drop it or use method='learned')")
        if method == "learned":
            kind = read_model_type(checkpoint or DEFAULT_CHECKPOINT, "--checkpoint")
            if kind not in ("dp_deblur", "uid"):
                raise InputError("--checkpoint", f"{str(checkpoint)!r} holds a {kind!r} model, not a dual-pixel one")
        return {name: weights_source(src, f"--{name.replace('_', '-')}", allow_download)
                for name, src in (("sam_model", sam_model), ("text_model", text_model)) if src}

    @classmethod
    def from_pretrained(cls, checkpoint: Union[str, Path, None] = None, *, method: str = "learned",
                        sam_model: Optional[str] = None, text_model: Optional[str] = None,
                        allow_download: bool = False, options: DPOptions = DPOptions()) -> "DualPixelPipeline":
        """``method="learned"``: the model folder ``checkpoint`` — DPDeblurNet or UiD, by its
        ``model_type`` (default: the DPDeblurNet genrefocus ships); ``"classical"``: the SGBM +
        deconvolution baseline (no weights). ``sam_model`` / ``text_model``: prompt models (folders or Hub
        ids). Everything is checked (:meth:`check_sources`) before anything loads."""
        from ..perception.segmentation import SamPrompter, TextBoxDetector

        kw = cls.check_sources(checkpoint, method, sam_model, text_model, allow_download)
        model = ClassicalDP() if method == "classical" else load_model(checkpoint or DEFAULT_CHECKPOINT, "--checkpoint")
        sam = SamPrompter.from_pretrained(sam_model, **kw["sam_model"]) if sam_model else None
        detector = TextBoxDetector.from_pretrained(text_model, **kw["text_model"]) if text_model else None
        return cls(model, sam, detector, options=options)

    # ------------------------------------------------------------------ the pipeline
    @torch.no_grad()
    def __call__(self, left, right=None, *, focus=None) -> RefocusResult:
        """Refocus a pair (two ``(1, 3, H, W)`` tensors, two image paths, or one 2-frame file as
        ``left``) at ``focus`` (any :class:`Focus` form; default the image centre)."""
        lt, rt = self._pair(left, right)
        focus = Focus.coerce(focus).check(lt.shape[-2:])
        focus = prompt_focus(focus, (lt + rt) / 2, self.sam, self.text_detector)
        axis, note = self._axis(lt, rt)
        lh, rh = to_horizontal(lt, axis), to_horizontal(rt, axis)
        needs_disparity = focus.kind in ("region", "disparity")
        if isinstance(self.model, UiDModel):
            disp = self._tiled(lambda a, b: self.model(a, b), lh, rh)["disparity"] if needs_disparity else None
            mh = self._mask(focus, disp, lt, axis)
            sums = self._tiled(lambda a, b, c: dict(zip(("num", "den"), self.model.focus_sums(a, b, c))),
                               lh, rh, mh, reduce=True)
            if float(sums["den"].sum()) <= 0:
                raise InputError("focus", "the focus region is empty")
            shift = sums["num"] / sums["den"]
            out = self._tiled(lambda a, b: self.model.refocus(a, b, shift=shift), lh, rh)
        else:  # DPDeblurNet or the classical baseline: all-in-focus and disparity, then the physical refocus
            out = self._deblur_net(lh, rh) if isinstance(self.model, DPDeblurNet) else self.model.all_in_focus(lh, rh)
            mh = self._mask(focus, out["disparity"], lt, axis)
            capture = (lh.float() + rh.float()) / 2 if self.options.reuse_capture else None
            out.update(self.model.refocus_from(out["aif"], out["disparity"], mh, capture))
        back = {k: to_horizontal(out[k], axis).cpu() for k in ("refocused", "aif", "disparity")}
        coc = to_horizontal(out["coc"], axis).cpu() if "coc" in out else None
        mask = to_horizontal(mh.float(), axis).cpu() > 0.5
        m = mask.to(back["disparity"].dtype)
        d_f = float((back["disparity"] * m).sum() / m.sum().clamp_min(1e-8))
        return RefocusResult(image=back["refocused"].clamp(0, 1), aif=back["aif"].clamp(0, 1),
                             disparity=back["disparity"], coc=coc, focus_disparity=d_f, mask=mask,
                             meta={"axis": note, "disparity_units": "px", "focus": focus})

    @torch.no_grad()
    def all_in_focus(self, left, right=None) -> RefocusResult:
        """The all-in-focus image and the DP disparity of a pair, no focus (``image`` = ``aif``)."""
        lt, rt = self._pair(left, right)
        axis, note = self._axis(lt, rt)
        lh, rh = to_horizontal(lt, axis), to_horizontal(rt, axis)
        if isinstance(self.model, UiDModel):
            out = self._tiled(lambda a, b: self.model(a, b), lh, rh)
        elif isinstance(self.model, DPDeblurNet):
            out = self._deblur_net(lh, rh)
        else:
            out = self.model.all_in_focus(lh, rh)
        aif = to_horizontal(out["aif"], axis).cpu().clamp(0, 1)
        return RefocusResult(image=aif, aif=aif, disparity=to_horizontal(out["disparity"], axis).cpu(),
                             meta={"axis": note, "disparity_units": "px"})

    # ------------------------------------------------------------------ pieces
    def _mask(self, focus: Focus, disparity_h: Optional[torch.Tensor], image: torch.Tensor, axis: str) -> torch.Tensor:
        """The in-focus region in the horizontal layout: computed on the photo's layout (a point, box or
        mask is given there), then turned like the views."""
        disp = None if disparity_h is None else to_horizontal(disparity_h, axis)
        m = focus.region_mask(disp, size=image.shape[-2:], point_radius=self.point_radius)
        return to_horizontal(m.float(), axis)

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
            if right is None or not isinstance(right, torch.Tensor) or left.shape != right.shape:
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


__all__ = ["DEFAULT_CHECKPOINT", "DPOptions", "DualPixelPipeline", "METHODS", "UID_CHECKPOINT"]
