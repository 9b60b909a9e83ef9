"""Real samples that need no download: scikit-image's Middlebury motorcycle with its GT disparity."""

from __future__ import annotations

import numpy as np
import torch


def fill_invalid(disparity: np.ndarray) -> np.ndarray:
    """Replace non-finite or ≤ 0 values by the nearest valid value (Euclidean nearest neighbour)."""
    from scipy import ndimage

    d = np.asarray(disparity, dtype=np.float64)
    bad = ~np.isfinite(d) | (d <= 0)
    if not bad.any():
        return d
    if bad.all():
        raise ValueError("disparity has no valid value")
    idx = ndimage.distance_transform_edt(bad, return_distances=False, return_indices=True)
    return d[tuple(idx)]


def motorcycle() -> tuple[torch.Tensor, torch.Tensor]:
    """Middlebury 'motorcycle' left view ``(1, 3, 500, 741)`` in [0, 1] and its ground-truth
    disparity, holes filled and min–max normalized to [0, 1] (1 = nearest) as ``(1, 1, H, W)``."""
    from skimage import data

    left, _right, disp = data.stereo_motorcycle()
    d = fill_invalid(disp)
    d = (d - d.min()) / (d.max() - d.min())
    img = torch.from_numpy(left.astype(np.float32) / 255.0).permute(2, 0, 1)[None]
    return img.contiguous(), torch.from_numpy(d.astype(np.float32))[None, None]
