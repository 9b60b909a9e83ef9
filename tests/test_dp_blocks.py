"""UiD building blocks: exact inverses, per-pixel convolution, FFT kernel inversion, kernel pool."""

import pytest
import torch
import torch.nn.functional as F

from genrefocus.models.uid_blocks import InvertibleBlock, KernelPool, LUConv1x1, invert_kernels, per_pixel_conv


def _randomize(module, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=g))


def test_lu_conv_is_the_lu_product_and_inverts():
    m = LUConv1x1(8, seed=3)
    _randomize(m)
    m = m.double()
    lower, upper = m._factors()
    assert torch.allclose(torch.tril(lower), lower) and torch.allclose(torch.diagonal(lower), torch.ones(8).double())
    assert torch.allclose(torch.triu(upper), upper)
    torch.testing.assert_close(m.weight(), m.perm @ lower @ upper)
    x = torch.randn(2, 8, 5, 7, dtype=torch.float64)
    y = m(x)
    torch.testing.assert_close(y, F.conv2d(x, m.weight()[:, :, None, None]))
    assert (m.inverse(y) - x).abs().max() < 1e-5


@pytest.mark.parametrize("variant", ["full", "v1", "v2"])
def test_invertible_block_inverse_undoes_forward(variant):
    blk = InvertibleBlock(6, variant=variant, hidden=8, seed=1)
    _randomize(blk, seed=2)
    blk = blk.double()  # the inverse is exact; float64 keeps round-off far below the 1e-5 bound
    x = torch.randn(2, 6, 12, 10, dtype=torch.float64)
    y = blk(x)
    assert (y - x).abs().max() > 0.1
    assert (blk.inverse(y) - x).abs().max() < 1e-5
    assert (blk(blk.inverse(x)) - x).abs().max() < 1e-5
    with pytest.raises(ValueError):
        InvertibleBlock(6, variant="v3")


def test_per_pixel_conv():
    x = torch.rand(1, 3, 9, 11)
    delta = torch.zeros(1, 9, 9, 11)
    delta[:, 4] = 1.0
    torch.testing.assert_close(per_pixel_conv(x, delta), x)
    box = torch.full((1, 9, 9, 11), 1 / 9)
    want = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), torch.full((3, 1, 3, 3), 1 / 9), groups=3)
    torch.testing.assert_close(per_pixel_conv(x, box), want)


def _residuals(kernel: torch.Tensor, eps: float):
    """(K ∗ K⁻¹ − δ, K − δ) on the inverse's grid (circular convolution, float64)."""
    inv = invert_kernels(kernel, eps=eps).double()
    n, k = inv.shape[-1], kernel.shape[-1]
    kk = torch.zeros(n, n, dtype=torch.float64)
    kk[n // 2 - k // 2:n // 2 + k // 2 + 1, n // 2 - k // 2:n // 2 + k // 2 + 1] = kernel.double()
    spec = torch.fft.fft2(torch.fft.ifftshift(kk)) * torch.fft.fft2(torch.fft.ifftshift(inv))
    ident = torch.fft.fftshift(torch.fft.ifft2(spec).real)
    delta = torch.zeros(n, n, dtype=torch.float64)
    delta[n // 2, n // 2] = 1
    return ident - delta, kk - delta


def test_kernel_times_inverse_kernel_is_identity():
    k = torch.zeros(5, 5)
    k[2, 2] = 0.6
    k[1:4, 1:4] += 0.4 / 9  # no spectral zero: exact inverse on the grid
    res, _ = _residuals(k, eps=0.0)
    assert res.abs().max() < 1e-6  # tolerance: float32 storage of K⁻¹
    disk = (torch.arange(-3, 4)[:, None] ** 2 + torch.arange(-3, 4)[None] ** 2 <= 9).float()
    disk = disk / disk.sum()  # spectral zeros: Tikhonov-regularized inverse, error shrinks with ε
    r3, blur = (float(torch.linalg.norm(t)) for t in _residuals(disk, 1e-3))
    r5 = float(torch.linalg.norm(_residuals(disk, 1e-5)[0]))
    print(f"|K*K^-1 - delta|_2: eps 1e-3 {r3:.3f}, eps 1e-5 {r5:.3f}; |K - delta|_2 {blur:.3f}")
    assert r5 < r3 < 0.5 * blur


def test_regularized_inverse_keeps_the_dc_gain():
    disk = (torch.arange(-3, 4)[:, None] ** 2 + torch.arange(-3, 4)[None] ** 2 <= 9).double()
    disk = disk / disk.sum()
    for eps in (1e-3, 1e-1):
        assert float(invert_kernels(disk, eps=eps).sum()) == pytest.approx(1.0, abs=1e-9)
        assert float(invert_kernels(disk, eps=eps, keep_dc=False).sum()) == pytest.approx(1 / (1 + eps), abs=1e-9)


def test_kernel_pool_retrieval():
    pool = KernelPool(feat_channels=4, n_kernels=96, size=5)
    f = torch.randn(2, 4, 6, 7)
    w, k = pool(f)
    assert w.shape == (2, 96, 6, 7) and k.shape == (2, 25, 6, 7)
    torch.testing.assert_close(w.sum(1), torch.ones(2, 6, 7))
    torch.testing.assert_close(k, torch.einsum("bnhw,nk->bkhw", w, pool.normalized()))
    torch.testing.assert_close(k.sum(1), torch.ones(2, 6, 7))  # unit DC gain per pixel
    with pytest.raises(ValueError):
        KernelPool(4, size=4)
