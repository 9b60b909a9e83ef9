"""JDRL's deblurring model F (paper 004, Eq. 2–3), compact for CPUs.

``F`` = a light defocus-map branch ``F_B`` (convs + residual blocks → ``B̂``, one channel per kernel
seed, ``Σ_{i=2}^{m} i = 35`` for m = 8, supervised by the reblurring module's pseudo map ``B_P``,
Eq. 13–14) fused with the blurry image by **channel attention** (squeeze-and-excitation over the
concatenated features), then a 4-level symmetric encoder–decoder ``F_D`` that predicts the sharp image
as a residual on the input, high-passed (:func:`~genrefocus.models.residual.highpass_residual`,
σ = 8 px: deblurring keeps the local mean; ``highpass_sigma=0`` is the paper's plain residual). The
paper's ``F_D`` is Restormer-like (transformer blocks) or MPRNet; here residual conv blocks keep it
CPU-sized (``width``, ``blocks`` set it); ``backbone="restormer"`` swaps in Restormer transformer blocks
(:mod:`genrefocus.models.restormer`) and ``backbone="mprnet"`` the multi-stage MPRNet
(:mod:`genrefocus.models.mprnet`: F_B joins every stage's shallow features; all stages' outputs are
returned and supervised) for a GPU user. Training:
:mod:`genrefocus.training.jdrl`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Union

import torch
import torch.nn as nn
import torch.nn.functional as F

from .folder import load_model_folder, save_model_folder

from .jdrl_reblur import SEED_LENGTHS
from .residual import highpass_residual


@dataclass
class JDRLConfig:
    width: int = 16      # channels at full resolution (×2 per level)
    levels: int = 4
    map_width: int = 16  # F_B channels
    seeds: int = sum(SEED_LENGTHS)
    highpass_sigma: float = 8.0  # the residual keeps no detail coarser than this Gaussian (px); 0: off
    backbone: str = "unet"       # F_D: "unet" (residual convs, CPU), "restormer" (transformer) or "mprnet" (multi-stage)
    blocks: int = 1              # blocks per encoder/decoder level

    def __post_init__(self):
        if self.backbone not in BACKBONES:
            raise ValueError(f"JDRLConfig.backbone: one of {', '.join(BACKBONES)}, got {self.backbone!r}")
        if isinstance(self.blocks, bool) or not isinstance(self.blocks, int) or self.blocks < 1:
            raise ValueError(f"JDRLConfig.blocks: an integer ≥ 1, got {self.blocks!r}")


#: the checkpoint genrefocus ships (trained on CPU, synthetic misaligned pairs; its train_log.json says how)
DEFAULT_CHECKPOINT = Path(__file__).resolve().parents[1] / "weights" / "jdrl"


class _Res(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(c, c, 3, padding=1), nn.LeakyReLU(0.1, inplace=True),
                                  nn.Conv2d(c, c, 3, padding=1))

    def forward(self, x):
        return x + self.body(x)


def _level(c: int, level: int, backbone: str, blocks: int) -> nn.Module:
    """``blocks`` blocks of F_D at one level (``c`` channels): residual convs, or Restormer blocks with
    1, 2, 4, 8 heads from the top level down (as in Restormer)."""
    if backbone == "restormer":
        from .restormer import RestormerBlock

        return nn.Sequential(*[RestormerBlock(c, min(2 ** level, c)) for _ in range(blocks)])
    return _Res(c) if blocks == 1 else nn.Sequential(*[_Res(c) for _ in range(blocks)])  # (shipped key layout)


BACKBONES = ("unet", "restormer", "mprnet")


class ChannelAttention(nn.Module):
    """Squeeze-and-excitation: per-channel weights from the global mean, ``x · σ(MLP(mean(x)))``."""

    def __init__(self, c: int, reduction: int = 4):
        super().__init__()
        self.mlp = nn.Sequential(nn.Conv2d(c, max(4, c // reduction), 1), nn.ReLU(inplace=True),
                                 nn.Conv2d(max(4, c // reduction), c, 1), nn.Sigmoid())

    def forward(self, x):
        return x * self.mlp(x.mean(dim=(2, 3), keepdim=True))


class JDRLDeblur(nn.Module):
    """``forward(blurry (B, 3, H, W)) → {"sharp", "defocus" B̂ (B, seeds, H, W)}`` (MPRNet backbone: also
    ``"stages"``, the earlier stages' restored images); sides multiples of :attr:`stride` (:meth:`deblur` pads)."""

    def __init__(self, config: JDRLConfig = JDRLConfig()):
        super().__init__()
        self.config = c = config
        # F_B: the defocus-map branch
        self.f_b = nn.Sequential(nn.Conv2d(3, c.map_width, 3, padding=1), nn.LeakyReLU(0.1, inplace=True),
                                 _Res(c.map_width), _Res(c.map_width), nn.Conv2d(c.map_width, c.seeds, 3, padding=1))
        if c.backbone == "mprnet":   # F_B fused into every stage's shallow features (channel-attention blocks)
            from .mprnet import MPRNetTrunk

            self.mpr = MPRNetTrunk(c.seeds, c.width, orbs=max(2, min(3, c.blocks + 1)))
            return
        # fusion: image features and map features, channel attention
        self.img_in = nn.Conv2d(3, c.width, 3, padding=1)
        self.map_in = nn.Conv2d(c.seeds, c.width, 3, padding=1)
        self.attention = ChannelAttention(2 * c.width)
        self.fuse = nn.Conv2d(2 * c.width, c.width, 1)
        # F_D: symmetric encoder–decoder
        w = [c.width * 2 ** i for i in range(c.levels)]
        self.enc = nn.ModuleList([_level(w[i], i, c.backbone, c.blocks) for i in range(c.levels)])
        self.down = nn.ModuleList([nn.Conv2d(w[i], w[i + 1], 3, stride=2, padding=1) for i in range(c.levels - 1)])
        self.up = nn.ModuleList([nn.ConvTranspose2d(w[i + 1], w[i], 2, stride=2) for i in range(c.levels - 1)])
        self.dec = nn.ModuleList([nn.Sequential(nn.Conv2d(2 * w[i], w[i], 1), _level(w[i], i, c.backbone, c.blocks))
                                  for i in range(c.levels - 1)])
        self.out = nn.Conv2d(w[0], 3, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    @property
    def stride(self) -> int:
        return 8 if self.config.backbone == "mprnet" else 2 ** (self.config.levels - 1)

    def forward(self, blurry: torch.Tensor) -> dict:
        x = blurry * 2 - 1
        defocus = self.f_b(x)
        if self.config.backbone == "mprnet":
            stages = [s.clamp(0, 1) for s in self.mpr(blurry, defocus,
                                                      lambda r: highpass_residual(r, self.config.highpass_sigma))]
            return {"sharp": stages[-1], "defocus": defocus, "stages": stages[:-1]}
        h = self.fuse(self.attention(torch.cat([self.img_in(x), self.map_in(defocus)], 1)))
        skips = []
        for i, enc in enumerate(self.enc):
            h = enc(h)
            if i < len(self.down):
                skips.append(h)
                h = self.down[i](h)
        for i in reversed(range(len(self.up))):
            h = self.dec[i](torch.cat([self.up[i](h), skips[i]], 1))
        residual = highpass_residual(self.out(h), self.config.highpass_sigma)
        return {"sharp": (blurry + residual).clamp(0, 1), "defocus": defocus}

    @torch.no_grad()
    def deblur(self, blurry: torch.Tensor) -> torch.Tensor:
        """The sharp image ``(B, 3, H, W)`` of any size (replicate-padded to the stride, cropped back)."""
        H, W = blurry.shape[-2:]
        m = self.stride
        p = next(self.parameters())
        x = F.pad(blurry.float(), (0, (-W) % m, 0, (-H) % m), mode="replicate").to(p.device)
        return self(x)["sharp"][..., :H, :W].cpu()

    def save_pretrained(self, folder: Union[str, Path]) -> Path:
        """Write the model folder (:mod:`genrefocus.models.folder`)."""
        return save_model_folder(folder, self, "jdrl")

    @classmethod
    def from_pretrained(cls, folder: Union[str, Path], what: str = "JDRL checkpoint") -> "JDRLDeblur":
        """Read a model folder written by :meth:`save_pretrained` (every check of
        :func:`~genrefocus.models.folder.load_model_folder`)."""
        return load_model_folder(folder, cls, JDRLConfig, "jdrl", what)


def check_checkpoint(folder=None, what: str = "checkpoint") -> Path:
    """A JDRL model folder (default: the shipped one), checked without loading: it exists and holds a
    ``jdrl`` model (else one error naming ``what``, with how to train one)."""
    from ..errors import InputError, MissingWeightsError
    from .folder import read_model_type

    folder = Path(folder) if folder else DEFAULT_CHECKPOINT
    try:
        kind = read_model_type(folder, what)
    except MissingWeightsError as exc:
        raise MissingWeightsError(f"{exc}: train one with `python training/train.py jdrl --output-dir runs/jdrl` and "
                                  f"pass {what} runs/jdrl") from None
    if kind != "jdrl":
        raise InputError(what, f"{str(folder)!r} holds a {kind!r} model, not a JDRL one")
    return folder


__all__ = ["ChannelAttention", "DEFAULT_CHECKPOINT", "JDRLConfig", "JDRLDeblur", "check_checkpoint"]
