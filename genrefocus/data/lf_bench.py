"""LF-Bokeh / LF-Refocus style benchmark samples from 4-D light fields (paper §4.1, docs/design.md §6).

Ground truth by shift-and-add (in linear light) at a focus disparity ``d_f`` (px per view) through a
disk aperture of radius ``r`` views. LF-Bokeh: source = the centre (pinhole, all-in-focus) view,
target = a refocused image. LF-Refocus: source and target are two refocused images with different
focus planes (and apertures). Light fields come from an HCI-layout folder, any 4-D array, or the
scene lab (no download). Disparity maps are the centre view's, in px per view (positive = nearer).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, List, Optional

import numpy as np
import torch

from ..optics.apertures import Disk
from ..optics.light_field import aperture_mask, load_hci_light_field, shift_and_add
from ..optics.scene_lab import make_scene


@dataclass
class LFSample:
    """One benchmark item: ``source``/``target`` ``(1, 3, H, W)``, centre-view ``disparity``
    ``(1, 1, H, W)`` (px/view), the target's ``focus`` (px/view) and aperture radius (views)."""

    id: str
    kind: str
    source: torch.Tensor
    target: torch.Tensor
    disparity: torch.Tensor
    focus: float
    aperture_radius: float
    source_focus: Optional[float] = None


def scene_lab_light_fields(n: int = 4, size=(96, 96), n_views: int = 9, seed: int = 0, gamma=4.0) -> List[tuple]:
    """``[(id, lf (U, V, 3, H, W), disparity (1, 1, H, W) px/view, mid-range disparity)]`` from random
    scene-lab scenes; the baseline makes the disparities span 3 px/view."""
    out = []
    textures = [("brick", "coffee", "chelsea"), ("grass", "astronaut", "rocket"), ("gravel", "cat", "coffee")]
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        depths = sorted(rng.uniform(0.8, 6.0, 3), reverse=True)
        sc = make_scene(size, depths_m=tuple(depths), textures=textures[i % len(textures)], seed=seed * 1000 + i,
                        gamma=gamma)
        d = sc.disparity()
        mid = float((d.max() + d.min()) / 2)
        baseline = 3.0 / float(d.max() - d.min())
        lf = sc.light_field(n_views=n_views, baseline=baseline)
        out.append((f"scene{i}", lf, baseline * d, baseline * mid))
    return out


def hci_light_fields(root) -> List[tuple]:
    """``[(id, lf, disparity, 0.0)]`` for every HCI scene below ``root`` (needs the disparity PFM)."""
    out = []
    for cam in sorted(Path(root).glob("*/*/input_Cam000.png")):
        s = load_hci_light_field(cam.parent)
        if s["disparity"] is None:
            continue
        out.append((f"{cam.parent.parent.name}_{cam.parent.name}", s["lf"],
                    torch.from_numpy(s["disparity"])[None, None], 0.0))
    return out


def build_samples(light_fields: Iterable[tuple], kind: str = "refocus", per_lf: int = 2, seed: int = 0,
                  gamma=4.0) -> List[LFSample]:
    """Samples with random focus planes (5–95th disparity percentile) and aperture radii."""
    out = []
    for lf_id, lf, disp, _mid in light_fields:
        n = lf.shape[0]
        # crc32, not hash(): str hashes change per process (PYTHONHASHSEED), so samples would too
        rng = np.random.default_rng([seed, zlib.crc32(lf_id.encode())])
        lo, hi = np.percentile(disp.numpy(), [5, 95])
        for j in range(per_lf):
            f_t = float(rng.uniform(lo, hi))
            r_t = float(rng.uniform(max(1.0, (n - 1) / 4), (n - 1) / 2))
            target = shift_and_add(lf, f_t, aperture_mask(n, Disk(), r_t), gamma=gamma)
            if kind == "bokeh":
                source, f_s = lf[n // 2, n // 2][None].clone(), None
            else:
                f_s = float(rng.uniform(lo, hi))
                while abs(f_s - f_t) < 0.2 * (hi - lo):
                    f_s = float(rng.uniform(lo, hi))
                source = shift_and_add(lf, f_s, aperture_mask(n, Disk(), float(rng.uniform(1.0, (n - 1) / 2))),
                                       gamma=gamma)
            out.append(LFSample(f"{lf_id}_{kind}{j}", kind, source, target, disp, f_t, r_t, f_s))
    return out
