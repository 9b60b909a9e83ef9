"""Spatially varying blur (optics.binblur): the tiled, batched-FFT, pyramid implementation against
a direct convolution sum, mass conservation, and the level split."""

import pytest
import torch
import torch.nn.functional as F

from genrefocus.optics import apertures
from genrefocus.optics.binblur import bin_kernel, blur_bins, hat_weights, level_share, pyramid_factor


def _direct(stack, value, centers, ap, mask=None, flip_positive=False):
    """``Σ_b K_b * (stack ⊙ mask ⊙ hat_b(value))`` by direct spatial convolution, bin by bin."""
    out = torch.zeros_like(stack)
    m = torch.ones_like(value) if mask is None else ((value >= mask[0]) & (value < mask[1])).to(value.dtype)
    for k, c in enumerate(centers):
        kern = bin_kernel(ap, abs(c), flip_positive and c > 0, "unit", 1, dtype=stack.dtype)
        src = stack * m * hat_weights(value, centers, k)
        R = kern.shape[-1] // 2
        w = torch.flip(kern, (0, 1))[None, None].expand(stack.shape[1], 1, -1, -1)  # conv2d correlates
        out += F.conv2d(F.pad(src, (R, R, R, R)), w, groups=stack.shape[1])
    return out


@pytest.mark.parametrize("masked", [False, True])
def test_blur_bins_equals_direct_convolution(masked):
    torch.manual_seed(0)
    H, W = 150, 170  # several tiles of every candidate size
    stack = torch.rand(1, 4, H, W, dtype=torch.float64)
    yy, xx = torch.meshgrid(torch.arange(H, dtype=torch.float64), torch.arange(W, dtype=torch.float64), indexing="ij")
    value = (-6.0 + 12.0 * xx / W + 2.0 * torch.sin(yy / 9.0))[None, None]
    value[..., 40:70, 30:90] = 4.6  # a patch at one depth, as in a real depth map
    centers = [-8.0, -6.0, -4.0, -2.5, -1.0, 0.0, 1.0, 2.5, 4.0, 6.0, 8.0]
    ap = apertures.heart()  # asymmetric: a wrong flip or orientation shows
    mask = (-3.0, 5.0) if masked else None
    got, f = blur_bins(stack, value, centers, ap, "unit", mask=mask, flip_positive=True, coarse_radius=None)
    want = _direct(stack, value, centers, ap, mask, flip_positive=True)
    assert f == 1
    torch.testing.assert_close(got, want, atol=1e-10, rtol=1e-9)


def test_pyramid_conserves_mass_and_stays_close():
    """With the pyramid, every source still spreads exactly its own mass (unit kernels), and large
    bins computed on coarse grids stay close to the direct result."""
    torch.manual_seed(1)
    H, W = 160, 160
    stack = torch.zeros(1, 2, H, W, dtype=torch.float64)
    stack[..., 48:112, 48:112] = torch.rand(1, 2, 64, 64, dtype=torch.float64)
    xx = torch.arange(W, dtype=torch.float64).view(1, 1, 1, W).expand(1, 1, H, W)
    value = 2.0 + 28.0 * xx / W  # radii 2..30 px: levels 1, 2, 4, 8
    centers = [2.0, 4.0, 6.0, 9.0, 12.0, 16.0, 21.0, 26.0, 31.0]
    assert sorted({pyramid_factor(c, 3.0) for c in centers}) == [1, 2, 4, 8]
    got, f = blur_bins(stack, value, centers, apertures.disk(), "unit", coarse_radius=3.0, out_factor=1)
    assert f == 1
    torch.testing.assert_close(got.sum(), stack.sum(), rtol=1e-9, atol=0)
    want = _direct(stack, value, centers, apertures.disk())
    rel = float((got - want).abs().mean() / want.abs().mean())
    assert rel < 0.03, rel


def test_level_share_partitions_every_source():
    centers = [-9.0, -6.0, -3.0, -1.0, 0.0, 1.0, 3.0, 6.0, 9.0]
    value = torch.linspace(-12, 12, 1001).view(1, 1, 1, -1)
    factors = [pyramid_factor(abs(c), 2.0) for c in centers]
    shares = [level_share(value, centers, [fk == f for fk in factors]) for f in sorted(set(factors))]
    torch.testing.assert_close(sum(shares), torch.ones_like(value))
    # and each share is the sum of the hat weights of that level's bins
    for f, share in zip(sorted(set(factors)), shares):
        want = sum(hat_weights(value, centers, k) for k, fk in enumerate(factors) if fk == f)
        torch.testing.assert_close(share, want)
