"""Bokeh level K from EXIF with the thin-lens model (paper Eq. 3, docs/design.md §3.2).

The CoC radius on the sensor of a point at depth ``Z`` when focused at ``D_f`` is

    c_sensor [mm] = f² · D_f / (2 · F · (D_f − f)) · |1/Z − 1/D_f|          (f, D_f, Z in mm)

With disparity ``d = 1/Z`` in 1/m (so ``1/Z[mm] = d / 1000``) and ``pixel_ratio`` = image long
edge (px) / sensor long side (mm), the CoC in pixels is ``K·|d − d_f|`` with

    K [px·m] = f² · D_f / (2 · F · (D_f − f)) · pixel_ratio / 1000.

``D_f`` comes from the in-focus mask and the depth map (Eq. 4: median depth in the mask), never
from the EXIF focus distance. Every failure returns a :class:`KEstimate` with ``K = None`` and a
reason; nothing falls back to a silent default.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping, Optional

import numpy as np

# EXIF tag ids (PIL's Image.getexif() / get_ifd(0x8769))
_TAGS = {
    "Make": 0x010F, "Model": 0x0110, "FNumber": 0x829D, "FocalLength": 0x920A,
    "FocalPlaneXResolution": 0xA20E, "FocalPlaneYResolution": 0xA20F,
    "FocalPlaneResolutionUnit": 0xA210, "FocalLengthIn35mmFilm": 0xA405,
    "PixelXDimension": 0xA002, "PixelYDimension": 0xA003,
}
_UNIT_MM = {1: None, 2: 25.4, 3: 10.0, 4: 1.0, 5: 0.001}  # FocalPlaneResolutionUnit → mm
FULL_FRAME_DIAGONAL_MM = math.hypot(36.0, 24.0)  # 43.27 mm

#: Sensor long side (mm) of common bodies without FocalPlane* or 35 mm-equivalent EXIF fields.
#: Keys are lower-case "make model" substrings; first match wins.
CAMERA_SENSOR_WIDTH_MM = {
    "canon eos 5d": 36.0, "canon eos 6d": 35.8, "canon eos r5": 36.0, "canon eos r6": 35.9,
    "canon eos 80d": 22.5, "canon eos 90d": 22.3, "canon eos 7d": 22.3, "canon eos 700d": 22.3,
    "nikon d850": 35.9, "nikon d750": 35.9, "nikon d7500": 23.5, "nikon z 6": 35.9,
    "nikon z 7": 35.9, "sony ilce-7": 35.8, "sony ilce-6": 23.5, "fujifilm x-t": 23.5,
    "olympus e-m": 17.3, "panasonic dc-gh": 17.3,
}


@dataclass
class KEstimate:
    """Result of :func:`k_from_exif`. ``K`` in px·m of the image it was computed for, or None
    with ``reason`` saying why it cannot be estimated."""

    K: Optional[float]
    reason: Optional[str] = None
    focal_length_mm: Optional[float] = None
    f_number: Optional[float] = None
    focus_distance_m: Optional[float] = None
    sensor_width_mm: Optional[float] = None
    sensor_source: Optional[str] = None
    pixel_ratio: Optional[float] = None
    details: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.K is not None


def thin_lens_k(focal_length_mm: float, f_number: float, focus_distance_m: float,
                pixel_ratio: float) -> float:
    """Eq. 3: ``K = f²·D_f / (2F(D_f − f)) · pixel_ratio / 1000`` in px·m (see module doc)."""
    f, Df = float(focal_length_mm), float(focus_distance_m) * 1000.0
    if not (f > 0 and f_number > 0 and pixel_ratio > 0):
        raise ValueError("focal length, f-number and pixel ratio must be positive")
    if Df <= f:
        raise ValueError(f"focus distance {Df:g} mm must exceed the focal length {f:g} mm")
    return f * f * Df / (2.0 * f_number * (Df - f)) * pixel_ratio / 1000.0


def _num(v) -> Optional[float]:
    if v is None:
        return None
    try:
        x = float(v[0]) / float(v[1]) if isinstance(v, tuple) else float(v)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return x if math.isfinite(x) and x > 0 else None


def read_exif(path_or_image) -> dict:
    """Camera fields of an image file or PIL image as a plain ``{name: value}`` dict."""
    from PIL import Image

    img = Image.open(path_or_image) if not isinstance(path_or_image, Image.Image) else path_or_image
    exif = img.getexif()
    merged = dict(exif)
    try:
        merged.update(exif.get_ifd(0x8769))  # Exif sub-IFD holds FNumber, FocalLength, ...
    except Exception:  # noqa: BLE001 - a broken sub-IFD just means fewer fields
        pass
    out = {name: merged.get(tag) for name, tag in _TAGS.items() if merged.get(tag) is not None}
    out["ImageSize"] = img.size
    return out


def sensor_width_mm(exif: Mapping, image_size_wh) -> tuple[Optional[float], str]:
    """Sensor long side (mm) and where it came from, or ``(None, reason)``.

    Order: FocalPlaneXResolution/Unit; FocalLengthIn35mmFilm (crop factor on the diagonal,
    split by the image aspect); the camera table.
    """
    w, h = image_size_wh
    long_px = float(max(exif.get("PixelXDimension") or 0, exif.get("PixelYDimension") or 0)
                    or max(w, h))
    res, unit = _num(exif.get("FocalPlaneXResolution")), exif.get("FocalPlaneResolutionUnit")
    if res and unit in _UNIT_MM and _UNIT_MM[unit]:
        return long_px / res * _UNIT_MM[unit], "FocalPlaneXResolution"
    f, f35 = _num(exif.get("FocalLength")), _num(exif.get("FocalLengthIn35mmFilm"))
    if f and f35:
        diag = FULL_FRAME_DIAGONAL_MM * f / f35
        aspect = max(w, h) / max(1, min(w, h))
        return diag * aspect / math.hypot(aspect, 1.0), "FocalLengthIn35mmFilm"
    model = f"{exif.get('Make') or ''} {exif.get('Model') or ''}".strip().lower()
    for key, width in CAMERA_SENSOR_WIDTH_MM.items():
        if key in model:
            return width, "camera table"
    return None, ("no FocalPlaneXResolution, no FocalLengthIn35mmFilm and camera "
                  f"{model or '(no Make/Model)'!r} not in the sensor table")


def focus_distance_from_mask(depth_m: np.ndarray, mask: np.ndarray) -> Optional[float]:
    """Eq. 4: median depth (m) inside the in-focus mask (same size), or None if the mask is empty."""
    depth_m, mask = np.asarray(depth_m, np.float64), np.asarray(mask) > 0.5
    vals = depth_m[mask & np.isfinite(depth_m) & (depth_m > 0)]
    return float(np.median(vals)) if vals.size else None


def k_from_exif(exif: Mapping, focus_distance_m: Optional[float], working_long_edge_px: Optional[int] = None,
                image_size_wh=None) -> KEstimate:
    """K (px·m at the working resolution) from EXIF fields and the focus distance (m).

    Args:
        exif: fields as returned by :func:`read_exif` (FNumber, FocalLength, ...).
        focus_distance_m: ``D_f`` from the in-focus mask and depth (:func:`focus_distance_from_mask`).
        working_long_edge_px: long edge of the image the CoC will be measured on (default: the
            original image's), so ``pixel_ratio = working long edge / sensor long side``.
        image_size_wh: original ``(W, H)``; defaults to ``exif["ImageSize"]``.
    """
    size = image_size_wh or exif.get("ImageSize")
    f, F = _num(exif.get("FocalLength")), _num(exif.get("FNumber"))
    est = KEstimate(K=None, focal_length_mm=f, f_number=F, focus_distance_m=focus_distance_m)
    missing = [n for n, v in (("FocalLength", f), ("FNumber", F)) if v is None]
    if missing:
        est.reason = f"cannot estimate K: EXIF lacks {', '.join(missing)}"
        return est
    if size is None:
        est.reason = "cannot estimate K: image size unknown"
        return est
    width, source = sensor_width_mm(exif, size)
    if width is None:
        est.reason = f"cannot estimate K: sensor size unknown ({source})"
        return est
    est.sensor_width_mm, est.sensor_source = width, source
    if focus_distance_m is None or not math.isfinite(focus_distance_m) or focus_distance_m <= 0:
        est.reason = "cannot estimate K: no focus distance (empty in-focus mask or invalid depth)"
        return est
    if focus_distance_m * 1000.0 <= f:
        est.reason = (f"cannot estimate K: focus distance {focus_distance_m:.3g} m is not beyond "
                      f"the focal length {f:g} mm")
        return est
    long_edge = float(working_long_edge_px or max(size))
    est.pixel_ratio = long_edge / width
    est.K = thin_lens_k(f, F, focus_distance_m, est.pixel_ratio)
    return est
