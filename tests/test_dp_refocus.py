"""Refocus from a DP disparity with the capture reused (``refocus_from_disparity(..., capture=)``,
``capture_spill``), checked against exact scene-lab renders, a closed form, and the real photo itself."""

from pathlib import Path

import pytest
import torch
from scipy import ndimage

from genrefocus.metrics.fidelity import psnr
from genrefocus.optics.dp_disparity import HALF_DISK_DISPARITY, capture_spill, refocus_from_disparity
from genrefocus.optics.scene_lab import make_scene

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def test_capture_spill_closed_form():
    """A step of the capture's CoC: 0 on the left, 4 px on the right (a blurred object nearer the camera).
    Its blur spreads 4 px into the sharp side, and its pixels within 4 px of the edge gather light from
    the sharp side: spill 4 on both sides of the edge, 0 beyond."""
    c = torch.zeros(1, 1, 20, 40)
    c[..., 20:] = 4.0
    s = capture_spill(c)[0, 0]
    assert torch.equal(s[:, 16:24], torch.full((20, 8), 4.0))
    assert torch.equal(s[:, :16], torch.zeros(20, 16))
    assert torch.equal(s[:, 24:], torch.zeros(20, 16))
    c2 = torch.full((1, 1, 8, 8), -2.5)          # one depth everywhere: nothing mixes
    assert torch.equal(capture_spill(c2), torch.zeros_like(c2))


def _scene(i: int):
    """A two-plane exact scene (background 6 m, foreground 1.2 m) captured focused on the background, the
    exact render focused on the foreground, the capture's true DP disparity (hard split)."""
    sc = make_scene((96, 96), depths_m=(6.0, 1.2), seed=400 + i, textures=("brick", "coffee"))
    K = 4.5
    left, right = sc.dual_pixel(K, sc.planes[0].disparity)
    target = sc.render(K, sc.planes[1].disparity)
    disparity = K * (sc.disparity() - sc.planes[0].disparity) * HALF_DISK_DISPARITY
    fg = (sc.depth() == sc.planes[1].depth_m).float()
    return sc, (left + right) / 2, target, disparity, fg


@pytest.mark.parametrize("i", [0, 1, 2])
def test_capture_reuse_against_exact_renders(i):
    """Exact pairs, true disparity. With the true AIF the reuse costs nothing (the halo of the blurred
    foreground is left to the AIF; measured −0.05…0 dB; without the spill test it cost 2.9–5.3 dB). With
    an AIF carrying deblurring error (σ = 0.05 noise), the background — blurrier in the target than in
    the capture — comes from the capture and is exact there (measured 47–49 dB, the noisy AIF 38), and the
    whole image gains (measured +0.19 / +1.35 / +0.58 dB)."""
    sc, capture, target, disparity, fg = _scene(i)
    f = HALF_DISK_DISPARITY

    def db(x, region=None):
        err = ((x.clamp(0, 1) - target) ** 2).mean(1, keepdim=True)
        return float(-10 * torch.log10(err[region].mean() if region is not None else err.mean()))

    clean = sc.aif()
    assert db(refocus_from_disparity(clean, disparity, fg, f, capture=capture)["refocused"]) > \
        db(refocus_from_disparity(clean, disparity, fg, f)["refocused"]) - 0.1
    noisy = (clean + 0.05 * torch.randn(clean.shape, generator=torch.Generator().manual_seed(i))).clamp(0, 1)
    reused = refocus_from_disparity(noisy, disparity, fg, f, capture=capture)["refocused"]
    aif_only = refocus_from_disparity(noisy, disparity, fg, f)["refocused"]
    far = torch.from_numpy(~ndimage.binary_dilation(fg[0, 0].numpy() > 0, iterations=8))[None, None]
    assert db(reused, far) > 45 > db(aif_only, far) + 5
    assert db(reused) > db(aif_only) + 0.1


def test_capture_reuse_checks_its_inputs():
    aif, d, m = torch.rand(1, 3, 16, 16), torch.zeros(1, 1, 16, 16), torch.ones(1, 1, 16, 16)
    with pytest.raises(ValueError, match="capture"):
        refocus_from_disparity(aif, d, m, 0.6, capture=torch.rand(1, 3, 8, 8))
    with pytest.raises(ValueError, match="blend_px"):
        refocus_from_disparity(aif, d, m, 0.6, capture=aif, blend_px=0.0)


def test_refocus_to_the_photos_own_focus_returns_the_photo():
    """The real Canon pair, refocused onto the pixels the camera focused on (shipped model's |d| < 0.15 px):
    the target blur is the capture's own, so the answer is the photo itself. Reusing the capture gives it
    back (measured 46.9 dB against the photo); blurring the deblurred AIF again does not (36.2 dB)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real test data not found at {SHARED_DATA} (../shared/data beside the checkout)")
    from genrefocus.io import load_dp_pair
    from genrefocus.pipelines.dual_pixel import DPOptions, DualPixelPipeline

    left, right = load_dp_pair(SHARED_DATA / "dp_pairs" / "canon_00.gif")
    pipe = DualPixelPipeline.from_pretrained(options=DPOptions(axis="horizontal"))
    mask = pipe.all_in_focus(left, right).disparity.abs() < 0.15
    photo = (left + right) / 2
    got = {}
    for reuse in (True, False):
        p = DualPixelPipeline(pipe.model, options=DPOptions(axis="horizontal", reuse_capture=reuse))
        got[reuse] = float(psnr(p(left, right, focus=mask).image, photo)[0])
    print("against the photo (dB): capture reused %.2f, AIF re-blurred %.2f" % (got[True], got[False]))
    assert got[True] > 45 and got[False] < got[True] - 8


def test_cli_render_from_aif_flag(tmp_path):
    """``dp-refocus --render-from-aif`` turns the capture reuse off: the two outputs differ."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real test data not found at {SHARED_DATA} (../shared/data beside the checkout)")
    from genrefocus.cli import main
    from genrefocus.io import load_image

    src = SHARED_DATA / "dp_pairs" / "canon_03.gif"
    for flag, name in (([], "reused.png"), (["--render-from-aif"], "aif.png")):
        assert main(["dp-refocus", "--input", str(src), "--point", "420,420", "--axis", "horizontal", *flag,
                     "-o", str(tmp_path / name)]) == 0
    reused, aif = (load_image(tmp_path / n) for n in ("reused.png", "aif.png"))
    assert reused.shape == aif.shape == (1, 3, 560, 840)
    assert float((reused - aif).abs().mean()) > 1e-3
