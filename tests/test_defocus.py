"""Focus selection, CoC and the BokehNet condition map with the official conventions (DESIGN §3.1)."""

import numpy as np
import pytest
import torch
from PIL import Image

from genrefocus.errors import InputError
from genrefocus.optics import (MAX_COC, defocus_condition, depth_to_disparity, focus_disparity, scale_k,
                               signed_coc, validate_k)


def test_depth_to_disparity_handles_invalid_depth():
    depth = torch.tensor([[2.0, 0.0, -1.0, float("inf"), float("nan"), 0.5]])
    d = depth_to_disparity(depth)[0, 0, 0]
    torch.testing.assert_close(d, torch.tensor([0.5, 0.0, 0.0, 0.0, 0.0, 2.0]))


def test_focus_by_point_box_mask_centre():
    disp = torch.arange(64 * 48, dtype=torch.float32).reshape(48, 64)
    # point in original-image pixels (original twice the working size)
    assert focus_disparity(disp, point=(20.0, 10.0), original_size=(96, 128)) == float(disp[5, 10])
    assert focus_disparity(disp, point=(63, 47)) == float(disp[47, 63])
    # medians of even counts are the mean of the two middle values (NumPy's, as the official script)
    assert focus_disparity(disp, box=(10, 4, 14, 8)) == float(np.median(disp[4:8, 10:14].numpy()))
    mask = torch.zeros(96, 128)
    mask[20:30, 40:60] = 1  # resized NEAREST to 48x64 -> rows 10:15, cols 20:30
    assert focus_disparity(disp, mask=mask) == float(np.median(disp[10:15, 20:30].numpy()))
    assert focus_disparity(disp) == float(disp[24, 32])


def test_grey_mask_is_in_focus_as_in_the_official_code():
    """The official script thresholds the 8-bit grey mask at > 0: a mask of grey 100 selects its
    region (a > 0.5 rule would find it empty and fall back to the whole image)."""
    disp = torch.arange(32 * 32, dtype=torch.float32).reshape(32, 32)
    mask = np.zeros((32, 32), np.uint8)
    mask[4:8, 4:8] = 100
    assert focus_disparity(disp, mask=mask) == float(np.median(disp[4:8, 4:8].numpy()))


def test_empty_mask_warns_and_uses_global_median():
    disp = torch.rand(32, 32)
    with pytest.warns(UserWarning, match="empty"):
        v = focus_disparity(disp, mask=torch.zeros(32, 32))
    assert v == float(np.median(disp.numpy()))


@pytest.mark.parametrize("kw, match", [
    (dict(point=(40, 5)), "outside"), (dict(point=(-1, 5)), "outside"),
    (dict(box=(5, 5, 5, 9)), "empty"), (dict(box=(100, 100, 120, 120)), "outside"),
    (dict(point=(1, 1), box=(0, 0, 4, 4)), "one of"),
])
def test_bad_focus_inputs(kw, match):
    with pytest.raises(InputError, match=match):
        focus_disparity(torch.rand(32, 32), **kw)


def test_signed_coc_and_condition_map():
    disp = torch.tensor([[0.1, 0.5, 2.0, 10.0]])
    c = signed_coc(disp, 20.0, 0.5)[0, 0, 0]
    torch.testing.assert_close(c, torch.tensor([-8.0, 0.0, 30.0, 190.0]))
    cond = defocus_condition(signed_coc(disp, 20.0, 0.5))
    assert cond.shape == (1, 3, 1, 4)
    torch.testing.assert_close(cond[0, :, 0], torch.tensor([0.08, 0.0, 0.3, 1.0]).repeat(3, 1))
    assert MAX_COC == 100.0
    assert scale_k(20.0, 0.5) == 10.0


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf"), 1e6, "abc"])
def test_bad_k(bad):
    with pytest.raises(InputError, match="K"):
        validate_k(bad)


def test_official_example_condition_map(shared_data):
    """The official bokeh example (AIF + Depth Pro depth + mask, K = 15) reproduced with an
    independent NumPy transcription of the official formula."""
    d = shared_data / "genfocus"
    depth = np.load(d / "AIF_example_pred.npy")
    mask = np.asarray(Image.open(d / "AIF_mask.png").convert("L")) > 127
    safe = np.where(depth > 0, depth, np.finfo(np.float32).max)
    disp_ref = 1.0 / safe
    df_ref = float(np.median(disp_ref[mask]))
    cond_ref = np.clip(np.abs(15.0 * (disp_ref - np.float32(df_ref))) / 100.0, 0, 1)

    disp = depth_to_disparity(depth)
    df = focus_disparity(disp, mask=torch.from_numpy(mask.astype(np.float32)))
    assert df == pytest.approx(df_ref, rel=1e-6)
    cond = defocus_condition(signed_coc(disp, 15.0, df))
    assert cond.shape == (1, 3, 512, 512)
    np.testing.assert_allclose(cond[0, 0].numpy(), cond_ref, atol=1e-6)
    np.testing.assert_array_equal(cond[0, 0].numpy(), cond[0, 2].numpy())


def test_stereo_holes_are_filled_with_the_background():
    """Stereo occlusions (pixels one camera cannot see) belong to what is farther: a hole between a
    near object (disparity 5) and the background (1) takes 1, on either side of the object."""
    from genrefocus.data.samples import fill_invalid

    d = np.ones((4, 12))
    d[:, 4:8] = 5.0
    d[:, 2:4] = np.nan  # occlusion left of the object
    d[:, 8:10] = 0.0  # and right of it
    d[0, :] = np.nan  # a row with nothing valid: nearest valid pixel
    out = fill_invalid(d)
    assert np.all(out[1:, 2:4] == 1.0) and np.all(out[1:, 8:10] == 1.0)
    assert np.all(out[1:, 4:8] == 5.0) and np.all(np.isfinite(out))
    assert np.array_equal(out[0], out[1])


def test_motorcycle_holes_take_the_farther_side():
    from skimage import data

    from genrefocus.data.samples import fill_invalid

    _l, _r, raw = data.stereo_motorcycle()
    bad = ~np.isfinite(raw) | (raw <= 0)
    out = fill_invalid(raw)
    valid = raw[~bad]
    assert np.all(np.isfinite(out)) and out[bad].min() >= valid.min() and out[bad].max() <= valid.max()
    # filled values sit on the far side: below the nearest thing within 15 px (the occluder)
    from scipy import ndimage

    near = ndimage.maximum_filter(np.where(bad, 0, raw), size=15)
    assert np.mean(out[bad] < near[bad]) > 0.9


def test_depth_regions_of_a_two_plane_map():
    from genrefocus.optics.defocus import depth_regions

    d = torch.full((1, 1, 40, 60), 0.2)
    d[..., 10:30, 5:25] = 0.9
    regions = depth_regions(d)
    assert [r.name for r in regions] == ["near", "far"]
    assert regions[0].disparity == pytest.approx(0.9) and regions[1].disparity == pytest.approx(0.2)
    x, y = regions[0].point
    assert 5 <= x < 25 and 10 <= y < 30
