"""One focus value for every pipeline: a point, a box, a mask, a disparity value, a depth region or a
text prompt — what should be sharp.

:class:`Focus` is built from code (``Focus.point(640, 380)``), from a command-line string
(``Focus.parse("640,380")``) or from the plain values the pipelines also accept (``(x, y)``,
``(x0, y0, x1, y1)``, a mask array, ``"near"``). Every pipeline turns it into what it needs with the
same three steps:

1. :meth:`Focus.check` — against the photo's size, before any model runs (a point outside the
   image, an empty box, an empty mask, an unknown region);
2. :func:`prompt_focus` — a text prompt becomes a box (an open-vocabulary detector), a point or a
   box becomes a mask when a SAM model is attached;
3. :meth:`Focus.focus_disparity` — the focus disparity ``d_f`` on a disparity map (the official
   Genfocus rules for point, box and mask; the median of a depth region; a given value, refused when it
   lies outside the map's range) or :meth:`Focus.region_mask` — the in-focus region itself (the
   dual-pixel pipeline focuses on a region).

Coordinates are in the photo's pixels; ``x`` to the right, ``y`` down.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
import torch

from ..errors import InputError
from .defocus import as_map, depth_regions, focus_disparity, resize_mask

KINDS = ("center", "point", "box", "mask", "disparity", "region", "text")
REGIONS = ("near", "middle", "far")
#: a focus disparity may lie this fraction of the map's range outside it (rounding, a value read off
#: another render); farther out is a mistake (a value in other units, a sign error)
DISPARITY_MARGIN = 0.1
SPEC_HELP = ("x,y (a point) | x0,y0,x1,y1 (a box) | MASK.png | near, middle, far (a depth region) | "
             "d=VALUE (a focus disparity) | text:PROMPT (needs a detector)")


@dataclass(frozen=True, eq=False)
class Focus:
    """What should be sharp. ``kind`` one of :data:`KINDS`; ``value`` ``(x, y)``, ``(x0, y0, x1, y1)``,
    a mask ``(H, W)`` (bool, 8-bit grey or float; in focus where > 0, as the official scripts read an
    8-bit mask), a disparity (the map's units), a region name or a prompt."""

    kind: str = "center"
    value: Any = None

    # ------------------------------------------------------------------ constructors
    @classmethod
    def center(cls) -> "Focus":
        return cls("center")

    @classmethod
    def point(cls, x: float, y: float) -> "Focus":
        return cls("point", (float(x), float(y)))

    @classmethod
    def box(cls, x0: float, y0: float, x1: float, y1: float) -> "Focus":
        return cls("box", tuple(float(v) for v in (x0, y0, x1, y1)))

    @classmethod
    def mask(cls, mask) -> "Focus":
        return cls("mask", mask)

    @classmethod
    def disparity(cls, value: float) -> "Focus":
        return cls("disparity", float(value))

    @classmethod
    def region(cls, name: str) -> "Focus":
        return cls("region", str(name))

    @classmethod
    def text(cls, prompt: str) -> "Focus":
        return cls("text", str(prompt))

    @classmethod
    def parse(cls, spec: str, name: str = "--focus") -> "Focus":
        """A command-line focus (:data:`SPEC_HELP`): ``"640,380"``, ``"10,20,300,400"``,
        ``"subject.png"``, ``"near"``, ``"d=0.35"``, ``"text:the red car"``."""
        from ..parsing import parse_floats

        s = str(spec).strip()
        if not s:
            raise InputError(name, f"is empty; give {SPEC_HELP}")
        if s in REGIONS:
            return cls.region(s)
        low = s.lower()
        if low.startswith(("d=", "disparity=")):
            return cls.disparity(parse_floats(s.split("=", 1)[1], 1, name)[0])
        if low.startswith("text:"):
            return cls.text(s[5:])
        if s[0] in "+-.0123456789" and not Path(s).suffix:
            n = s.count(",") + 1
            if n not in (2, 4):
                raise InputError(name, f"expected x,y or x0,y0,x1,y1, got {s!r}")
            vals = parse_floats(s, n, name)
            return cls.point(*vals) if n == 2 else cls.box(*vals)
        from ..io import load_mask_u8

        return cls.mask(load_mask_u8(s, name=name))

    @classmethod
    def from_option(cls, kind: str, text: str, flag: str) -> "Focus":
        """A focus given on a command line by one of several flags: ``kind`` ``spec`` (:meth:`parse`), or
        the meaning of a dedicated flag — ``point`` / ``box`` (numbers), ``mask`` (a file), ``disparity``,
        ``region``, ``text``; ``flag`` names the option in errors."""
        from ..parsing import check_float, parse_floats

        if kind == "spec":
            return cls.parse(text, flag)
        if kind in ("point", "box"):
            return getattr(cls, kind)(*parse_floats(text, 2 if kind == "point" else 4, flag))
        if kind == "mask":
            from ..io import load_mask_u8

            return cls.mask(load_mask_u8(text, name=flag))
        if kind == "disparity":
            return cls.disparity(check_float(flag, parse_floats(text, 1, flag, finite=False)[0]))
        if kind in ("region", "text"):
            return getattr(cls, kind)(text)
        raise InputError(flag, f"unknown focus kind {kind!r}")

    @classmethod
    def coerce(cls, value, name: str = "focus") -> "Focus":
        """``None`` (the image centre), a :class:`Focus`, a string (:meth:`parse`), ``(x, y)``,
        ``(x0, y0, x1, y1)`` or a mask (NumPy / torch array, PIL image)."""
        if value is None:
            return cls.center()
        if isinstance(value, Focus):
            return value
        if isinstance(value, str):
            return cls.parse(value, name)
        if isinstance(value, (np.ndarray, torch.Tensor)):
            return cls.mask(value)
        if type(value).__module__.startswith("PIL."):
            return cls.mask(np.asarray(value.convert("L")))
        if isinstance(value, (tuple, list)) and len(value) in (2, 4):
            try:
                vals = [float(v) for v in value]
            except (TypeError, ValueError):
                raise InputError(name, f"expected numbers, got {value!r}") from None
            return cls.point(*vals) if len(vals) == 2 else cls.box(*vals)
        raise InputError(name, f"expected a Focus, (x, y), (x0, y0, x1, y1), a mask, a region name or a string, "
                               f"got {type(value).__name__}")

    # ------------------------------------------------------------------ checks
    def check(self, size: Sequence[int], name: str = "focus") -> "Focus":
        """Raise :class:`InputError` (naming ``name``) when this focus cannot apply to an image of
        ``size = (H, W)``; returns self."""
        H, W = int(size[0]), int(size[1])
        if self.kind not in KINDS:
            raise InputError(name, f"unknown kind {self.kind!r}; use one of {', '.join(KINDS)}")
        if self.kind == "point":
            x, y = self.value
            if not (math.isfinite(x) and math.isfinite(y)):
                raise InputError(name, f"values must be finite numbers, got ({x:g}, {y:g})")
            if not (0 <= x < W and 0 <= y < H):
                raise InputError(name, f"({x:g}, {y:g}) lies outside the {W}×{H} image")
        elif self.kind == "box":
            x0, y0, x1, y1 = self.value
            if not all(math.isfinite(v) for v in self.value):
                raise InputError(name, f"values must be finite numbers, got {self.value}")
            if not (x1 > x0 and y1 > y0):
                raise InputError(name, f"{self.value} is empty; need x1 > x0 and y1 > y0")
            if x1 <= 0 or y1 <= 0 or x0 >= W or y0 >= H:
                raise InputError(name, f"{self.value} lies outside the {W}×{H} image")
        elif self.kind == "mask":
            m = self.value.detach().cpu().numpy() if isinstance(self.value, torch.Tensor) else np.asarray(self.value)
            if np.squeeze(m).ndim != 2:
                raise InputError(name, f"a mask must be one channel (H, W), got shape {m.shape}")
            if m.dtype != bool and np.issubdtype(m.dtype, np.floating) and not np.isfinite(m).all():
                raise InputError(name, "the mask has NaN/inf values")
            if not (m > 0).any():
                raise InputError(name, "the mask is empty (no pixel > 0): nothing would be in focus")
        elif self.kind == "disparity":
            if not math.isfinite(self.value):
                raise InputError(name, f"a focus disparity must be a finite number, got {self.value!r}")
        elif self.kind == "region":
            if self.value not in REGIONS:
                raise InputError(name, f"unknown depth region {self.value!r}; use one of {', '.join(REGIONS)}")
        elif self.kind == "text":
            if not self.value.strip():
                raise InputError(name, "the text prompt is empty")
        return self

    # ------------------------------------------------------------------ resolution
    def focus_disparity(self, disparity, original_size: Optional[Sequence[int]] = None, name: str = "focus") -> float:
        """``d_f`` on ``disparity`` (``(H, W)`` or ``(1, 1, H, W)``, any units, larger = nearer): point,
        box and mask by the official rules (:func:`~genrefocus.optics.defocus.focus_disparity`; a point
        or box given in pixels of an image of ``original_size``), a region's median, a value (refused
        beyond :data:`DISPARITY_MARGIN` of the map's range)."""
        if self.kind == "text":
            raise InputError(name, "a text focus needs a detector: attach one (pipe.text_detector) or give a "
                                   "point, box or mask")
        if self.kind == "center":
            return focus_disparity(disparity, original_size=original_size)
        if self.kind == "point":
            return focus_disparity(disparity, point=self.value, original_size=original_size)
        if self.kind == "box":
            return focus_disparity(disparity, box=self.value, original_size=original_size)
        if self.kind == "mask":
            return focus_disparity(disparity, mask=self.value, original_size=original_size)
        d = as_map(disparity, "disparity")
        if self.kind == "region":
            return _region(d, self.value, name).disparity
        lo, hi = float(d.min()), float(d.max())
        margin = DISPARITY_MARGIN * max(hi - lo, 1e-12)
        if not lo - margin <= self.value <= hi + margin:
            raise InputError(name, f"focus disparity {self.value:g} lies outside the map's range "
                                   f"[{lo:.4g}, {hi:.4g}] (same units as the map: 1/m for metric depth, [0, 1] "
                                   "for a relative map)")
        return float(self.value)

    def region_mask(self, disparity, size: Optional[Sequence[int]] = None, point_radius: float = 0.05,
                    band: float = 0.5, name: str = "focus") -> torch.Tensor:
        """The in-focus region ``(1, 1, H, W)`` bool at ``size`` (default: the map's): a mask as given
        (resized, nearest), a box as its rectangle, a point as a disc of ``point_radius`` × the long
        side, a region as its pixels, a disparity value as the pixels within ``band`` of it, the centre
        as the point there. ``disparity`` is needed for the last two kinds (else None)."""
        if size is None:
            size = as_map(disparity, "disparity").shape[-2:]
        H, W = int(size[0]), int(size[1])
        if self.kind == "text":
            self.focus_disparity(None, name=name)
        if self.kind == "mask":
            m = torch.from_numpy(np.ascontiguousarray(resize_mask(self.value, (H, W))))[None, None]
        elif self.kind == "box":
            x0, y0, x1, y1 = self.value
            m = torch.zeros(1, 1, H, W, dtype=torch.bool)
            m[..., int(max(0, y0)):max(int(max(0, y0)) + 1, int(min(H, math.ceil(y1)))),
              int(max(0, x0)):max(int(max(0, x0)) + 1, int(min(W, math.ceil(x1))))] = True
        elif self.kind in ("point", "center"):
            x, y = self.value if self.kind == "point" else (W // 2, H // 2)
            r = point_radius * max(H, W)
            yy, xx = torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij")
            m = (((yy - y) ** 2 + (xx - x) ** 2) <= r * r)[None, None]
        else:
            d = as_map(disparity, "disparity")
            if tuple(d.shape[-2:]) != (H, W):
                d = torch.nn.functional.interpolate(d, size=(H, W), mode="bilinear", align_corners=False)
            if self.kind == "region":
                m = torch.from_numpy(_region(d, self.value, name).mask)[None, None]
            else:
                self.focus_disparity(d, name=name)  # the range check
                m = (d - self.value).abs() <= band
                if not bool(m.any()):  # between the map's values: the nearest ones
                    gap = (d - self.value).abs()
                    m = gap <= float(gap.min()) + 1e-6
        if not bool(m.any()):
            raise InputError(name, "the focus region is empty")
        return m

    def describe(self) -> str:
        """A short human-readable form (for summaries and logs)."""
        if self.kind == "point":
            return "point ({:.0f}, {:.0f})".format(*self.value)
        if self.kind == "box":
            return "box ({:.0f}, {:.0f}, {:.0f}, {:.0f})".format(*self.value)
        if self.kind == "disparity":
            return f"disparity {self.value:.4g}"
        if self.kind in ("region", "text"):
            return f"{self.kind} {self.value!r}"
        return self.kind


def _region(disparity: torch.Tensor, name: str, what: str):
    try:
        regions = {r.name: r for r in depth_regions(disparity, 3)}
    except InputError as exc:
        raise InputError(what, f"the depth region {name!r} needs a map with depth variation ({exc.problem})") from None
    if name not in regions:
        raise InputError(what, f"this depth map has only {len(regions)} depth levels: use {' or '.join(regions)}")
    return regions[name]


def prompt_focus(focus: Focus, image: torch.Tensor, sam=None, text_detector=None, name: str = "focus") -> Focus:
    """Run the prompt models on ``image`` ``(1, 3, H, W)``: a text focus becomes the detector's box
    (:class:`~genrefocus.errors.InputError` without one), and then — when a ``sam`` model is given — a point or a box
    becomes SAM's mask. Other kinds are returned as they are."""
    if focus.kind == "text":
        if text_detector is None:
            raise InputError(name, "a text focus needs an open-vocabulary detector (OWLv2): load one with "
                                   "--text-model / pipe.text_detector, or give a point, box or mask")
        focus = Focus.box(*text_detector(image, focus.value))
    if sam is not None and focus.kind in ("point", "box"):
        m = sam(image, **{focus.kind: focus.value})
        return Focus.mask(m[0, 0].cpu().numpy())
    return focus


__all__ = ["DISPARITY_MARGIN", "Focus", "KINDS", "REGIONS", "SPEC_HELP", "prompt_focus"]
