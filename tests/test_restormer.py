"""Restormer's block (the ``backbone="restormer"`` option of JDRL's F_D) against closed forms."""

import math

import pytest
import torch

from genrefocus.models.restormer import MDTA, ChannelLayerNorm, RestormerBlock


def test_channel_layer_norm_normalises_each_pixel_over_its_channels():
    x = torch.randn(2, 5, 4, 3, dtype=torch.float64)
    ln = ChannelLayerNorm(5).double()
    mean, var = x.mean(1, keepdim=True), x.var(1, unbiased=False, keepdim=True)
    assert torch.allclose(ln(x), (x - mean) / torch.sqrt(var + 1e-5), atol=1e-9)


def test_transposed_attention_closed_form_on_orthogonal_channels():
    """q = k = v = x with orthogonal channel images: q̂ k̂ᵀ = I (L2 over the pixels), so each output channel
    is softmax of a row of I: (e·x_i + Σ_{j≠i} x_j) / (e + C − 1) — wrong normalisation or softmax axes fail."""
    C, H, W = 4, 4, 4
    m = MDTA(C, heads=1).double()
    with torch.no_grad():
        m.qkv.weight.copy_(torch.cat([torch.eye(C)] * 3).view(3 * C, C, 1, 1))
        m.qkv_dw.weight.zero_()
        m.qkv_dw.weight[:, 0, 1, 1] = 1.0       # depthwise identity
        m.proj.weight.copy_(torch.eye(C).view(C, C, 1, 1))
    x = torch.zeros(1, C, H, W, dtype=torch.float64)
    for i in range(C):                          # disjoint supports: orthogonal channels
        x[0, i, i] = torch.rand(W, dtype=torch.float64) + 0.5
    out = m(x)
    e = math.e
    expect = (e * x + (x.sum(1, keepdim=True) - x)) / (e + C - 1)
    assert torch.allclose(out, expect, atol=1e-12)


def test_block_keeps_shape_and_needs_heads_that_divide_channels():
    blk = RestormerBlock(8, heads=2)
    x = torch.rand(2, 8, 10, 12)
    assert blk(x).shape == x.shape
    with pytest.raises(ValueError, match="heads"):
        RestormerBlock(6, heads=4)


def test_jdrl_with_the_restormer_backbone_trains_saves_and_loads(tmp_path):
    from genrefocus.models.jdrl import JDRLConfig, JDRLDeblur
    from genrefocus.training.jdrl import JDRLTrainConfig, train_jdrl

    small = {"width": 8, "levels": 2, "map_width": 4, "backbone": "restormer", "blocks": 1}
    train_jdrl(JDRLTrainConfig(output_dir=str(tmp_path / "r"), loss="jdrl", steps=1, batch_size=1, size=32,
                               model=small, checkpointing_steps=0, log_every=1), progress=False)
    model = JDRLDeblur.from_pretrained(tmp_path / "r")
    assert model.config.backbone == "restormer"
    assert any("attn" in n for n, _ in model.named_parameters())
    assert model.deblur(torch.rand(1, 3, 30, 45)).shape == (1, 3, 30, 45)
    with pytest.raises(ValueError, match="backbone"):
        JDRLConfig(backbone="hinet")


def test_jdrl_with_the_mprnet_backbone_is_multi_stage_and_trains(tmp_path):
    """MPRNet's structure (Zamir et al. 2021, §3): stages 1–2 restore patches independently — nothing
    crosses the horizontal mid-line in stage 1, only stage 2's closing SAM (a 3×3 conv on the joined
    halves, 1 px) in stage 2, while stage 3 works on the whole image —, every stage's
    estimate is returned (and supervised); the option trains, saves and loads."""
    from genrefocus.models.jdrl import JDRLConfig, JDRLDeblur
    from genrefocus.training.jdrl import JDRLTrainConfig, train_jdrl

    torch.manual_seed(0)
    model = JDRLDeblur(JDRLConfig(width=8, map_width=4, backbone="mprnet"))
    for p in model.mpr.tail.parameters():
        torch.nn.init.normal_(p, std=0.1)
    x = torch.rand(1, 3, 32, 48)
    y = x.clone()
    y[..., :16, :] = torch.rand(1, 3, 16, 48)                  # a different top half
    with torch.no_grad():
        a, b = model.mpr(x, torch.zeros(1, 35, 32, 48), lambda r: r), model.mpr(y, torch.zeros(1, 35, 32, 48), lambda r: r)
    assert torch.equal(a[0][..., 16:, :], b[0][..., 16:, :])        # stage 1: halves apart
    assert torch.equal(a[1][..., 17:, :], b[1][..., 17:, :])        # stage 2: + its SAM's 1-px reach
    assert not torch.allclose(a[2][..., 16:, :], b[2][..., 16:, :])   # stage 3 sees the whole image
    out = model(x)
    assert len(out["stages"]) == 2 and out["sharp"].shape == x.shape and model.stride == 8
    train_jdrl(JDRLTrainConfig(output_dir=str(tmp_path / "m"), loss="jdrl", steps=1, batch_size=1, size=32,
                               model={"width": 8, "map_width": 4, "backbone": "mprnet"}, checkpointing_steps=0,
                               log_every=1), progress=False)
    again = JDRLDeblur.from_pretrained(tmp_path / "m")
    assert again.config.backbone == "mprnet" and again.deblur(torch.rand(1, 3, 30, 45)).shape == (1, 3, 30, 45)
