"""One focus value for every pipeline: the same forms accepted by the physical, the generative and the
dual-pixel pipeline, each resolved to the focus disparity read directly off the map (NumPy, not our focus
code), and the one result type."""

import numpy as np
import pytest
import torch

from conftest import photo
from genrefocus import DualPixelPipeline, Focus, PhysicalRefocusPipeline, RefocusResult
from genrefocus.errors import InputError

H, W = 64, 96


def _disparity() -> torch.Tensor:
    """Three planes (0.2, 0.5, 0.9 1/m) with a gentle slope: a map with depth regions and a range."""
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    d = np.full((H, W), 0.2, np.float32) + 0.001 * xx
    d[20:50, 10:40] = 0.5
    d[30:60, 55:90] = 0.9
    return torch.from_numpy(d)[None, None]


def _forms():
    """(focus as given, the focus disparity it must give on _disparity(), from NumPy directly)."""
    d = _disparity()[0, 0].numpy()
    mask = np.zeros((H, W), bool)
    mask[25:45, 15:35] = True
    return [((70, 40), float(d[40, 70])),                                       # a point: the map there
            ((12, 22, 38, 48), float(np.median(d[22:48, 12:38]))),             # a box: its median
            (mask, float(np.median(d[mask]))),                                 # a mask: the median inside
            (Focus.disparity(0.5), 0.5), ("d=0.5", 0.5),                       # a value
            ("near", float(np.median(d[30:60, 55:90]))),                        # the nearest region
            ("far", float(np.median(d[d < 0.4]))),                              # the farthest region
            (None, float(d[H // 2, W // 2]))]                                   # the image centre


def test_focus_parse_and_check():
    assert Focus.parse("640,380").kind == "point" and Focus.parse("1,2,3,4").value == (1, 2, 3, 4)
    assert Focus.parse("near").kind == "region" and Focus.parse("mask.png".replace("mask.png", "far")).value == "far"
    assert Focus.parse("d=0.25").value == 0.25 and Focus.parse("text:a red car").value == "a red car"
    assert Focus.coerce(None).kind == "center" and Focus.coerce((1, 2)).kind == "point"
    for bad, msg in (("", "empty"), ("1,2,3", "x,y"), ("d=nan", "finite"), ("nowhere.png", "does not exist")):
        with pytest.raises(InputError, match=msg):
            Focus.parse(bad, "--focus").check((H, W), "--focus")
    for focus, msg in ((Focus.point(W, 0), "outside"), (Focus.box(5, 5, 5, 9), "empty"),
                       (Focus.mask(np.zeros((H, W))), "empty"), (Focus.region("nearest"), "unknown"),
                       (Focus.text("  "), "empty")):
        with pytest.raises(InputError, match=msg):
            focus.check((H, W))


def test_a_disparity_value_outside_the_map_is_refused():
    disp = _disparity()
    with pytest.raises(InputError, match=r"outside the map's range \[0.2, 0.9\]"):
        Focus.disparity(5.0).focus_disparity(disp)
    assert Focus.disparity(0.93).focus_disparity(disp) == 0.93  # within 10 % of the range: a rounding


@pytest.mark.parametrize("i", range(8))
def test_the_physical_pipeline_takes_every_form(i):
    focus, want = _forms()[i]
    out = PhysicalRefocusPipeline()(photo("coffee", (H, W)), disparity=_disparity(), focus=focus, K=10)
    assert isinstance(out, RefocusResult) and out.focus_disparity == pytest.approx(want, abs=1e-6)
    assert out.image.shape == (1, 3, H, W) and out.coc.shape == (1, 1, H, W)


def test_the_generative_pipeline_takes_every_form(tmp_path):
    """BokehNet's defocus map is built from the focus: every form, on depth = 1/disparity (metres)."""
    from tiny_flux import tiny_pipeline, write_official_lora

    pipe = tiny_pipeline()
    write_official_lora(tmp_path / "b.safetensors", pipe.transformer, seed=2, scale=0.2)
    pipe.load_genfocus_lora(tmp_path / "b.safetensors", "bokeh")
    pipe.set_progress_bar_config(disable=True)
    depth = 1.0 / _disparity()
    for focus, want in _forms():
        out = pipe.bokeh(photo("coffee", (H, W)), depth, focus=focus, K=10, num_inference_steps=1)
        assert isinstance(out, RefocusResult)
        assert out.focus_disparity == pytest.approx(want, rel=1e-4), focus  # float32 1/(1/d) round trip
    pipe.text_detector = lambda image, text: (12.0, 22.0, 38.0, 48.0)  # an open-vocabulary detector's box
    out = pipe.bokeh(photo("coffee", (H, W)), depth, focus="text:the mug", K=10, num_inference_steps=1)
    assert out.focus_disparity == pytest.approx(_forms()[1][1], rel=1e-4)


def test_the_dual_pixel_pipeline_takes_every_form():
    """The dual-pixel pipeline focuses on a region: each form becomes one, and the refocus's focus
    disparity is the mean of the model's disparity (px) inside it. The pair is synthesised from the
    three-plane map, so the shipped model sees real parallax; disparity values are in its px."""
    from genrefocus.optics.dp_synthesis import synthesize_dp
    from genrefocus.pipelines.dual_pixel import DPOptions

    aif = photo("coffee", (H, W))
    left, right = synthesize_dp(aif, 12.0 * (_disparity() - 0.5), softness=0.5)
    pipe = DualPixelPipeline.from_pretrained(options=DPOptions(axis="horizontal"))
    pipe.text_detector = lambda image, text: (12.0, 22.0, 38.0, 48.0)
    d = pipe.all_in_focus(left, right).disparity[0, 0]
    value = float(d.median())
    forms = [f for f, _ in _forms() if not (isinstance(f, str) and f.startswith("d=")) and not isinstance(f, Focus)]
    for focus in forms + [Focus.disparity(value), f"d={value}", "text:the mug"]:
        out = pipe(left, right, focus=focus)
        m = out.mask[0, 0]
        assert isinstance(out, RefocusResult) and m.any() and out.image.shape == (1, 3, H, W), focus
        assert out.focus_disparity == pytest.approx(float(out.disparity[0, 0][m].mean()), abs=1e-5)
    text = pipe(left, right, focus="text:the mug").mask[0, 0]
    assert bool(text[22:48, 12:38].all()) and int(text.sum()) == 26 * 26  # the detector's box
    near, far = (pipe(left, right, focus=f).focus_disparity for f in ("near", "far"))
    assert near > far  # the nearest region has the larger disparity
