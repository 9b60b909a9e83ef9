"""UiD: user-instructed, disparity-aware defocus control from a dual-pixel pair (papers 000/001/003).

Structure (docs/design.md §7):

1. **Disparity features.** Shared conv features of the left/right views, a concatenation cost
   volume over horizontal shifts ``[-D, D]``, 3-D convolutions, and a softmax over the shifts →
   disparity feature ``F_G`` ``(B, C, H, W)`` and a soft-argmin disparity (px).
2. **Defocus features.** ``F_D = 2·tanh(Norm(F_G)/ρ) − 1``; ``F_init = J(F_G)·F_D`` with ``J`` a
   positive per-image scale (the DP model's ``C = J(f)·D``); ``P_rgb(F_init)`` is the 1-channel CoC
   estimate (supervised); ``F_coc = R ⊙ F_G + P_feat(P_rgb(F_init))`` with the gate
   ``R = tanh(P_G(F_G) + P_C(F_init))``.
3. **Invertible deblur / reblur.** A 4-stage UNet-style trunk on the blurry image ``B = (L + R)/2``:
   each stage retrieves per-pixel kernels from a pool of N kernels with ``F_coc`` (at that scale),
   applies the per-pixel convolution, then an invertible block, then an invertible 2× squeeze
   (pixel unshuffle); the decoder undoes the squeezes. ``deblur`` runs it forward; ``reblur`` runs
   the inverse blocks with the FFT-inverted pool kernels ``K⁻¹ = F⁻¹(1/F(K))`` retrieved with the
   same weights (the shared kernels).
4. **Refocus** (Eq. 13): ``F_D ← F_D − mean(F_D in the user mask)``, recompute ``F_coc`` and the
   kernels, and reblur the deblurred image with them.

``save_pretrained`` / ``from_pretrained`` use a folder with ``config.json`` + ``model.safetensors``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import InputError
from .uid_blocks import InvertibleBlock, KernelPool, invert_kernels, per_pixel_conv
from .folder import load_model_folder, save_model_folder


@dataclass
class UiDConfig:
    """Sizes of :class:`UiDModel` (defaults: a few hundred thousand parameters; the paper's model is 3.12 M)."""

    feat: int = 16          # view feature channels
    max_disp: int = 4       # cost volume shifts [-D, D] (px)
    cost: int = 8           # 3-D aggregation channels = F_G channels
    n_kernels: int = 96     # kernel pool size N
    kernel_size: int = 5
    stages: int = 4
    hidden: int = 16        # coupling sub-network width
    rho: float = 2.0
    variant: str = "full"   # invertible block: full | v1 | v2

    def __post_init__(self):
        problems = []
        for name, low, high in (("feat", 1, 1024), ("max_disp", 1, 64), ("cost", 1, 1024), ("n_kernels", 1, 4096),
                                ("kernel_size", 1, 31), ("stages", 1, 8), ("hidden", 1, 1024)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high:
                problems.append(f"{name}: an integer in [{low}, {high}], got {v!r}")
        if isinstance(self.kernel_size, int) and self.kernel_size % 2 == 0:
            problems.append(f"kernel_size: must be odd, got {self.kernel_size}")
        if not (isinstance(self.rho, (int, float)) and math.isfinite(self.rho) and self.rho > 0):
            problems.append(f"rho: a finite number > 0, got {self.rho!r}")
        if self.variant not in ("full", "v1", "v2"):
            problems.append(f"variant: full, v1 or v2, got {self.variant!r}")
        if problems:
            raise InputError("UiD config", "; ".join(problems))


def _conv(ci, co, k=3):
    return nn.Sequential(nn.Conv2d(ci, co, k, padding=k // 2), nn.LeakyReLU(0.1))


class UiDModel(nn.Module):
    """Dual-pixel disparity-aware invertible deblur / reblur / refocus network (see module doc)."""

    def __init__(self, config: Optional[UiDConfig] = None):
        super().__init__()
        self.config = c = config or UiDConfig()
        self.features = nn.Sequential(_conv(3, c.feat), _conv(c.feat, c.feat))
        self.aggregate = nn.Sequential(nn.Conv3d(2 * c.feat, c.cost, 3, padding=1), nn.LeakyReLU(0.1),
                                       nn.Conv3d(c.cost, c.cost, 3, padding=1), nn.LeakyReLU(0.1),
                                       nn.Conv3d(c.cost, 1 + c.cost, 3, padding=1))
        self.norm = nn.InstanceNorm2d(c.cost, affine=True)
        self.J = nn.Sequential(nn.Linear(c.cost, c.cost), nn.LeakyReLU(0.1), nn.Linear(c.cost, 1), nn.Softplus())
        self.P_rgb = nn.Conv2d(c.cost, 1, 3, padding=1)
        self.P_feat = nn.Conv2d(1, c.cost, 3, padding=1)
        self.P_G = nn.Conv2d(c.cost, c.cost, 1)
        self.P_C = nn.Conv2d(c.cost, c.cost, 1)
        self.pools = nn.ModuleList([KernelPool(c.cost, c.n_kernels, c.kernel_size) for _ in range(c.stages)])
        chans = [3 * 4 ** s for s in range(c.stages)]
        self.blocks = nn.ModuleList([InvertibleBlock(ch, c.variant, c.hidden, seed=s) for s, ch in enumerate(chans)])

    # ----- 1. disparity features ------------------------------------------------------------
    def disparity_features(self, left: torch.Tensor, right: torch.Tensor):
        """``F_G`` ``(B, C, H, W)`` and the soft-argmin disparity ``(B, 1, H, W)`` (px, right→left)."""
        D = self.config.max_disp
        fl, fr = self.features(left * 2 - 1), self.features(right * 2 - 1)
        vols = []
        for d in range(-D, D + 1):
            shifted = torch.roll(fr, shifts=d, dims=-1)
            vols.append(torch.cat([fl, shifted], 1))
        vol = self.aggregate(torch.stack(vols, 2))           # (B, 1 + C, 2D+1, H, W)
        prob = torch.softmax(vol[:, 0], dim=1)                # over shifts
        shifts = torch.arange(-D, D + 1, device=left.device, dtype=left.dtype).view(1, -1, 1, 1)
        disparity = (prob * shifts).sum(1, keepdim=True)
        f_g = (vol[:, 1:] * prob[:, None]).sum(2)
        return f_g, disparity

    # ----- 2. defocus features ----------------------------------------------------------------
    def defocus_features(self, f_g: torch.Tensor, shift: Optional[torch.Tensor] = None):
        """``(F_D, CoC estimate P_rgb(F_init), F_coc)``; ``shift`` ``(B, C, 1, 1)`` is subtracted from
        ``F_D`` (Eq. 13 refocus)."""
        f_d = 2 * torch.tanh(self.norm(f_g) / self.config.rho) - 1
        if shift is not None:
            f_d = f_d - shift
        j = self.J(f_g.mean(dim=(2, 3)))[:, :, None, None]
        f_init = j * f_d
        coc = self.P_rgb(f_init)
        gate = torch.tanh(self.P_G(f_g) + self.P_C(f_init))
        return f_d, coc, gate * f_g + self.P_feat(coc)

    # ----- 3. kernels and the invertible trunk ------------------------------------------------
    def stage_kernels(self, f_coc: torch.Tensor, inverse: bool = False) -> list:
        """Per-stage per-pixel kernels ``(B, k², h, w)`` (or their FFT inverses, ``(B, k_inv², h, w)``)."""
        out = []
        for s, pool in enumerate(self.pools):
            f = F.avg_pool2d(f_coc, 2 ** s) if s else f_coc
            w, k = pool(f)
            if inverse:
                ks = pool.size
                inv = invert_kernels(pool.normalized().view(-1, ks, ks), size=4 * ks + 1, eps=1e-3)
                m = inv.shape[-1] // 2
                kinv = inv[:, m - ks + 1:m + ks, m - ks + 1:m + ks].reshape(inv.shape[0], -1)
                kinv = kinv / kinv.sum(1, keepdim=True)  # the crop to (2k−1)² loses a little DC
                k = torch.einsum("bnhw,nk->bkhw", w, kinv)
            out.append(k)
        return out

    @property
    def stride(self) -> int:
        """Input sides must be multiples of this (the trunk's squeezes)."""
        return 2 ** (self.config.stages - 1)

    def _check_size(self, x):
        m = 2 ** (self.config.stages - 1)
        if x.shape[-1] % m or x.shape[-2] % m:
            raise InputError("dual-pixel pair", f"size {x.shape[-1]}×{x.shape[-2]} must be a multiple of {m}")

    def deblur_with(self, blurry: torch.Tensor, kernels: list) -> torch.Tensor:
        """Forward mapping: per stage per-pixel conv → Inv → squeeze; then un-squeeze back."""
        self._check_size(blurry)
        x = blurry
        for s, (k, blk) in enumerate(zip(kernels, self.blocks)):
            x = blk(per_pixel_conv(x, k))
            if s < len(self.blocks) - 1:
                x = F.pixel_unshuffle(x, 2)
        for _ in range(len(self.blocks) - 1):
            x = F.pixel_shuffle(x, 2)
        return x

    def reblur_with(self, sharp: torch.Tensor, inverse_kernels: list) -> torch.Tensor:
        """Backward mapping: the inverse of :meth:`deblur_with` with the inverted kernels."""
        self._check_size(sharp)
        x = sharp
        for _ in range(len(self.blocks) - 1):
            x = F.pixel_unshuffle(x, 2)
        for s in reversed(range(len(self.blocks))):
            x = per_pixel_conv(self.blocks[s].inverse(x), inverse_kernels[s])
            if s > 0:
                x = F.pixel_shuffle(x, 2)
        return x

    # ----- user-level calls ---------------------------------------------------------------------
    def forward(self, left: torch.Tensor, right: torch.Tensor, sharp: Optional[torch.Tensor] = None,
                focus_mask: Optional[torch.Tensor] = None) -> dict:
        """``{"aif", "reblurred", "disparity", "coc", "f_d"}`` (+ ``"refocused"``) for a DP pair in [0, 1].

        ``reblurred`` is the backward mapping of ``sharp`` (training passes the ground-truth AIF, as the
        paper's reblurring loss does) or, without it, of the predicted AIF — which gives back the blurry
        input up to rounding, since the trunk is invertible. With ``focus_mask`` ``(B, 1, H, W)`` the
        output also has ``refocused`` (Eq. 13, see :meth:`refocus`).
        """
        m = None if focus_mask is None else self._focus_weights(focus_mask, left.dtype)
        f_g, disparity, f_d, coc, f_coc, aif = self._deblur(left, right)
        reblurred = self.reblur_with(aif if sharp is None else sharp, self.stage_kernels(f_coc, inverse=True))
        out = {"aif": aif, "reblurred": reblurred, "disparity": disparity, "coc": coc, "f_d": f_d}
        if m is not None:
            out["refocused"], out["coc_refocused"] = self._refocus(f_g, f_d, aif, m)
        return out

    def refocus(self, left: torch.Tensor, right: torch.Tensor, mask: Optional[torch.Tensor] = None,
                shift: Optional[torch.Tensor] = None) -> dict:
        """Eq. 13: re-centre ``F_D`` on its mean inside ``mask`` ``(B, 1, H, W)`` (or on a given
        ``shift`` ``(B, C, 1, 1)``, e.g. gathered over tiles with :meth:`focus_sums`), recompute
        ``F_coc`` and the kernels, and reblur the predicted AIF with them.
        ``{"refocused", "aif", "disparity", "coc"}`` (``coc``: the CoC estimate after re-centring)."""
        if (mask is None) == (shift is None):
            raise InputError("focus", "give exactly one of mask or shift")
        f_g, disparity, f_d, _, _, aif = self._deblur(left, right)
        if shift is None:
            m = self._focus_weights(mask, left.dtype)
            shift = (f_d * m).sum(dim=(2, 3), keepdim=True) / m.sum(dim=(2, 3), keepdim=True)
        refocused, coc = self._refocus_shift(f_g, aif, shift)
        return {"refocused": refocused, "aif": aif, "disparity": disparity, "coc": coc}

    def focus_sums(self, left: torch.Tensor, right: torch.Tensor, mask: torch.Tensor) -> tuple:
        """``(Σ F_D·m, Σ m)`` over a pair (or one tile of it): Eq. 13's shift is their ratio summed over
        tiles."""
        f_g, _ = self.disparity_features(left, right)
        f_d = self.defocus_features(f_g)[0]
        m = mask.to(left.dtype)
        return (f_d * m).sum(dim=(2, 3), keepdim=True), m.sum(dim=(2, 3), keepdim=True)

    @staticmethod
    def _focus_weights(mask: torch.Tensor, dtype) -> torch.Tensor:
        m = mask.to(dtype)
        if bool((m.flatten(1).amax(1) <= 0.5).any()):
            raise InputError("mask", "the focus mask is empty")
        return m

    def _deblur(self, left, right):
        """``(F_G, disparity, F_D, CoC, F_coc, AIF)`` — the forward mapping shared by every call."""
        f_g, disparity = self.disparity_features(left, right)
        f_d, coc, f_coc = self.defocus_features(f_g)
        aif = self.deblur_with((left + right) / 2, self.stage_kernels(f_coc))
        return f_g, disparity, f_d, coc, f_coc, aif

    def _refocus(self, f_g, f_d, aif, m):
        """Eq. 13 on computed features: ``(refocused, CoC after re-centring)``."""
        shift = (f_d * m).sum(dim=(2, 3), keepdim=True) / m.sum(dim=(2, 3), keepdim=True)
        return self._refocus_shift(f_g, aif, shift)

    def _refocus_shift(self, f_g, aif, shift):
        _, coc_t, f_coc_t = self.defocus_features(f_g, shift=shift)
        return self.reblur_with(aif, self.stage_kernels(f_coc_t, inverse=True)), coc_t

    def save_pretrained(self, folder: Union[str, Path]) -> Path:
        """Write the model folder (:mod:`genrefocus.models.folder`, ``model_type`` ``"uid"``)."""
        return save_model_folder(folder, self, "uid")

    @classmethod
    def from_pretrained(cls, folder: Union[str, Path], what: str = "UiD checkpoint") -> "UiDModel":
        """Read a UiD model folder — also one written before folders carried a ``model_type``."""
        return load_model_folder(folder, cls, UiDConfig, "uid", what)
