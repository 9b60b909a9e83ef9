"""Edge refinement of disparity maps (genrefocus.optics.depth_refine), held against exact maps and
exact scene-lab renders — the references the refinement never sees."""

import numpy as np
import pytest
import scipy.ndimage as ndi
import torch

from genrefocus.errors import InputError
from genrefocus.optics.defocus import signed_coc
from genrefocus.optics.depth_refine import refine_disparity, remove_speckles, snap_edges
from genrefocus.optics.render import render_bokeh
from genrefocus.optics.scene_lab import degrade_disparity, edge_band, renderer_cases


def _disc_scene(size=96, radius=28, shift=0):
    """A blue disc (disparity 1) on an orange background (disparity 0.2), and its exact map."""
    yy, xx = np.mgrid[:size, :size]
    inside = (yy - size / 2) ** 2 + (xx - size / 2 - shift) ** 2 < radius ** 2
    img = np.where(inside[..., None], [0.1, 0.2, 0.8], [0.9, 0.5, 0.1]).astype(np.float32)
    img += np.random.default_rng(0).normal(0, 0.02, img.shape).astype(np.float32)
    disp = np.where(inside, 1.0, 0.2).astype(np.float32)
    return (torch.from_numpy(img.clip(0, 1)).permute(2, 0, 1)[None], torch.from_numpy(disp)[None, None])


def test_remove_speckles_replaces_isolated_outliers_by_their_median():
    rng = np.random.default_rng(1)
    d = rng.uniform(0.4, 0.6, (1, 1, 40, 40)).astype(np.float32)
    d[0, 0, 10, 10], d[0, 0, 25, 30] = 5.0, -3.0
    out = remove_speckles(torch.from_numpy(d))[0, 0].numpy()
    ref = ndi.median_filter(d[0, 0], size=3, mode="nearest")   # scipy's median as the reference
    assert out[10, 10] == pytest.approx(ref[10, 10]) and out[25, 30] == pytest.approx(ref[25, 30])
    mask = np.ones_like(out, bool)
    mask[10, 10] = mask[25, 30] = False
    np.testing.assert_array_equal(out[mask], d[0, 0][mask])   # nothing else moves


def test_remove_speckles_keeps_thin_structures():
    d = np.zeros((1, 1, 30, 30), np.float32)
    d[0, 0, :, 14] = 1.0          # a 1-px wire: each pixel has two equal neighbours, not an outlier
    d[0, 0, 5:7, 3:5] = 1.0       # a 2×2 blob
    t = torch.from_numpy(d)
    assert torch.equal(remove_speckles(t), t)


def test_exact_maps_are_left_unchanged():
    img, disp = _disc_scene()
    assert torch.equal(refine_disparity(disp, img), disp)
    # a smooth slope (a receding ground) and a scene-lab map with its own photo
    ramp = torch.linspace(0.1, 1.0, 80).view(1, 1, 80, 1).expand(1, 1, 80, 64).contiguous()
    assert torch.equal(refine_disparity(ramp, torch.rand(1, 3, 80, 64)), ramp)
    case = renderer_cases((96, 96))[3]
    assert torch.equal(refine_disparity(case.scene.disparity(), case.scene.aif()), case.scene.disparity())


def test_soft_shifted_edges_snap_to_the_photo():
    img, true = _disc_scene()
    _, shifted = _disc_scene(shift=3)                      # the map's edge 3 px off the photo's
    soft = torch.from_numpy(ndi.gaussian_filter(shifted[0, 0].numpy(), 2.0))[None, None]
    out = refine_disparity(soft, img)
    band = edge_band(true, width=6)
    err_before = ((soft - true).abs()[0, 0][band] > 0.4).float().mean()
    err_after = ((out - true).abs()[0, 0][band] > 0.4).float().mean()
    assert err_before > 0.1 and err_after < 0.35 * err_before


def test_refined_degraded_map_renders_closer_to_the_exact_render():
    case = renderer_cases((96, 96))[3]                     # portrait, person in focus
    aif, disp = case.scene.aif(), case.scene.disparity()
    K = case.K(10.0)
    exact = case.scene.render(K, case.focus_disp, spacing_px=1.0)
    d = degrade_disparity(disp, seed=0)

    def err(m):
        return float(((render_bokeh(aif, signed_coc(m, K, case.focus_disp)) - exact) ** 2).mean())

    assert 10 * np.log10(err(d) / err(refine_disparity(d, aif))) > 2.0   # dB gained against the exact render


def test_inputs_are_checked():
    img, disp = _disc_scene()
    with pytest.raises(InputError, match="disparity"):
        snap_edges(disp[0], img)
    with pytest.raises(InputError, match="image"):
        snap_edges(disp, img[:, :, :50])
    with pytest.raises(InputError, match="radius"):
        snap_edges(disp, img, radius=0)
    with pytest.raises(InputError, match="non-finite"):
        remove_speckles(disp.masked_fill(disp > 0.5, float("nan")))


def test_pipeline_refines_by_default_for_layered_only():
    from genrefocus.pipelines.physical import PhysicalRefocusPipeline

    img, true = _disc_scene()
    _, shifted = _disc_scene(shift=3)
    soft = torch.from_numpy(ndi.gaussian_filter(shifted[0, 0].numpy(), 2.0))[None, None]
    layered = PhysicalRefocusPipeline()(img, disparity=soft, focus=(48, 48), K=8)
    assert layered.meta["refine_edges"] and not torch.equal(layered.disparity, soft)
    compat = PhysicalRefocusPipeline(mode="bokehme")(img, disparity=soft, focus=(48, 48), K=8)
    assert not compat.meta["refine_edges"] and torch.equal(compat.disparity, soft)
    off = PhysicalRefocusPipeline(refine_edges=False)(img, disparity=soft, focus=(48, 48), K=8)
    assert torch.equal(off.disparity, soft)
    with pytest.raises(InputError, match="refine_edges"):
        PhysicalRefocusPipeline(refine_edges="yes")


def test_window_statistics_match_their_definitions():
    """The separable window ops ``snap_edges`` is built on: the mean over the part of each (2r+1)² window
    inside the image (a brute-force loop over clipped windows), the max / min (SciPy's filters; the
    replicated border adds no new values)."""
    from scipy import ndimage

    from genrefocus.optics.depth_refine import _box, _max, _min

    x = torch.rand(2, 3, 13, 17, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    r = 4
    want = np.zeros(x.shape)
    for i in range(13):
        for j in range(17):
            want[..., i, j] = x[..., max(0, i - r):i + r + 1, max(0, j - r):j + r + 1].mean(dim=(-2, -1)).numpy()
    np.testing.assert_allclose(_box(x, r).numpy(), want, atol=1e-12)
    size = (1, 1, 2 * r + 1, 2 * r + 1)
    assert np.array_equal(_max(x, r).numpy(), ndimage.maximum_filter(x.numpy(), size=size, mode="nearest"))
    assert np.array_equal(_min(x, r).numpy(), ndimage.minimum_filter(x.numpy(), size=size, mode="nearest"))
