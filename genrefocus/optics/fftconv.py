"""FFT convolution helpers shared by the renderers (sizes fast for pocketfft / cuFFT)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def fast_size(n: int) -> int:
    """Smallest integer ≥ ``n`` whose prime factors are 2, 3 and 5."""
    while True:
        m = n
        for p in (2, 3, 5):
            while m % p == 0:
                m //= p
        if m == 1:
            return n
        n += 1


def centered_kernel_rfft(kernel: torch.Tensor, shape) -> torch.Tensor:
    """rfft2 of an odd ``(k, k)`` kernel placed with its centre on (0, 0) (wrap-around) in ``shape``."""
    k = kernel.shape[-1]
    R = k // 2
    buf = kernel.new_zeros(shape)
    buf[:k, :k] = kernel
    return torch.fft.rfft2(torch.roll(buf, shifts=(-R, -R), dims=(0, 1)))


def fft_convolve(x: torch.Tensor, kernel: torch.Tensor, padding: str = "replicate") -> torch.Tensor:
    """Same-size 2-D convolution of ``x`` ``(B, C, H, W)`` with an odd ``(k, k)`` kernel.

    ``padding`` is any :func:`torch.nn.functional.pad` mode (``"replicate"``, ``"reflect"``) or
    ``"zeros"``. Uses the FFT; exact up to float rounding.
    """
    R = kernel.shape[-1] // 2
    H, W = x.shape[-2:]
    if padding != "zeros" and R > 0:
        mode = padding if (padding != "reflect" or (R < H and R < W)) else "replicate"
        x = F.pad(x, (R, R, R, R), mode=mode)
        off = R
    else:
        off = 0
    Hp, Wp = x.shape[-2:]
    shape = (fast_size(max(Hp + R + 1, 2 * R + 1)), fast_size(max(Wp + R + 1, 2 * R + 1)))
    y = torch.fft.irfft2(torch.fft.rfft2(x, s=shape) * centered_kernel_rfft(kernel.to(x.dtype), shape),
                         s=shape)
    return y[..., off:off + H, off:off + W]
