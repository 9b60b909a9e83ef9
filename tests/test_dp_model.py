"""UiD model: shapes on real DP captures, trunk invertibility, an overfit run, clear input errors."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from genrefocus.errors import InputError, MissingWeightsError
from genrefocus.models.losses import uid_loss
from genrefocus.models.uid import UiDConfig, UiDModel
from genrefocus.io import load_dp_pair
from genrefocus.optics import make_scene


def test_runs_on_real_dp_captures(shared_data):
    torch.manual_seed(0)
    model = UiDModel(UiDConfig(stages=3)).eval()
    for name in ("canon_00.gif", "pixel_00.gif"):
        left, right = load_dp_pair(shared_data / "dp_pairs" / name)
        left, right = (F.interpolate(x, size=(96, 128), mode="area") for x in (left, right))
        with torch.no_grad():
            out = model(left, right)
        assert out["aif"].shape == (1, 3, 96, 128) and out["disparity"].shape == (1, 1, 96, 128)
        assert out["disparity"].abs().max() <= model.config.max_disp


def test_trunk_is_invertible_with_exact_kernels():
    model = UiDModel(UiDConfig(stages=3, hidden=8)).double()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for blk in model.blocks:
            for p in blk.parameters():
                p.add_(0.2 * torch.randn(p.shape, generator=g, dtype=p.dtype))
    x = torch.rand(1, 3, 32, 40, dtype=torch.float64)
    delta = lambda s, k: torch.zeros(1, k * k, 32 // 2 ** s, 40 // 2 ** s, dtype=torch.float64).index_fill_(  # noqa: E731
        1, torch.tensor([k * k // 2]), 1.0)
    y = model.deblur_with(x, [delta(s, 5) for s in range(3)])
    back = model.reblur_with(y, [delta(s, 9) for s in range(3)])
    assert (y - x).abs().max() > 1e-2 and (back - x).abs().max() < 1e-5


def _dp_sample(size=32, seed=0):
    sc = make_scene((size, size), depths_m=(6.0, 1.0), seed=seed, textures=("brick", "coffee"))
    K, df = 4.0, sc.planes[0].disparity
    left, right = sc.dual_pixel(K, df)
    coc = K * (sc.disparity() - df)
    blurry = (left + right) / 2
    return left, right, sc.aif(), blurry, coc


def test_overfits_one_scene_lab_pair():
    """All loss terms (deblur, reblur of the ground truth, CoC, disparity, refocus) on one exact sample."""
    from genrefocus.training.uid import uid_step_loss
    from genrefocus.data.dp_samples import scene_lab_dp_sample

    torch.manual_seed(0)
    model = UiDModel(UiDConfig(stages=3, n_kernels=16, hidden=8))
    sample = scene_lab_dp_sample(np.random.default_rng(0), 32, spacing_px=1.0)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(60):
        total, parts = uid_step_loss(model, sample)
        opt.zero_grad()
        total.backward()
        opt.step()
        losses.append(float(total))
    print(f"UiD overfit: {losses[0]:.4f} → {losses[-1]:.4f}", parts)
    assert losses[-1] < 0.5 * losses[0] and set(parts) >= {"deblur", "reblur", "coc", "refocus", "disparity"}


def test_reblur_target_is_the_ground_truth_when_given():
    """Without ``sharp`` the backward mapping undoes the forward (near-delta kernels at init: the blurry
    input comes back); with the ground-truth AIF it is a different image — the one the loss compares."""
    torch.manual_seed(0)
    model = UiDModel(UiDConfig(stages=3, n_kernels=8)).eval()
    left, right, aif, blurry, coc = _dp_sample()
    with torch.no_grad():
        own = model(left, right)["reblurred"]
        gt = model(left, right, sharp=aif)["reblurred"]
    assert (own - blurry).abs().max() < 3e-3  # Σ w·K_n⁻¹ is close to, not exactly, (Σ w·K_n)⁻¹
    assert (gt - blurry).abs().max() > 1e-2
    total, parts = uid_loss(model(left, right, sharp=aif), aif, blurry)  # no CoC (real captures)
    assert "coc" not in parts and torch.isfinite(total)


def test_bad_inputs(tmp_path):
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(tmp_path / "one.gif")
    with pytest.raises(InputError, match="two frames"):
        load_dp_pair(tmp_path / "one.gif")
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(tmp_path / "a.png")
    Image.fromarray(np.zeros((32, 48, 3), np.uint8)).save(tmp_path / "b.png")
    with pytest.raises(InputError, match="differ in size"):
        load_dp_pair(tmp_path / "a.png", tmp_path / "b.png")
    model = UiDModel(UiDConfig(stages=3))
    x = torch.rand(1, 3, 32, 32)
    with pytest.raises(InputError, match="empty"):
        model.refocus(x, x, torch.zeros(1, 1, 32, 32))
    with pytest.raises(InputError, match="multiple of 4"):
        model(torch.rand(1, 3, 30, 32), torch.rand(1, 3, 30, 32))
    with pytest.raises(MissingWeightsError, match="not a model folder"):
        UiDModel.from_pretrained(tmp_path)


def test_refocus_and_save_load_round_trip(tmp_path):
    torch.manual_seed(0)
    model = UiDModel(UiDConfig(stages=3, n_kernels=8)).eval()
    left, right, *_ = _dp_sample()
    mask = torch.zeros(1, 1, 32, 32)
    mask[..., 8:16, 8:16] = 1
    with torch.no_grad():
        out = model.refocus(left, right, mask)
    assert out["refocused"].shape == (1, 3, 32, 32) and torch.isfinite(out["refocused"]).all()
    model.save_pretrained(tmp_path / "uid")
    again = UiDModel.from_pretrained(tmp_path / "uid")
    with torch.no_grad():
        torch.testing.assert_close(again(left, right)["aif"], model(left, right)["aif"])


def test_training_entry_point_writes_a_checkpoint(tmp_path):
    from genrefocus.training.uid import UiDTrainConfig, train_uid

    folder = train_uid(UiDTrainConfig(output_dir=str(tmp_path / "uid"), steps=3, batch_size=1, size=32,
                                    model={"stages": 3, "n_kernels": 8}), progress=False)
    model = UiDModel.from_pretrained(folder)
    assert model.config.stages == 3 and (tmp_path / "uid" / "train_log.json").is_file()
    assert (tmp_path / "uid" / "model.safetensors").stat().st_size < 15 * 2 ** 20
