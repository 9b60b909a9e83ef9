"""CPU depth estimation (Depth Anything V2 through transformers): preprocessing equal to the model's
own image processor, a tiny random model end to end through `genrefocus render` with no depth file,
and one clear line when the weights are not at hand."""

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import photo
from genrefocus.cli import main
from genrefocus.perception import DEPTH_ANYTHING_ID, DepthAnything


def _tiny_depth_anything(path):
    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config

    torch.manual_seed(0)
    backbone = Dinov2Config(hidden_size=32, num_hidden_layers=4, num_attention_heads=2, intermediate_size=64,
                            patch_size=14, image_size=518, out_indices=[1, 2, 3, 4],
                            out_features=["stage1", "stage2", "stage3", "stage4"], reshape_hidden_states=False)
    cfg = DepthAnythingConfig(backbone_config=backbone, reassemble_hidden_size=32, neck_hidden_sizes=[8, 16, 32, 32],
                              fusion_hidden_size=16, head_hidden_size=8, patch_size=14)
    DepthAnythingForDepthEstimation(cfg).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return _tiny_depth_anything(tmp_path_factory.mktemp("depth_anything"))


@pytest.mark.parametrize("size", [(300, 451), (512, 384), (97, 700)])
def test_preprocessing_matches_the_transformers_image_processor(tiny_model, size):
    """The reference is transformers' DPT image processor configured as the released model's
    preprocessor_config.json (518, keep aspect ratio, multiple of 14, bicubic, ImageNet stats)."""
    from transformers import DPTImageProcessor

    proc = DPTImageProcessor(size={"height": 518, "width": 518}, keep_aspect_ratio=True, ensure_multiple_of=14,
                             resample=Image.BICUBIC, do_rescale=True, do_normalize=True,
                             image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225])
    img = photo("astronaut", size)
    u8 = (img[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    want = proc(images=u8, return_tensors="pt")["pixel_values"]
    got = DepthAnything.from_pretrained(tiny_model).preprocess(torch.from_numpy(u8).permute(2, 0, 1)[None] / 255.0)
    assert got.shape == want.shape
    print(f"{size}: input {tuple(want.shape[-2:])}, mean |ours − processor| {float((got - want).abs().mean()):.4f}")
    # PIL's and torch's antialiased bicubic differ by rounding (measured 0.0045 ≈ 0.26 grey levels)
    assert float((got - want).abs().mean()) < 0.01


def test_tiny_random_model_estimates_a_normalised_relative_disparity(tiny_model):
    est = DepthAnything.from_pretrained(tiny_model).estimate(photo("chelsea", (90, 130)))
    d = est.disparity
    assert d.shape == (1, 1, 90, 130) and not est.metric
    assert float(d.min()) == pytest.approx(0.0, abs=1e-6) and float(d.max()) == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(ValueError, match="metric"):
        est.depth_m


def test_render_without_a_depth_file(tiny_model, tmp_path, capsys):
    src, out = tmp_path / "photo.png", tmp_path / "out.png"
    Image.fromarray((photo("astronaut", (120, 160))[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)).save(src)
    assert main(["render", str(src), "--focus", "80,60", "--K", "20", "--depth-model", str(tiny_model),
                 "-o", str(out)]) == 0
    assert "estimated with" in capsys.readouterr().out
    with Image.open(out) as im:
        assert im.size == (160, 120)


def test_missing_depth_model_is_one_line_with_the_download_command(tmp_path, monkeypatch, capsys):
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_HUB_CACHE", str(tmp_path / "empty_cache"))
    src = tmp_path / "photo.png"
    Image.fromarray(np.full((64, 64, 3), 128, np.uint8)).save(src)
    rc = main(["render", str(src), "--focus", "10,10", "-o", str(tmp_path / "out.png")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1
    from genrefocus.hub import download_command

    assert download_command(DEPTH_ANYTHING_ID) in err and "--disparity" in err


def test_load_depth_estimator_picks_the_model_and_reads_relative_depth_as_metres(tiny_model):
    from genrefocus.perception import RelativeAsMetric, load_depth_estimator

    image = photo("astronaut", (96, 128))
    rel = load_depth_estimator(tiny_model)
    assert isinstance(rel, DepthAnything)
    metric = load_depth_estimator(tiny_model, metric=True)
    assert isinstance(metric, RelativeAsMetric)
    d = rel(image)
    depth = metric(image)
    # the convention: normalised disparity d read as d / 1 m → nearest point at 1 m, order reversed
    assert float(depth.min()) == pytest.approx(1.0)
    assert torch.allclose(depth, 1.0 / d.clamp_min(1e-3), rtol=1e-5)
    assert metric.estimate(image).metric and float(metric.estimate(image).disparity.max()) == pytest.approx(1.0)
    with pytest.raises(Exception, match="config.json"):
        load_depth_estimator(tiny_model.parent / "absent")


def test_generative_bokeh_with_the_cpu_depth_model(tiny_model, tmp_path):
    """`genrefocus bokeh` with no --depth and a Depth Anything --depth-model runs end to end (tiny FLUX)."""
    from tiny_flux import tiny_pipeline, write_official_lora

    p = tiny_pipeline()
    p.save_pretrained(tmp_path / "flux")
    p.save_prompt_cache(tmp_path / "prompts.safetensors")
    write_official_lora(tmp_path / "bokehNet.safetensors", p.transformer, seed=2, scale=0.2)
    Image.fromarray((photo("astronaut", (64, 96))[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)).save(tmp_path / "aif.png")
    rc = main(["bokeh", "--input", str(tmp_path / "aif.png"), "--point", "40,30", "--k_value", "10", "--steps", "1",
               "--depth-model", str(tiny_model), "--model", str(tmp_path / "flux"), "--lora-dir", str(tmp_path),
               "--prompt-cache", str(tmp_path / "prompts.safetensors"), "--output", str(tmp_path / "b.png")])
    assert rc == 0
    with Image.open(tmp_path / "b.png") as im:
        assert im.size == (96, 64)
