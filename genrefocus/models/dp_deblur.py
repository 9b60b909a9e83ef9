"""DPDeblurNet: a compact dual-pixel deblurring network for CPUs — all-in-focus image and DP disparity
from the two views of a pair laid out horizontally.

A residual U-Net (three scales, receptive field ≈ 140 px, enough for CoC radii of ~12 px and DP
disparities of ~7 px at 840 px wide): input ``[L, R, L − R]`` (the difference carries the parallax),
output the AIF as ``(L + R)/2`` plus a predicted residual with its coarse part removed (``r − G_σ∗r``,
σ = 8 px: deblurring moves detail, not the local mean — a first run without it brightened the real
Canon scenes by 0.016 and lost 0.6 dB to that alone) — the last layer starts at zero, so an
untrained model returns its input —, and the signed disparity in px
(``left(x) ≈ right(x − d)``). The views are balanced first (:func:`~genrefocus.optics.dp_synthesis.
balance_views`). Trained on synthetic pairs from :func:`~genrefocus.optics.dp_synthesis.synthesize_dp`
(``training/train_dp_deblur.py``).

This is not the UiD design of docs/design.md §7 (disparity-aware invertible deblur/reblur): it replaces its
all-in-focus branch with a direct regression, which trains in a CPU budget; refocusing goes through
the physical renderer with the predicted disparity.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

from .folder import load_model_folder, save_model_folder

from .residual import highpass_residual



@dataclass
class DPDeblurConfig:
    """``width``: channels at full resolution (×2 per scale); ``blocks``: conv pairs per scale."""

    width: int = 24
    scales: int = 3
    blocks: int = 1
    softness: float = 0.3  # the DP split the model was trained for (disparity → CoC factor)
    highpass_sigma: float = 8.0  # the AIF residual keeps no detail coarser than this Gaussian (px); 0: off
    wiener_radii: tuple = ()  # non-blind deconvolution inputs: the mean view deconvolved with disks of these radii
    wiener_nsr: float = 0.01  # their Wiener noise-to-signal ratio (gradient prior)

    def __post_init__(self):
        self.wiener_radii = tuple(float(r) for r in self.wiener_radii)  # a JSON list reads back as the tuple


class _Block(nn.Module):
    def __init__(self, ci, co):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(ci, co, 3, padding=1), nn.LeakyReLU(0.1, inplace=True),
                                  nn.Conv2d(co, co, 3, padding=1))
        self.skip = nn.Conv2d(ci, co, 1) if ci != co else nn.Identity()

    def forward(self, x):
        return F.leaky_relu(self.body(x) + self.skip(x), 0.1)


class DPDeblurNet(nn.Module):
    def __init__(self, config: DPDeblurConfig = DPDeblurConfig()):
        super().__init__()
        self.config = c = config
        w = [c.width * 2 ** s for s in range(c.scales + 1)]
        self.inp = nn.Conv2d(9 + 3 * len(c.wiener_radii), w[0], 3, padding=1)
        self.enc = nn.ModuleList([nn.Sequential(*[_Block(w[s], w[s]) for _ in range(c.blocks)])
                                  for s in range(c.scales)])
        self.down = nn.ModuleList([nn.Conv2d(w[s], w[s + 1], 3, stride=2, padding=1) for s in range(c.scales)])
        self.mid = nn.Sequential(_Block(w[-1], w[-1]), nn.Conv2d(w[-1], w[-1], 3, padding=2, dilation=2),
                                 nn.LeakyReLU(0.1), _Block(w[-1], w[-1]))
        self.up = nn.ModuleList([nn.ConvTranspose2d(w[s + 1], w[s], 2, stride=2) for s in range(c.scales)])
        self.dec = nn.ModuleList([_Block(2 * w[s], w[s]) for s in range(c.scales)])
        self.out = nn.Conv2d(w[0], 4, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    @property
    def stride(self) -> int:
        return 2 ** self.config.scales

    def forward(self, left: torch.Tensor, right: torch.Tensor) -> dict:
        """``{"aif" (B, 3, H, W) in [0, 1], "disparity" (B, 1, H, W) px}``; H, W multiples of
        :attr:`stride` (the pipeline pads)."""
        x = torch.cat([left, right, left - right, *self.deconvolved((left + right) / 2)], 1) * 2 - 1
        h = self.inp(x)
        skips = []
        for enc, down in zip(self.enc, self.down):
            h = enc(h)
            skips.append(h)
            h = down(h)
        h = self.mid(h)
        for s in reversed(range(self.config.scales)):
            h = self.dec[s](torch.cat([self.up[s](h), skips[s]], 1))
        o = self.out(h)
        return {"aif": ((left + right) / 2 + highpass_residual(o[:, :3], self.config.highpass_sigma)).clamp(0, 1), "disparity": o[:, 3:] * 4.0}

    def deconvolved(self, mean: torch.Tensor) -> list:
        """The mean view ``(B, 3, H, W)`` Wiener-deconvolved in linear light with a disk of each of
        ``config.wiener_radii`` (px): the candidates a non-blind deconvolution offers for each blur size,
        from which the network picks per pixel (the DP disparity says which radius applies)."""
        from ..optics.apertures import Disk
        from ..optics.dp_classical import wiener_deconvolve
        from ..optics.render import from_linear, to_linear

        if not self.config.wiener_radii:
            return []
        lin = to_linear(mean.clamp(0, 1), "srgb")
        return [from_linear(wiener_deconvolve(lin, Disk().kernel(float(r), dtype=lin.dtype).to(lin.device),
                                              self.config.wiener_nsr).clamp(0, 1), "srgb")
                for r in self.config.wiener_radii]

    # ----- the pipeline's block interface (see genrefocus.pipelines.dual_pixel) -----------------------
    @torch.no_grad()
    def all_in_focus(self, left: torch.Tensor, right: torch.Tensor) -> dict:
        from ..optics.dp_synthesis import balance_views

        H, W = left.shape[-2:]
        m = self.stride
        ph, pw = (-H) % m, (-W) % m
        left, right = balance_views(left.float(), right.float())
        p = next(self.parameters())
        pad = lambda t: F.pad(t, (0, pw, 0, ph), mode="replicate").to(p.device)  # noqa: E731
        out = self(pad(left), pad(right))
        return {k: v[..., :H, :W].cpu() for k, v in out.items()}

    @torch.no_grad()
    def refocus(self, left: torch.Tensor, right: torch.Tensor, mask: torch.Tensor, reuse_capture: bool = True) -> dict:
        """:meth:`all_in_focus`, then :meth:`refocus_from` its outputs (with the capture ``(L + R)/2``
        as the source where the target is blurrier than it, unless ``reuse_capture`` is False)."""
        out = self.all_in_focus(left, right)
        capture = (left.float() + right.float()) / 2 if reuse_capture else None
        return {**self.refocus_from(out["aif"], out["disparity"], mask, capture), **out}

    def refocus_from(self, aif: torch.Tensor, disparity: torch.Tensor, mask: torch.Tensor,
                     capture: Optional[torch.Tensor] = None) -> dict:
        """The layered renderer with the CoC ``(d − d_f)/f(τ)``, ``d_f`` the mean predicted disparity inside
        ``mask``, on the AIF — or, given the ``capture``, on the capture where it is blurred less than the
        target (:func:`~genrefocus.optics.dp_disparity.refocus_from_disparity`): ``{"refocused", "coc"}``."""
        from ..optics.dp_disparity import dp_disparity_factor, refocus_from_disparity

        return refocus_from_disparity(aif, disparity, mask, dp_disparity_factor(self.config.softness), capture)

    # ----- files ------------------------------------------------------------------------------------
    def save_pretrained(self, folder: Union[str, Path]) -> Path:
        """Write the model folder (:mod:`genrefocus.models.folder`)."""
        return save_model_folder(folder, self, "dp_deblur")

    @classmethod
    def from_pretrained(cls, folder: Union[str, Path], what: str = "DPDeblurNet checkpoint") -> "DPDeblurNet":
        """Read a model folder written by :meth:`save_pretrained` (every check of
        :func:`~genrefocus.models.folder.load_model_folder`)."""
        return load_model_folder(folder, cls, DPDeblurConfig, "dp_deblur", what)


__all__ = ["DPDeblurConfig", "DPDeblurNet"]
