"""Where the models work: the official input preprocessing and the map from the photo's pixels to it.

The official Genfocus scripts (``resize_and_pad_image``) do one of two things:

* no ``long_side``: each side rounded **up** to a multiple of 16 and the image stretched to it
  (Lanczos) — the photo's pixels map by ``x · W/W₀``;
* ``long_side = L``: the long side scaled to ``L`` (the short one to ``int(s · L / l)``), then both
  **floored** to multiples of 16 (at least 16) by a centre crop.

:class:`ImageFrame` records that geometry once and maps points, boxes, masks and depth given in the
photo's pixels onto the working image, either exactly (through the scale and the crop) or as the
official code does (working size / original size, ignoring the crop; ``mapping="official"``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

import numpy as np
import torch

from ..errors import InputError
from ..io import resize_image


@dataclass(frozen=True)
class ImageFrame:
    """The official preprocessing geometry: ``original`` ``(H₀, W₀)`` → ``resized`` ``(Hr, Wr)`` →
    a ``crop`` ``(top, left)`` window of ``working`` ``(H, W)`` (multiples of 16)."""

    original: Tuple[int, int]
    resized: Tuple[int, int]
    crop: Tuple[int, int]
    working: Tuple[int, int]
    long_side: Optional[int] = None

    @classmethod
    def plan(cls, height: int, width: int, long_side: Optional[int] = None) -> "ImageFrame":
        """The geometry ``resize_and_pad_image`` gives an ``height × width`` image."""
        if long_side is not None and long_side != 0:
            if isinstance(long_side, bool) or int(long_side) != long_side or long_side < 16:
                raise InputError("long_side", f"must be an integer ≥ 16 (or 0/None to keep the size), got {long_side!r}")
            L = int(long_side)
            if width >= height:
                rw, rh = L, int(height * (L / width))
            else:
                rh, rw = L, int(width * (L / height))
            rh, rw = max(rh, 1), max(rw, 1)
            fh, fw = max(rh // 16 * 16, 16), max(rw // 16 * 16, 16)
            return cls((height, width), (rh, rw), ((rh - fh) // 2, (rw - fw) // 2), (fh, fw), L)
        fh, fw = -(-height // 16) * 16, -(-width // 16) * 16
        return cls((height, width), (fh, fw), (0, 0), (fh, fw), None)

    def apply(self, x: torch.Tensor, quantize_8bit: bool = False) -> torch.Tensor:
        """The working image from the photo ``(1, 3, H₀, W₀)``: resize (Lanczos), then crop."""
        x = resize_image(x, self.resized, quantize_8bit)
        (t, l), (h, w) = self.crop, self.working
        return x[..., t:t + h, l:l + w]

    # -------------------------------------------------------------- mapping photo pixels to working
    def point(self, xy: Sequence[float], mapping: str = "exact") -> Tuple[float, float]:
        """A point ``(x, y)`` in the photo's pixels → working pixels (float; the focus rule takes
        ``int()`` of it). ``"exact"``: pixel centres map to pixel centres through the resize and the
        crop, so ``int()`` gives the working pixel that holds the photo's pixel. Raises
        :class:`InputError` when the point is outside the photo."""
        x, y = float(xy[0]), float(xy[1])
        (h0, w0), (h, w) = self.original, self.working
        if not (np.isfinite(x) and np.isfinite(y)) or not (0 <= x < w0 and 0 <= y < h0):
            raise InputError("focus point", f"({x:g}, {y:g}) lies outside the {w0}×{h0} image")
        if mapping == "official":
            return x * (w / w0), y * (h / h0)
        (rh, rw), (t, l) = self.resized, self.crop
        xw, yw = (int(x) + 0.5) * (rw / w0) - l, (int(y) + 0.5) * (rh / h0) - t
        return min(max(xw, 0.0), w - 1e-3), min(max(yw, 0.0), h - 1e-3)

    def box(self, box: Sequence[float], mapping: str = "exact") -> Tuple[float, float, float, float]:
        """A box ``(x0, y0, x1, y1)`` in the photo's pixels → working pixels (clipped to it)."""
        x0, y0, x1, y1 = (float(v) for v in box)
        (h0, w0), (h, w) = self.original, self.working
        if not all(np.isfinite(v) for v in (x0, y0, x1, y1)) or not (x1 > x0 and y1 > y0):
            raise InputError("focus box", f"({x0:g}, {y0:g}, {x1:g}, {y1:g}) is empty; need x1 > x0, y1 > y0")
        if x1 <= 0 or y1 <= 0 or x0 >= w0 or y0 >= h0:
            raise InputError("focus box", f"({x0:g}, {y0:g}, {x1:g}, {y1:g}) lies outside the {w0}×{h0} image")
        if mapping == "official":
            sx, sy, l, t = w / w0, h / h0, 0.0, 0.0
        else:
            (rh, rw), (t, l) = self.resized, self.crop
            sx, sy = rw / w0, rh / h0
        X0, X1 = min(max(x0 * sx - l, 0.0), w - 1.0), min(max(x1 * sx - l, 1.0), float(w))
        Y0, Y1 = min(max(y0 * sy - t, 0.0), h - 1.0), min(max(y1 * sy - t, 1.0), float(h))
        return X0, Y0, max(X1, X0 + 1e-3), max(Y1, Y0 + 1e-3)

    def mask(self, mask, mapping: str = "exact"):
        """An in-focus mask at any size → a mask the working image's focus rule can resize directly:
        unchanged (official, or no crop), else resized (PIL NEAREST) to the resized photo and cropped."""
        if mapping == "official" or self.crop == (0, 0) and self.resized == self.working:
            return mask
        from ..optics.defocus import resize_mask

        (t, l), (h, w) = self.crop, self.working
        return resize_mask(mask, self.resized)[t:t + h, l:l + w]

    def depth(self, depth, mapping: str = "exact"):
        """Metric depth of the photo → depth the working image's rule can resize directly: unchanged
        (official, or no crop), else resized (OpenCV bilinear) to the resized photo and cropped."""
        if mapping == "official" or self.crop == (0, 0) and self.resized == self.working:
            return depth
        import cv2

        from ..optics.defocus import as_map

        d = as_map(depth, "depth")[0, 0].cpu().numpy().astype(np.float32)
        (rh, rw), (t, l), (h, w) = self.resized, self.crop, self.working
        if d.shape != (rh, rw):
            d = cv2.resize(d, (rw, rh), interpolation=cv2.INTER_LINEAR)
        return torch.from_numpy(np.ascontiguousarray(d[t:t + h, l:l + w]))[None, None]

    def output(self, image: torch.Tensor, output_size: str = "original", quantize_8bit: bool = False) -> torch.Tensor:
        """A working-size result at the size the user gets: the photo's size (``"original"``, when
        no ``long_side`` was asked), else the working size."""
        if output_size == "working" or self.long_side is not None:
            return image
        return resize_image(image, self.original, quantize_8bit)


def working_size(height: int, width: int, long_side: Optional[int] = None) -> tuple:
    """``(H, W)`` the models run at for an ``height × width`` photo (:meth:`ImageFrame.plan`)."""
    return ImageFrame.plan(height, width, long_side).working


__all__ = ["ImageFrame", "resize_image", "working_size"]
