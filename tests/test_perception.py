"""Perception wrappers on tiny random transformers models: Depth Pro, SAM, BiRefNet opt-in, fallback mask."""

import math

import pytest
import torch

from genrefocus.errors import InputError, MissingWeightsError
from genrefocus.perception import BiRefNetSegmenter, DepthPro, SamPrompter, in_focus_mask


def _tiny_depth_pro():
    from transformers import DepthProConfig, DepthProForDepthEstimation

    sub = dict(model_type="dinov2", image_size=32, patch_size=8, hidden_size=16, num_hidden_layers=2,
               num_attention_heads=2, intermediate_size=32)
    cfg = DepthProConfig(patch_size=32, fusion_hidden_size=16, intermediate_hook_ids=[1, 0],
                         intermediate_feature_dims=[8, 8], scaled_images_ratios=[0.5, 1],
                         scaled_images_overlap_ratios=[0.0, 0.5], scaled_images_feature_dims=[16, 8],
                         use_fov_model=True, num_fov_head_layers=1, image_model_config=sub, patch_model_config=sub,
                         fov_model_config=sub)
    torch.manual_seed(0)
    return DepthProForDepthEstimation(cfg).eval()


def test_depth_pro_matches_transformers_post_processing(tmp_path):
    model = _tiny_depth_pro()
    model.save_pretrained(tmp_path / "dp")
    dp = DepthPro.from_pretrained(tmp_path / "dp")
    assert dp.input_size == 64
    img = torch.rand(1, 3, 48, 80)
    depth = dp(img)
    assert depth.shape == (1, 1, 48, 80) and (depth > 0).all()
    # reference: the same forward + transformers' post_process_depth_estimation formula
    x = torch.nn.functional.interpolate(img, size=(64, 64), mode="bilinear", align_corners=False, antialias=True)
    with torch.no_grad():
        out = model(pixel_values=(x - 0.5) / 0.5)
    f = 0.5 * 80 / math.tan(0.5 * math.radians(float(out.field_of_view[0])))
    inv = torch.nn.functional.interpolate(out.predicted_depth[:, None] * 80 / f, size=(48, 80), mode="bilinear")
    torch.testing.assert_close(depth, 1 / inv.clamp(1e-4, 1e4), rtol=1e-4, atol=1e-5)
    # a known focal length overrides the predicted field of view
    d2 = dp(img, focal_length_px=2 * f)
    ok = (depth < 1e3) & (d2 < 1e3)  # away from the clamp of the (random) inverse depth
    assert ok.float().mean() > 0.2
    torch.testing.assert_close(d2[ok], depth[ok] * 2, rtol=1e-4, atol=1e-5)
    with pytest.raises(MissingWeightsError, match="DepthPro-hf"):
        DepthPro.from_pretrained(tmp_path / "missing")


def test_depth_estimator_feeds_the_pipeline(tmp_path):
    from tiny_flux import tiny_pipeline, write_official_lora

    pipe = tiny_pipeline()
    write_official_lora(tmp_path / "b.safetensors", pipe.transformer)
    pipe.load_genfocus_lora(tmp_path / "b.safetensors", "bokeh")
    pipe.depth_estimator = DepthPro(_tiny_depth_pro())
    out = pipe.bokeh(torch.rand(1, 3, 64, 64), None, focus=(10, 10), K=5, num_inference_steps=1)
    assert out.depth.shape == (1, 1, 64, 64) and out.image.shape == (1, 3, 64, 64)


def _tiny_sam():
    from transformers import (SamConfig, SamMaskDecoderConfig, SamModel, SamPromptEncoderConfig,
                              SamVisionConfig)

    v = SamVisionConfig(hidden_size=16, output_channels=8, num_hidden_layers=2, num_attention_heads=2, image_size=64,
                        patch_size=8, mlp_dim=32, global_attn_indexes=[1], window_size=4, num_pos_feats=4)
    pe = SamPromptEncoderConfig(hidden_size=8, image_size=64, patch_size=8, mask_input_channels=4)
    md = SamMaskDecoderConfig(hidden_size=8, num_hidden_layers=1, num_attention_heads=2, mlp_dim=16,
                              iou_head_hidden_dim=8)
    torch.manual_seed(0)
    return SamModel(SamConfig(vision_config=v, prompt_encoder_config=pe, mask_decoder_config=md)).eval()


def test_sam_prompter_point_and_box(tmp_path):
    _tiny_sam().save_pretrained(tmp_path / "sam")
    sam = SamPrompter.from_pretrained(tmp_path / "sam")
    img = torch.rand(1, 3, 40, 100)
    m1 = sam(img, point=(30, 20))
    m2 = sam(img, box=(10, 5, 60, 30))
    assert m1.shape == m2.shape == (1, 1, 40, 100) and m1.dtype == torch.bool
    with pytest.raises(InputError, match="outside"):
        sam(img, point=(300, 20))
    with pytest.raises(InputError, match="exactly one"):
        sam(img)
    with pytest.raises(MissingWeightsError, match="sam-vit-base"):
        SamPrompter.from_pretrained(tmp_path / "missing")


def test_birefnet_needs_opt_in_and_fallback_mask():
    with pytest.raises(InputError, match="trust_remote_code"):
        BiRefNetSegmenter.from_pretrained()
    from conftest import photo

    sharp = photo("astronaut", (96, 96))
    blurred = torch.nn.functional.avg_pool2d(sharp, 9, stride=1, padding=4)
    half = torch.cat([sharp[..., :48], blurred[..., 48:]], -1)
    m = in_focus_mask(half)
    assert m.shape == (1, 1, 96, 96) and m[..., :40].float().mean() > 0.6 and m[..., 56:].float().mean() < 0.3
    assert torch.equal(in_focus_mask(half, segmenter=lambda x: torch.ones(1, 1, 96, 96, dtype=torch.bool)),
                       torch.ones(1, 1, 96, 96, dtype=torch.bool))
