"""Real training pairs from datasets on disk, for the CPU trainers (JDRL, DPDeblurNet).

A data spec is ``"SOURCE:ROOT"``: :func:`deblur_items` reads ``dpdd`` (train split, combined view),
``realdof`` or ``sdd`` (the JDRL authors' ``train_patches/{blur,gt}`` when present) into
``{"blurry", "target"}`` file records; :func:`dual_pixel_items` reads DPDD's dual-pixel train captures
into ``{"left", "right", "aif"}``. :class:`CropSampler` draws aligned random crops of one record.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..errors import InputError

DEBLUR_SOURCES = ("dpdd", "realdof", "sdd")
DUAL_PIXEL_SOURCES = ("dpdd",)


def parse_spec(spec: str, sources: tuple) -> list:
    """``"SOURCE:ROOT"`` → ``[problem, …]`` (empty when fine): a known source and an existing folder."""
    source, _, root = spec.partition(":")
    if source not in sources or not root:
        return [f"data: 'synthetic' or SOURCE:ROOT with SOURCE in {', '.join(sources)}, got {spec!r}"]
    if not Path(root).is_dir():
        return [f"data: {root!r} is not a folder"]
    return []


def deblur_items(spec: str) -> list:
    """``[{"blurry": path, "target": path}, …]`` of a ``dpdd:`` / ``realdof:`` / ``sdd:`` spec."""
    from ..data import readers

    source, _, root = spec.partition(":")
    if source == "dpdd":
        recs = readers.dpdd(root, "train", "c")
    elif source == "sdd":
        recs = readers.sdd(root, "train_patches" if (Path(root) / "train_patches").is_dir() else None)
    elif source == "realdof":
        recs = readers.realdof(root)
    else:
        raise InputError("data", f"unknown source {source!r}; use one of {', '.join(DEBLUR_SOURCES)}")
    items = [{"blurry": r["input"], "target": r["target"]} for r in recs]
    if not items:
        raise InputError("data", f"no {source} pairs under {root!r}")
    return items


def dual_pixel_items(spec: str) -> list:
    """``[{"left", "right", "aif"}, …]`` of a ``dpdd:ROOT`` spec (DPDD's train split)."""
    from ..data import readers

    source, _, root = spec.partition(":")
    if source != "dpdd":
        raise InputError("data", f"dual-pixel training data: dpdd:ROOT, got {spec!r}")
    items = [{k: r[k] for k in ("left", "right", "aif")} for r in readers.dpdd_dual_pixel(root, "train")]
    if not items:
        raise InputError("data", f"no DPDD dual-pixel captures under {root!r}")
    return items


class CropSampler:
    """Random crops of file records: :meth:`sample` picks a record, decodes its images (the last
    ``cache`` records stay in memory) and cuts the same ``size``-px window from each, with the same
    vertical flip and — when ``rotate`` — the same horizontal flip and quarter turn (off for dual-pixel
    views, whose split axis must not turn). Returns ``{key: (1, 3, size, size)}``."""

    def __init__(self, items: list, cache: int = 16, rotate: bool = True):
        if not items:
            raise InputError("data", "no training records")
        self.items, self.cache, self.rotate, self._loaded = items, cache, rotate, {}

    def _load(self, i: int) -> dict:
        from ..io import load_image

        if i not in self._loaded:
            if len(self._loaded) >= self.cache:
                self._loaded.pop(next(iter(self._loaded)))
            imgs = {k: load_image(p, name=p) for k, p in self.items[i].items()}
            shapes = {tuple(t.shape[-2:]) for t in imgs.values()}
            if len(shapes) > 1:
                raise InputError(next(iter(self.items[i].values())), f"the record's images differ in size: {shapes}")
            self._loaded[i] = imgs
        return self._loaded[i]

    def sample(self, rng: np.random.Generator, size: int) -> dict:
        imgs = self._load(int(rng.integers(len(self.items))))
        H, W = next(iter(imgs.values())).shape[-2:]
        if min(H, W) < size:
            raise InputError("size", f"crops of {size} px do not fit a {W}×{H} training image")
        y, x = int(rng.integers(H - size + 1)), int(rng.integers(W - size + 1))
        vflip = bool(rng.random() < 0.5)
        hflip, rot = (bool(rng.random() < 0.5), int(rng.integers(4))) if self.rotate else (False, 0)

        def aug(t: torch.Tensor) -> torch.Tensor:
            t = t[..., y:y + size, x:x + size]
            t = t.flip(-2) if vflip else t
            t = t.flip(-1) if hflip else t
            return t.rot90(rot, dims=(-2, -1)).contiguous()

        return {k: aug(t) for k, t in imgs.items()}


__all__ = ["CropSampler", "DEBLUR_SOURCES", "DUAL_PIXEL_SOURCES", "deblur_items", "dual_pixel_items", "parse_spec"]
