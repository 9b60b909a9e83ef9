"""The real capture's blur, measured: per-block radius fitting, the PSF family that explains the real
Canon blur, and the synthetic twin of a capture (eval/dp_eval.py --parts relation,resynthesis)."""

import numpy as np
import pytest
import torch


def _photo(size=256):
    from skimage import data

    img = data.astronaut()[::2, ::2][:size, :size].astype(np.float32) / 255
    return torch.from_numpy(img).permute(2, 0, 1)[None].contiguous()


def test_fit_block_radii_finds_the_disk_of_an_independent_blur():
    """Blur made without genrefocus — OpenCV's filter2D with scikit-image's binary disk, in linear light —,
    radius 3 px on the left half and 6 px on the right: every block clear of the seam gets its radius back
    (±0.5 px: a binary disk is not the anti-aliased one), and the error there is far below the unblurred one."""
    import cv2
    from skimage.morphology import disk

    from genrefocus.metrics.dual_pixel import fit_block_radii
    from genrefocus.optics.render import from_linear, to_linear

    sharp = _photo()
    lin = to_linear(sharp, "srgb")[0].permute(1, 2, 0).numpy()
    blur = lambda r: cv2.filter2D(lin, -1, disk(r).astype(np.float32) / disk(r).sum(), borderType=cv2.BORDER_REPLICATE)  # noqa: E731
    out = np.concatenate([blur(3)[:, :128], blur(6)[:, 128:]], 1)
    blurry = from_linear(torch.from_numpy(out).permute(2, 0, 1)[None], "srgb")
    radius, err, base = fit_block_radii(blurry, sharp, patch=32)
    assert radius.shape == (8, 8)
    left, right = radius[:, :3], radius[:, 5:]           # blocks at least one radius away from the seam at x = 128
    assert (left - 3).abs().max() <= 0.5 and (right - 6).abs().max() <= 0.5, radius
    assert bool((err[:, :3] < 0.2 * base[:, :3]).all())


def test_synthetic_twin_of_a_synthetic_capture_is_that_capture():
    """A capture whose blur is known (CoC −4 px on the left half, +6 px on the right, split τ = 0.75): its
    twin has those CoCs — magnitude from the fit, sign from SGBM's disparity of the given views — and views
    within noise and palette of the capture's away from the seam; with the views swapped, the signs flip."""
    from genrefocus.metrics.dual_pixel import resynthesize_capture
    from genrefocus.metrics import psnr
    from genrefocus.optics.dp_synthesis import synthesize_dp
    from genrefocus.optics.render import from_linear, to_linear

    sharp = _photo()
    coc = torch.full((1, 1, 256, 256), -4.0)
    coc[..., 128:] = 6.0
    left, right = synthesize_dp(sharp, coc, softness=0.75)
    blurry = from_linear((to_linear(left, "srgb") + to_linear(right, "srgb")) / 2, "srgb")
    twin = resynthesize_capture(left, right, blurry, sharp, patch=32)
    c = twin["coc"][0, 0]
    assert float(c[16:240, 16:80].median()) == -4.0 and float(c[16:240, 176:240].median()) == 6.0
    assert twin["block_radius"].shape == (8, 8)
    assert float(twin["block_radius"][:, :3].median()) == 4.0 and float(twin["block_radius"][:, 5:].median()) == 6.0
    cols = list(range(16, 96)) + list(range(160, 240))    # away from the image border and the seam
    for mine, theirs in ((twin["left"], left), (twin["right"], right)):
        assert mine.shape == theirs.shape
        assert float(psnr(mine[..., 16:240, cols], theirs[..., 16:240, cols])) > 30
    swapped = resynthesize_capture(right, left, blurry, sharp, patch=32)["coc"][0, 0]
    assert float(swapped[16:240, 16:80].median()) == 4.0 and float(swapped[16:240, 176:240].median()) == -6.0


def test_the_flat_disk_explains_the_real_canon_blur_best(shared_data):
    """Measured on the six Canon validation scenes (not trained on): per block, the flat disk the synthesis
    draws fits the real blur at least as well as a Gaussian or the rim-bright lens PSF of Abuolaim et al. —
    the kernel shape is not where synthetic training misses the real camera."""
    import cv2

    from genrefocus.metrics.dual_pixel import kernel_shape_fit
    from genrefocus.optics.apertures import Disk
    from genrefocus.optics.dp_synthesis import LensPSF, lens_kernel

    def lens(r):
        return lens_kernel(r, LensPSF(order=5, cutoff=0.9, floor=0.2, edge=0.05))

    def gauss(r):    # OpenCV's Gaussian, σ = r / 2
        k = cv2.getGaussianKernel(2 * int(1.5 * r) + 3, r / 2)
        return torch.from_numpy(k @ k.T).float()

    fit = kernel_shape_fit(shared_data / "dp_pairs", {"disk": lambda r: Disk().kernel(r), "lens": lens, "gauss": gauss})
    print(fit)
    assert fit["blocks"] > 400
    assert fit["disk"]["mse_ratio"] == 1.0 and fit["lens"]["mse_ratio"] > 1.0 and fit["gauss"]["mse_ratio"] > 1.0


def test_block_errors_are_the_mean_squared_error_of_each_whole_block():
    """Against numpy on a 100×70 image in 32-px blocks: 3×2 whole blocks, the ragged edge left out."""
    from genrefocus.metrics.dual_pixel import block_errors

    rng = np.random.default_rng(0)
    a, b = rng.random((1, 3, 100, 70)).astype(np.float32), rng.random((1, 3, 100, 70)).astype(np.float32)
    got = block_errors(torch.from_numpy(a), torch.from_numpy(b), patch=32)
    want = np.array([[((a - b)[0, :, 32 * y:32 * y + 32, 32 * x:32 * x + 32] ** 2).mean() for x in range(2)] for y in range(3)])
    assert got.shape == (3, 2) and np.allclose(got.numpy(), want, rtol=1e-5)
