"""Dual-pixel data: DP synthesis from AIF + depth against the exact scene-lab pair, SGBM disparity
against the closed form, flips, the three training sources (scene lab, AIF + depth, DPDD layout)."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from genrefocus.errors import InputError
from genrefocus.metrics import psnr
from genrefocus.optics import Plane, Scene, make_scene
from genrefocus.optics.dp_disparity import HALF_DISK_DISPARITY, sgbm_disparity, sign_agreement
from genrefocus.data.dp_samples import DPBatches, dp_from_aif, flip_dp_sample, scene_lab_dp_sample


@pytest.fixture(scope="module")
def scene():
    return make_scene((96, 128), depths_m=(6.0, 1.0), seed=0, textures=("brick", "coffee"))


@pytest.mark.parametrize("focus_m", [6.0, 1.0, 2.0])
def test_dp_synthesis_from_aif_matches_the_exact_pair(scene, focus_m):
    """Half-disk apertures through the layered renderer (flipped in front of the focal plane) give the
    scene lab's exact half-aperture integrals: measured 38–44 dB for these three focus planes."""
    K, df = 4.0, 1.0 / focus_m
    left, right = scene.dual_pixel(K, df)
    l2, r2 = dp_from_aif(scene.aif(), scene.disparity(), K, df)
    assert float(psnr(l2, left)[0]) > 36 and float(psnr(r2, right)[0]) > 36
    # the views are not confused: against the other view it is clearly worse
    assert float(psnr(l2, right)[0]) < float(psnr(l2, left)[0]) - 8


def test_sgbm_disparity_matches_the_half_disk_closed_form(scene):
    K, df = 4.0, 0.5  # focus between the planes: background behind (c < 0), foreground in front (c > 0)
    left, right = scene.dual_pixel(K, df)
    d, valid = sgbm_disparity(left, right)
    c = K * (scene.disparity() - df)
    for z in (6.0, 1.0):
        sel = (scene.depth() == z) & valid
        expect = HALF_DISK_DISPARITY * float(c[scene.depth() == z].median())
        got = float(d[sel].median())
        assert np.sign(got) == np.sign(expect) and abs(got - expect) <= 0.25 * abs(expect) + 0.2, (z, got, expect)
    assert sign_agreement(HALF_DISK_DISPARITY * c, d, valid) > 0.9
    assert sign_agreement(-HALF_DISK_DISPARITY * c, d, valid) < 0.1


def test_sign_agreement_closed_cases():
    ref = torch.tensor([[-2.0, -1.5, 0.2, 1.0, 3.0]]).view(1, 1, 1, 5)
    valid = torch.ones_like(ref, dtype=torch.bool)
    pred = torch.tensor([[-1.0, 0.5, 5.0, 0.1, 2.0]]).view(1, 1, 1, 5)
    assert sign_agreement(pred, ref, valid) == pytest.approx(3 / 4)  # |ref| < 1 ignored
    assert np.isnan(sign_agreement(pred, ref, torch.zeros_like(valid)))


def test_horizontal_flip_equals_the_mirrored_scene(scene):
    K, df = 4.0, 0.5
    left, right = scene.dual_pixel(K, df)
    mirrored = Scene([Plane(p.texture.flip(-1), p.alpha.flip(-1), p.depth_m) for p in scene.planes])
    ml, mr = mirrored.dual_pixel(K, df)
    s = flip_dp_sample({"left": left, "right": right, "coc": None}, horizontal=True, vertical=False)
    assert float(psnr(s["left"], ml)[0]) > 50 and float(psnr(s["right"], mr)[0]) > 50
    assert float(psnr(left.flip(-1), ml)[0]) < 40  # without the swap it would be the wrong view


def test_scene_lab_sample_has_an_exact_refocus_target():
    s = scene_lab_dp_sample(np.random.default_rng(3), 48)
    assert s["left"].shape == (1, 3, 48, 48) and s["mask"].shape == (1, 1, 48, 48) and s["mask"].sum() >= 16
    assert float(psnr(s["target"], s["blurry"])[0]) > 15 and set(s) >= {"aif", "coc", "target"}


def _fake_dpdd(root, n=2, size=(40, 56)):
    rng = np.random.default_rng(0)
    for view in ("c", "l", "r"):
        for sub in ("source", "target"):
            d = root / "dd_dp_dataset_canon" / f"train_{view}" / sub
            d.mkdir(parents=True)
            for i in range(n):
                Image.fromarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8)).save(d / f"{i:03d}.png")


def test_three_training_sources(tmp_path):
    from genrefocus.data.readers import dpdd_dual_pixel

    _fake_dpdd(tmp_path / "dpdd")
    recs = list(dpdd_dual_pixel(tmp_path / "dpdd"))
    assert len(recs) == 2 and recs[0]["left"].endswith("train_l/source/000.png") and recs[0]["aif"].endswith(
        "train_c/target/000.png")
    # AIF + depth manifest (the format `genrefocus-data synthetic` writes)
    sc = make_scene((48, 64), depths_m=(5.0, 1.0), seed=2)
    (tmp_path / "aif").mkdir()
    Image.fromarray((sc.aif()[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)).save(tmp_path / "aif" / "a.png")
    np.save(tmp_path / "aif" / "a.npy", sc.depth()[0, 0].numpy())
    (tmp_path / "m.jsonl").write_text(json.dumps({"id": "a", "aif": "aif/a.png", "depth": "aif/a.npy"}) + "\n")
    rng = np.random.default_rng(0)
    for spec, has_coc in (("scene_lab", True), (f"aif_depth:{tmp_path / 'm.jsonl'}", True),
                          (f"dpdd:{tmp_path / 'dpdd'}", False)):
        b = DPBatches([spec], size=32, scene_cache=2 if spec == "scene_lab" else 0, spacing_px=1.0)(rng, 2)
        assert b["left"].shape == (2, 3, 32, 32) and (b["coc"] is not None) == has_coc
        assert (b["target"] is not None) == has_coc and (b["mask"] is None or bool((b["mask"].flatten(1).sum(1) > 0).all()))
    with pytest.raises(InputError, match="unknown DP data source"):
        DPBatches(["lightfield:x"], size=32)


def test_train_dp_mixes_sources(tmp_path):
    from genrefocus.models.uid import UiDModel
    from genrefocus.training.uid import UiDTrainConfig, train_uid

    _fake_dpdd(tmp_path / "dpdd", size=(64, 64))
    folder = train_uid(UiDTrainConfig(output_dir=str(tmp_path / "uid"), steps=4, batch_size=1, size=32, seed=1,
                                    sources=("scene_lab", f"dpdd:{tmp_path / 'dpdd'}"), scene_cache=2, log_every=1,
                                    model={"stages": 3, "n_kernels": 8}), progress=False)
    log = json.loads((tmp_path / "uid" / "train_log.json").read_text())["log"]
    kinds = {"refocus" in r for r in log}
    assert kinds == {True, False}, log  # both a scene-lab step (with refocus) and a DPDD step (without)
    assert UiDModel.from_pretrained(folder).config.stages == 3


def test_smooth_photodiode_split(scene):
    """A smooth split σ(∓s_x/τ) still sums to the full aperture, and shrinks the DP baseline."""
    from genrefocus.optics.dp_disparity import dp_disparity_factor

    full = scene.render_linear(4.0, 0.5, spacing_px=1.0)
    for tau in (0.2, 0.5):
        left = scene.render_linear(4.0, 0.5, spacing_px=1.0, half="left", softness=tau)
        right = scene.render_linear(4.0, 0.5, spacing_px=1.0, half="right", softness=tau)
        torch.testing.assert_close((left + right) / 2, full, atol=1e-5, rtol=0)
    f = [dp_disparity_factor(t) for t in (0.0, 1e-3, 0.2, 0.5)]
    assert f[0] == pytest.approx(8 / (3 * np.pi)) and f[1] == pytest.approx(f[0], abs=5e-3)
    assert f[0] > f[2] > f[3] > 0
