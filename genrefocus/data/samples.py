"""Real samples that need no download: scikit-image's Middlebury motorcycle with its GT disparity."""

from __future__ import annotations

import numpy as np
import torch


def fill_invalid(disparity: np.ndarray) -> np.ndarray:
    """Fill non-finite or ≤ 0 values of a stereo disparity map (larger = nearer) as stereo occlusions:
    each hole takes the **farther** (smaller) of the nearest valid values to its left and right on its
    row. A pixel seen by one camera only is hidden from the other by something nearer, so it belongs
    to the background (the usual occlusion filling); a nearest-neighbour fill instead gives the
    background strips beside an object the object's disparity, which then stay sharp as a jagged
    halo when the object is in focus. Rows with no valid value take the nearest valid pixel."""
    from scipy import ndimage

    d = np.asarray(disparity, dtype=np.float64)
    bad = ~np.isfinite(d) | (d <= 0)
    if not bad.any():
        return d
    if bad.all():
        raise ValueError("disparity has no valid value")
    H, W = d.shape
    cols = np.broadcast_to(np.arange(W), (H, W))
    left_idx = np.maximum.accumulate(np.where(bad, -1, cols), axis=1)  # last valid column at or before x
    right_idx = np.minimum.accumulate(np.where(bad, W, cols)[:, ::-1], axis=1)[:, ::-1]  # first at or after x
    rows = np.arange(H)[:, None]
    left = np.where(left_idx >= 0, d[rows, left_idx.clip(0)], np.inf)
    right = np.where(right_idx < W, d[rows, right_idx.clip(max=W - 1)], np.inf)
    fill = np.minimum(left, right)
    out = np.where(bad, fill, d)
    still = ~np.isfinite(out)  # rows without any valid value
    if still.any():
        idx = ndimage.distance_transform_edt(still, return_distances=False, return_indices=True)
        out = out[tuple(idx)]
    return out


def motorcycle() -> tuple[torch.Tensor, torch.Tensor]:
    """Middlebury 'motorcycle' left view ``(1, 3, 500, 741)`` in [0, 1] and its ground-truth
    disparity, holes filled and min–max normalized to [0, 1] (1 = nearest) as ``(1, 1, H, W)``."""
    from skimage import data

    left, _right, disp = data.stereo_motorcycle()
    d = fill_invalid(disp)
    d = (d - d.min()) / (d.max() - d.min())
    img = torch.from_numpy(left.astype(np.float32) / 255.0).permute(2, 0, 1)[None]
    return img.contiguous(), torch.from_numpy(d.astype(np.float32))[None, None]
