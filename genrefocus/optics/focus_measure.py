"""Focus measures: variance of the Laplacian (global and local map) and a sharpness in-focus mask.

docs/design.md §3.6. The Laplacian is the 4-neighbour stencil ``[[0,1,0],[1,-4,1],[0,1,0]]`` (OpenCV's
``ksize=1``) on luma (Rec. 601) of an image in [0, 1]; reflect padding.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

LAPLACE_STENCIL = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])


def to_gray(image: torch.Tensor) -> torch.Tensor:
    """``(B, C, H, W)`` → ``(B, 1, H, W)`` luma (Rec. 601) or the single channel."""
    if image.ndim == 3:
        image = image[None]
    if image.shape[1] == 1:
        return image
    w = torch.tensor([0.299, 0.587, 0.114], dtype=image.dtype, device=image.device).view(1, 3, 1, 1)
    return (image[:, :3] * w).sum(1, keepdim=True)


def laplacian(image: torch.Tensor) -> torch.Tensor:
    """4-neighbour Laplacian of the luma, ``(B, 1, H, W)``."""
    g = to_gray(image)
    k = LAPLACE_STENCIL.to(g.dtype).to(g.device)[None, None]
    return F.conv2d(F.pad(g, (1, 1, 1, 1), mode="reflect"), k)


def variance_of_laplacian(image: torch.Tensor) -> torch.Tensor:
    """Global focus measure: variance of the Laplacian per image, ``(B,)``. Higher = sharper."""
    lap = laplacian(image)
    return lap.flatten(1).var(dim=1, unbiased=False)


def checkerboard_energy(image: torch.Tensor) -> torch.Tensor:
    """Energy of the pixel-scale grid per image, ``(B,)``: the mean square of the luma filtered by
    ``[[1, -1], [-1, 1]] / 4`` (no padding), whose response is 1 at the Nyquist frequency on both axes
    and 0 along either axis's DC. A checkerboard of amplitude ``c`` gives ``c²``; smooth content almost
    nothing. The artefact a restoration model draws where it invents "detail" (a checkerboard has the
    largest Laplacian per unit of amplitude); compare an output's to its input's."""
    g = to_gray(image)
    k = torch.tensor([[1.0, -1.0], [-1.0, 1.0]], dtype=g.dtype, device=g.device).view(1, 1, 2, 2) / 4
    return (F.conv2d(g, k) ** 2).flatten(1).mean(1)


def local_variance_of_laplacian(image: torch.Tensor, window: int = 15) -> torch.Tensor:
    """Local focus map: variance of the Laplacian in a ``window``² box around every pixel,
    ``(B, 1, H, W)``."""
    lap = laplacian(image)
    r = window // 2
    pad = lambda t: F.pad(t, (r, r, r, r), mode="reflect")  # noqa: E731
    m = F.avg_pool2d(pad(lap), window, stride=1)
    m2 = F.avg_pool2d(pad(lap * lap), window, stride=1)
    return (m2 - m * m).clamp_min(0)


def sharpness_mask(image: torch.Tensor, window: int = 15, min_area: float = 0.01) -> torch.Tensor:
    """In-focus mask from local sharpness, for when no segmentation model is available.

    Otsu threshold on ``log(1 + local LV)``, morphological opening/closing, then the connected
    components larger than ``min_area`` of the image. Returns a bool ``(B, 1, H, W)`` mask; an
    image without texture gives an all-False mask.
    """
    from scipy.ndimage import binary_closing, binary_opening
    from skimage.filters import threshold_otsu
    from skimage.morphology import disk, remove_small_objects

    lv = torch.log1p(local_variance_of_laplacian(image, window) * 1e4)
    out = []
    for b in range(lv.shape[0]):
        a = lv[b, 0].cpu().numpy().astype(np.float64)
        if a.max() - a.min() < 1e-6:
            out.append(np.zeros_like(a, dtype=bool))
            continue
        m = a > threshold_otsu(a)
        rad = max(1, window // 4)
        m = binary_closing(binary_opening(m, disk(rad)), disk(rad))
        if m.any():
            try:  # scikit-image ≥ 0.26 names the threshold max_size, older releases min_size
                m = remove_small_objects(m, max_size=int(min_area * m.size))
            except TypeError:
                m = remove_small_objects(m, min_size=int(min_area * m.size) + 1)
        out.append(m)
    return torch.from_numpy(np.stack(out))[:, None].to(image.device)
