"""4-D light fields: shift-and-add refocus with an aperture mask, and an HCI-layout loader.

Layout ``L[u, v, C, y, x]`` (HCI: 9×9 views, file index ``9·row + col``, disparity in px per view,
positive = nearer). Refocus at ``d_f`` (px per view) with aperture mask ``A[u, v]`` (docs/design.md §3.5):

    I(x) = Σ A[u,v] · L[u,v](x − d_f·(u − u0, v − v0)) / Σ A       (bilinear, in linear light)
"""

from __future__ import annotations

import configparser
import re
from pathlib import Path
from typing import Optional, Union

import torch
import torch.nn.functional as F

from ..errors import InputError
from ..io import read_pfm
from .apertures import Aperture, Disk
from .render import Gamma, from_linear, to_linear


def aperture_mask(n_views: int, aperture: Aperture | None = None, radius: Optional[float] = None) -> torch.Tensor:
    """``(U, V)`` weights of the views inside ``aperture`` of ``radius`` views (default the full
    grid half-width ``(n−1)/2``), soft-edged like the renderers' apertures."""
    aperture = aperture or Disk()
    c = (n_views - 1) / 2.0
    r = c if radius is None else float(radius)
    o = torch.arange(n_views, dtype=torch.float64) - c
    uu, vv = torch.meshgrid(o, o, indexing="ij")
    if r <= 0:
        return ((uu == 0) & (vv == 0)).to(torch.float64)
    # Hard membership of view centres, (soft edge 0.5 px of the view grid).
    return aperture.indicator(uu, vv, torch.tensor(r + 0.5, dtype=torch.float64))


def shift_and_add(lf: torch.Tensor, focus_disparity_px: float, mask: Optional[torch.Tensor] = None,
                  gamma: Gamma = 4.0) -> torch.Tensor:
    """Refocus a light field ``(U, V, C, H, W)`` in [0, 1] at ``focus_disparity_px`` (px per view)
    through aperture weights ``mask`` ``(U, V)`` (default: all views). Returns ``(1, C, H, W)``."""
    if lf.ndim != 5:
        raise InputError("light field", f"expected (U, V, C, H, W), got shape {tuple(lf.shape)}")
    U, V, C, H, W = lf.shape
    mask = torch.ones(U, V, dtype=torch.float64) if mask is None else torch.as_tensor(mask, dtype=torch.float64)
    if float(mask.sum()) <= 0:
        raise InputError("aperture mask", "selects no view")
    u0, v0 = (U - 1) / 2.0, (V - 1) / 2.0
    ys = torch.arange(H, dtype=torch.float64)
    xs = torch.arange(W, dtype=torch.float64)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    acc = torch.zeros(1, C, H, W, dtype=lf.dtype)
    for u in range(U):
        for v in range(V):
            a = float(mask[u, v])
            if a == 0.0:
                continue
            sy = gy - focus_disparity_px * (u - u0)
            sx = gx - focus_disparity_px * (v - v0)
            grid = torch.stack([2 * sx / (W - 1) - 1, 2 * sy / (H - 1) - 1], -1)[None].to(lf.dtype)
            view = to_linear(lf[u, v][None], gamma)
            acc += a * F.grid_sample(view, grid, mode="bilinear", padding_mode="border", align_corners=True)
    return from_linear(acc / float(mask.sum()), gamma)


def load_hci_light_field(folder: Union[str, Path], n_views: int = 9) -> dict:
    """Load an HCI 4-D light-field scene folder.

    Reads ``input_Cam000.png … input_Cam080.png`` (view ``9·row + col``), ``parameters.cfg`` (as a
    dict of sections) and, if present, the centre-view disparity PFM (``gt_disp_lowres.pfm`` or
    any ``*disp*.pfm``). Returns ``{"lf": (U, V, 3, H, W) float in [0, 1], "disparity": (H, W) or
    None (px per view, positive = nearer), "parameters": dict}``.
    """
    from ..io import load_image

    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(str(folder), "light-field folder does not exist")
    views = []
    for i in range(n_views * n_views):
        p = folder / f"input_Cam{i:03d}.png"
        if not p.is_file():
            raise InputError(str(folder), f"missing view {p.name} (HCI layout: input_Cam000..{n_views**2 - 1:03d}.png)")
        views.append(load_image(p, name=p.name)[0])
    shapes = {tuple(v.shape) for v in views}
    if len(shapes) != 1:
        raise InputError(str(folder), f"views have different sizes: {sorted(shapes)}")
    lf = torch.stack(views).reshape(n_views, n_views, *views[0].shape)
    params = {}
    cfg = folder / "parameters.cfg"
    if cfg.is_file():
        parser = configparser.ConfigParser()
        parser.read(cfg)
        params = {s: dict(parser[s]) for s in parser.sections()}
    disp = None
    cands = [folder / "gt_disp_lowres.pfm"] + sorted(p for p in folder.glob("*.pfm") if re.search("disp", p.name))
    for c in cands:
        if c.is_file():
            disp = read_pfm(c)
            break
    return {"lf": lf, "disparity": disp, "parameters": params}
