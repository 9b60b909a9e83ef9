"""Optical flow behind one interface, for aligning misaligned training pairs (JDRL, paper 004).

``estimator(target, source) → flow (B, 2, H, W)`` px (x, y) such that ``source(p + flow(p)) ≈
target(p)`` — i.e. :func:`warp` ``(source, flow)`` moves ``source`` onto ``target``.

* :class:`OpenCVFlow` — classical and offline: DIS (``cv2.DISOpticalFlow``, default preset MEDIUM) or
  Farnebäck, on the grey images; no weights.
* A learned flow (RAFT in torchvision) fits the same call; torchvision is not a dependency here, so
  none is wired — pass any callable with this signature.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


class OpenCVFlow:
    """``method``: ``"dis"`` or ``"farneback"``."""

    def __init__(self, method: str = "dis"):
        if method not in ("dis", "farneback"):
            raise ValueError(f"method must be 'dis' or 'farneback', got {method!r}")
        self.method = method

    def __call__(self, target: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
        import cv2

        def grey(t):
            g = (0.299 * t[:, 0] + 0.587 * t[:, 1] + 0.114 * t[:, 2]) if t.shape[1] == 3 else t[:, 0]
            return (g.detach().float().clamp(0, 1).cpu().numpy() * 255 + 0.5).astype(np.uint8)

        out = []
        for a, b in zip(grey(target), grey(source)):
            if self.method == "dis":
                dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
                f = dis.calc(a, b, None)
            else:
                f = cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 15, 3, 5, 1.2, 0)
            out.append(torch.from_numpy(f).permute(2, 0, 1))
        return torch.stack(out).to(target.device, target.dtype)


WARP_MODES = ("bilinear", "bicubic", "lanczos")


def warp(source: torch.Tensor, flow: torch.Tensor, mode: str = "bilinear") -> torch.Tensor:
    """``source`` ``(B, C, H, W)`` sampled at ``p + flow(p)`` (``flow`` ``(B, 2, H, W)`` px, border
    replicated). ``mode``: ``"bilinear"`` or ``"bicubic"`` (``torch.grid_sample``, differentiable in
    ``source``), or ``"lanczos"`` (OpenCV ``remap``, Lanczos-4 over 8×8 pixels; not differentiable, so it
    refuses a ``source`` that needs a gradient). Interpolation is a low-pass: moving a photo by sub-pixel
    amounts keeps about 0.54 of its fine detail (variance of the Laplacian) bilinearly, 0.86 bicubically,
    0.93 with Lanczos-4 — use Lanczos to move a *ground truth*, which must stay as sharp as a capture."""
    if mode not in WARP_MODES:
        raise ValueError(f"mode must be one of {WARP_MODES}, got {mode!r}")
    B, C, H, W = source.shape
    if flow.shape != (B, 2, H, W):
        raise ValueError(f"need flow (B, 2, H, W) = {(B, 2, H, W)}, got {tuple(flow.shape)}")
    if mode == "lanczos":
        import cv2

        if source.requires_grad:
            raise ValueError("mode='lanczos' is not differentiable; use 'bicubic' for a source that needs a gradient")
        xx, yy = np.meshgrid(np.arange(W, dtype=np.float32), np.arange(H, dtype=np.float32))
        src = source.detach().float().cpu().permute(0, 2, 3, 1).numpy()
        fl = flow.detach().float().cpu().numpy()
        out = [cv2.remap(np.ascontiguousarray(s), xx + f[0], yy + f[1], cv2.INTER_LANCZOS4,
                         borderMode=cv2.BORDER_REPLICATE) for s, f in zip(src, fl)]
        out = np.stack([o if o.ndim == 3 else o[..., None] for o in out])
        return torch.from_numpy(out).permute(0, 3, 1, 2).to(source.device, source.dtype)
    yy, xx = torch.meshgrid(torch.arange(H, device=source.device, dtype=source.dtype),
                            torch.arange(W, device=source.device, dtype=source.dtype), indexing="ij")
    x = (xx + flow[:, 0]) / max(W - 1, 1) * 2 - 1
    y = (yy + flow[:, 1]) / max(H - 1, 1) * 2 - 1
    return F.grid_sample(source, torch.stack([x, y], -1), mode=mode, padding_mode="border", align_corners=True)


__all__ = ["OpenCVFlow", "WARP_MODES", "warp"]
