"""Building blocks of the UiD dual-pixel refocus model (papers 000/001/003): invertible blocks, the
learnable kernel pool with per-pixel retrieval, per-pixel convolution and FFT kernel inversion.

* :class:`LUConv1x1` — ``W = P·L·(U + diag(s))`` (P a fixed permutation, L unit lower triangular,
  U strictly upper triangular, s a vector; appendix Table 1 R0), inverted with triangular solves.
* :class:`InvertibleBlock` — ``variant="full"``: R0 then the affine coupling of Table 1
  (``a' = a·exp(φ1(b)) + φ2(b)``, ``b' = b·exp(φ3(a')) + φ4(a')``); ``"v1"``: R0 only (Table 2);
  ``"v2"``: R0 then additive coupling (Table 3: ``a' = a + φ1(b)``, ``b' = b + φ2(a')``).
  ``inverse`` undoes ``forward`` exactly (up to float rounding).
* :class:`KernelPool` — N learnable k×k kernels (N = 96 in the paper), retrieved per pixel with
  ``a = softmax(P_k(Avg({K_n})) ⊙ P_coc(F_coc))`` (poster Eq.), ``K_ij = Σ_n a_ij(n)·K_n``.
* :func:`per_pixel_conv` and :func:`invert_kernels` (``K⁻¹ = F⁻¹(1 / F(K))``, Tikhonov-regularized).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class LUConv1x1(nn.Module):
    """Invertible 1×1 convolution with an LU-parameterized weight (Glow-style)."""

    def __init__(self, channels: int, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        q, _ = torch.linalg.qr(torch.randn(channels, channels, generator=g, dtype=torch.float64))
        p, lower, upper = torch.linalg.lu(q)
        s = torch.diagonal(upper)
        self.register_buffer("perm", p.float())
        self.register_buffer("sign_s", torch.sign(s).float())
        self.register_buffer("lower_mask", torch.tril(torch.ones(channels, channels), -1))
        self.lower = nn.Parameter(lower.float())
        self.upper = nn.Parameter(torch.triu(upper, 1).float())
        self.log_s = nn.Parameter(torch.log(s.abs()).float())

    def _factors(self):
        eye = torch.eye(self.lower.shape[0], device=self.lower.device, dtype=self.lower.dtype)
        lower = self.lower * self.lower_mask + eye
        upper = self.upper * self.lower_mask.T + torch.diag(self.sign_s * torch.exp(self.log_s))
        return lower, upper

    def weight(self) -> torch.Tensor:
        """``P·L·(U + diag(s))`` ``(C, C)``."""
        lower, upper = self._factors()
        return self.perm @ lower @ upper

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.einsum("oc,bchw->bohw", self.weight(), x)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        lower, upper = self._factors()
        B, C, H, W = y.shape
        z = (self.perm.T @ y.permute(1, 0, 2, 3).reshape(C, -1))  # P⁻¹ = Pᵀ
        z = torch.linalg.solve_triangular(lower, z, upper=False, unitriangular=True)
        z = torch.linalg.solve_triangular(upper, z, upper=True)
        return z.reshape(C, B, H, W).permute(1, 0, 2, 3)


def _subnet(c_in: int, c_out: int, hidden: int) -> nn.Module:
    """φ: any network (it is never inverted); zero-initialized output so blocks start as identity-like."""
    net = nn.Sequential(nn.Conv2d(c_in, hidden, 3, padding=1), nn.LeakyReLU(0.2),
                        nn.Conv2d(hidden, c_out, 3, padding=1))
    nn.init.zeros_(net[-1].weight)
    nn.init.zeros_(net[-1].bias)
    return net


class InvertibleBlock(nn.Module):
    """``Inv(·)`` / ``Inv⁻¹(·)`` of the UiD appendix (see module doc for the variants)."""

    def __init__(self, channels: int, variant: str = "full", hidden: int = 32, clamp: float = 2.0, seed: int = 0):
        super().__init__()
        if variant not in ("full", "v1", "v2"):
            raise ValueError(f"variant must be full, v1 or v2, got {variant!r}")
        if variant != "v1" and channels < 2:
            raise ValueError("coupling needs at least 2 channels")
        self.variant, self.clamp = variant, clamp
        self.mix = LUConv1x1(channels, seed)
        self.ca = channels // 2
        cb = channels - self.ca
        if variant == "full":
            self.phi1, self.phi2 = _subnet(cb, self.ca, hidden), _subnet(cb, self.ca, hidden)
            self.phi3, self.phi4 = _subnet(self.ca, cb, hidden), _subnet(self.ca, cb, hidden)
        elif variant == "v2":
            self.phi1, self.phi2 = _subnet(cb, self.ca, hidden), _subnet(self.ca, cb, hidden)

    def _scale(self, s: torch.Tensor) -> torch.Tensor:
        return self.clamp * torch.tanh(s / self.clamp)  # bounded log-scale: exp never overflows

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        u = self.mix(u)
        if self.variant == "v1":
            return u
        a, b = u[:, : self.ca], u[:, self.ca:]
        if self.variant == "full":
            a = a * torch.exp(self._scale(self.phi1(b))) + self.phi2(b)
            b = b * torch.exp(self._scale(self.phi3(a))) + self.phi4(a)
        else:
            a = a + self.phi1(b)
            b = b + self.phi2(a)
        return torch.cat([a, b], 1)

    def inverse(self, v: torch.Tensor) -> torch.Tensor:
        if self.variant != "v1":
            a, b = v[:, : self.ca], v[:, self.ca:]
            if self.variant == "full":
                b = (b - self.phi4(a)) / torch.exp(self._scale(self.phi3(a)))
                a = (a - self.phi2(b)) / torch.exp(self._scale(self.phi1(b)))
            else:
                b = b - self.phi2(a)
                a = a - self.phi1(b)
            v = torch.cat([a, b], 1)
        return self.mix.inverse(v)


class KernelPool(nn.Module):
    """N learnable ``k×k`` kernels retrieved per pixel from a disparity feature map.

    ``forward(f_coc (B, C, H, W)) -> (weights (B, N, H, W), kernels (B, k², H, W))`` with
    ``weights = softmax(P_k(Avg(K)) ⊙ P_coc(f_coc))`` over the pool and ``kernels = Σ_n w_n K_n``; the
    pool kernels are used normalized to unit sum (:meth:`normalized`), so every retrieved kernel and
    every retrieved inverse keeps the image's brightness.
    """

    def __init__(self, feat_channels: int, n_kernels: int = 96, size: int = 5, embed: int = 32):
        super().__init__()
        if size % 2 == 0:
            raise ValueError("kernel size must be odd")
        self.size = size
        init = torch.zeros(n_kernels, size * size)
        init[:, size * size // 2] = 1.0
        self.kernels = nn.Parameter(init + 0.01 * torch.randn(n_kernels, size * size, generator=torch.Generator().manual_seed(0)))
        self.p_k = nn.Linear(size * size, embed)        # P_k applied to every pool kernel
        self.p_coc = nn.Conv2d(feat_channels, embed, 1)  # P_coc on the disparity feature

    def normalized(self) -> torch.Tensor:
        """The pool ``(N, k²)``, each kernel divided by its sum (unit DC gain, as a PSF)."""
        return self.kernels / self.kernels.sum(1, keepdim=True)

    def forward(self, f_coc: torch.Tensor):
        kernels = self.normalized()
        keys = self.p_k(kernels)                                         # (N, E)
        context = self.p_k(kernels.mean(0, keepdim=True))                # P_k(Avg(K)): (1, E)
        q = self.p_coc(f_coc)                                            # (B, E, H, W)
        logits = torch.einsum("ne,behw->bnhw", keys * context, q) / keys.shape[1] ** 0.5
        w = torch.softmax(logits, dim=1)
        k = torch.einsum("bnhw,nk->bkhw", w, kernels)
        return w, k


def per_pixel_conv(x: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
    """``y(i, j) = Σ_δ x(i + δ) · K_ij(δ)``: ``x`` ``(B, C, H, W)``, ``kernels`` ``(B, k², H, W)``
    (shared by the channels), reflect padding (replicate where the map is smaller than the kernel radius)."""
    B, C, H, W = x.shape
    k = int(round(kernels.shape[1] ** 0.5))
    r = k // 2
    mode = "reflect" if r < min(H, W) else "replicate"
    cols = F.unfold(F.pad(x, (r, r, r, r), mode=mode), k)  # (B, C·k², H·W)
    cols = cols.view(B, C, k * k, H, W)
    return (cols * kernels[:, None]).sum(2)


def invert_kernels(kernels: torch.Tensor, size: int = 0, eps: float = 1e-4, keep_dc: bool = True) -> torch.Tensor:
    """``K⁻¹ = F⁻¹(conj(F(K)) / (|F(K)|² + ε))`` for ``(..., k, k)`` kernels on a ``size × size`` grid
    (default ``4k + 1``), centred; returns ``(..., size, size)``. ``ε = 0`` is the plain ``1/F(K)``.

    ``keep_dc`` rescales the regularized inverse so its DC gain is exactly ``1/F(K)(0)`` (plain
    Tikhonov darkens by ``1/(1 + ε)`` per application, which compounds over the UNet stages)."""
    k = kernels.shape[-1]
    n = size or 4 * k + 1
    buf = kernels.new_zeros(*kernels.shape[:-2], n, n)
    buf[..., :k, :k] = kernels
    buf = torch.roll(buf, shifts=(-(k // 2), -(k // 2)), dims=(-2, -1))
    spec = torch.fft.fft2(buf.to(torch.complex128))
    inv = torch.conj(spec) / (spec.abs() ** 2 + eps) if eps > 0 else 1.0 / spec
    if eps > 0 and keep_dc:
        dc = spec[..., :1, :1]
        inv = inv * (dc.abs() ** 2 + eps) / dc.abs().clamp_min(1e-12) ** 2
    out = torch.fft.ifft2(inv).real.to(kernels.dtype)
    return torch.roll(out, shifts=(n // 2, n // 2), dims=(-2, -1))
