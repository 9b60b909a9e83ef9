"""PSNR and SSIM computed by our own code (torch), matching scikit-image's definitions.

Images ``(B, C, H, W)`` (or ``(C, H, W)`` / ``(H, W)``) in ``[0, data_range]``. SSIM follows
``skimage.metrics.structural_similarity``: per-channel SSIM maps averaged over channels and the
valid (un-padded) area; ``gaussian=True`` is Wang et al.'s protocol (σ = 1.5, 11×11 window,
sample covariance off), ``gaussian=False`` skimage's default 7×7 uniform window with sample
covariance. Written by hand so the core install needs no scikit-image at run time and it runs
batched on the GPU; tests check it against scikit-image to 1e-4.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _bchw(x) -> torch.Tensor:
    x = torch.as_tensor(x, dtype=torch.float64) if not isinstance(x, torch.Tensor) else x.to(torch.float64)
    while x.ndim < 4:
        x = x[None]
    return x


def psnr(pred, target, data_range: float = 1.0) -> torch.Tensor:
    """PSNR (dB) per batch item, ``(B,)``; ``inf`` for identical images."""
    p, t = _bchw(pred), _bchw(target)
    mse = ((p - t) ** 2).mean(dim=(1, 2, 3))
    return 10.0 * torch.log10(data_range ** 2 / mse)


def _filter(x: torch.Tensor, win: torch.Tensor) -> torch.Tensor:
    """Separable 'valid' filtering of every channel with the 1-D window ``win``."""
    C = x.shape[1]
    k = win.shape[-1]
    x = F.conv2d(x, win.reshape(1, 1, k, 1).expand(C, 1, k, 1), groups=C)
    return F.conv2d(x, win.reshape(1, 1, 1, k).expand(C, 1, 1, k), groups=C)


def ssim(pred, target, data_range: float = 1.0, gaussian: bool = True, win_size: int | None = None,
         k1: float = 0.01, k2: float = 0.03) -> torch.Tensor:
    """Mean SSIM per batch item, ``(B,)`` (see module doc for the two protocols)."""
    p, t = _bchw(pred), _bchw(target)
    if gaussian:
        sigma = 1.5
        ws = win_size or 11  # skimage: truncate 3.5 sigma -> 2*int(3.5*1.5+0.5)+1 = 11
        r = ws // 2
        g = torch.exp(-(torch.arange(-r, r + 1, dtype=torch.float64) ** 2) / (2 * sigma ** 2))
        win = g / g.sum()
        cov_norm = 1.0
    else:
        ws = win_size or 7
        win = torch.full((ws,), 1.0 / ws, dtype=torch.float64)
        n = ws * ws
        cov_norm = n / (n - 1.0)
    if min(p.shape[-2:]) < ws:
        raise ValueError(f"images of size {tuple(p.shape[-2:])} are smaller than the SSIM window {ws}")
    win = win.to(p.device)
    ux, uy = _filter(p, win), _filter(t, win)
    uxx, uyy, uxy = _filter(p * p, win), _filter(t * t, win), _filter(p * t, win)
    vx = cov_norm * (uxx - ux * ux)
    vy = cov_norm * (uyy - uy * uy)
    vxy = cov_norm * (uxy - ux * uy)
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    return s.mean(dim=(1, 2, 3))
