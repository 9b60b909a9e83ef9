"""Token tiling of the denoiser as the official Genfocus code does it (docs/design.md §4.1).

Tiles are 32×32 tokens (512 px) with overlap 4, stride 28, origins ``arange(0, L − 31, 28)`` plus
``L − 32`` when needed; every tile gathers the same token indices from the latent and each
condition; noise predictions are blended with ``exp(−(x² + y²))``, ``x = linspace(−2, 2, 32)``,
normalized by the summed weights; the scheduler steps once on the full latent.

The official quirks are explicit arguments here (set from
:class:`~genrefocus.pipelines.options.SamplerOptions`): the tile ``order`` of its ``meshgrid`` and
the dtype the blend accumulates in.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

TILE = 32
OVERLAP = TILE // 8
STRIDE = TILE - OVERLAP


def tile_origins(n_tokens: int, tile: int = TILE, stride: int = STRIDE) -> list:
    """Tile start indices along one axis of ``n_tokens`` tokens."""
    o = list(np.arange(0, max(1, n_tokens - tile + 1), stride, dtype=np.int64))
    if o[-1] + tile < n_tokens:
        o.append(n_tokens - tile)
    return [int(v) for v in o]


def tile_grid(h_tokens: int, w_tokens: int, order: str = "row-major") -> list:
    """``(row, col)`` origins of all tiles. ``order="official"`` runs over columns in the outer
    loop (the official ``np.meshgrid(rows, cols)`` raveled); ``"row-major"`` over rows."""
    rows, cols = tile_origins(h_tokens), tile_origins(w_tokens)
    if order == "official":
        return [(r, c) for c in cols for r in rows]
    if order != "row-major":
        raise ValueError(f"tile order must be 'row-major' or 'official', got {order!r}")
    return [(r, c) for r in rows for c in cols]


def gaussian_weights(tile: int = TILE, dtype=torch.float32, device=None) -> torch.Tensor:
    """Flattened ``(tile²,)`` blending weights ``exp(−(x²+y²))`` on ``linspace(−2, 2, tile)``."""
    d = torch.linspace(-2, 2, tile, dtype=dtype, device=device)
    return torch.exp(-(d[:, None] ** 2 + d[None] ** 2)).flatten()


def use_tiling(height: int, width: int, disable: bool = False) -> bool:
    """Official rule: tile when the token grid has ≥ 1024 tokens, unless min(H, W) < 512 px or disabled."""
    return not disable and (height // 16) * (width // 16) >= TILE * TILE and min(height, width) >= 512


@dataclass
class TilePlan:
    """Tiles of an ``h_tokens × w_tokens`` grid in ``order``: origins and token indices per tile."""

    h_tokens: int
    w_tokens: int
    order: str = "row-major"
    origins: list = field(init=False)
    indices: list = field(init=False)

    def __post_init__(self):
        self.origins = tile_grid(self.h_tokens, self.w_tokens, self.order)
        idx = torch.arange(self.h_tokens * self.w_tokens).reshape(self.h_tokens, self.w_tokens)
        self.indices = [idx[r:r + TILE, c:c + TILE].flatten() for r, c in self.origins]

    def __len__(self) -> int:
        return len(self.indices)

    def blend(self, predictions, n_tokens: int, dtype, accumulate_dtype=torch.float32) -> torch.Tensor:
        """Blend per-tile predictions ``[(B, 1024, C)]`` (in plan order) into ``(B, n_tokens, C)``,
        accumulating in ``accumulate_dtype`` (the official code: the latents' dtype)."""
        first = predictions[0]
        w = gaussian_weights(dtype=accumulate_dtype, device=first.device)
        acc = torch.zeros(first.shape[0], n_tokens, first.shape[-1], dtype=accumulate_dtype, device=first.device)
        wsum = torch.zeros(first.shape[0], n_tokens, dtype=accumulate_dtype, device=first.device)
        for ind, pred in zip(self.indices, predictions):
            ind = ind.to(first.device)
            acc[:, ind] += pred.to(accumulate_dtype) * w[None, :, None]
            wsum[:, ind] += w
        return (acc / wsum.unsqueeze(-1)).to(dtype)
