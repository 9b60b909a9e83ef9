"""Tiling as the official code does it: origins, Gaussian weights, blending; tiled == untiled on one tile."""

import numpy as np
import pytest
import torch

from genrefocus.pipelines.options import SamplerOptions
from genrefocus.pipelines.tiling import TilePlan, gaussian_weights, tile_grid, tile_origins, use_tiling
from tiny_flux import tiny_pipeline, write_official_lora


def _official_origins(L, tile=32):
    """Independent transcription of the official rule (DESIGN §4.1)."""
    stride = tile - tile // 8
    o = np.arange(0, max(1, L - tile + 1), stride, dtype=np.int32)
    if o[-1] + tile < L:
        o = np.append(o, L - tile)
    return o.tolist()


def test_origins_and_order_on_1024x1536():
    h, w = 1024 // 16, 1536 // 16
    assert tile_origins(h) == _official_origins(h) == [0, 28, 32]
    assert tile_origins(w) == _official_origins(w) == [0, 28, 56, 64]
    hh, ww = np.meshgrid(np.array(_official_origins(h)), np.array(_official_origins(w)))
    assert tile_grid(h, w, order="official") == list(zip(hh.ravel().tolist(), ww.ravel().tolist()))
    assert sorted(tile_grid(h, w)) == sorted(tile_grid(h, w, order="official"))
    plan = TilePlan(h, w)
    assert len(plan.indices) == 12 and all(len(i) == 1024 for i in plan.indices)
    covered = torch.zeros(h * w, dtype=torch.int64)
    for ind in plan.indices:
        covered[ind] += 1
    assert covered.min() >= 1  # every token is in some tile


def test_gaussian_weights_and_blending():
    x = torch.linspace(-2, 2, 32)
    want = torch.exp(-(x[:, None] ** 2 + x[None] ** 2)).flatten()
    torch.testing.assert_close(gaussian_weights(), want)
    plan = TilePlan(40, 60)
    preds = [torch.full((1, 1024, 3), float(k)) for k in range(len(plan.indices))]
    out = plan.blend(preds, 40 * 60, torch.float32)
    # at each token: weighted mean of the tile values covering it, with the tiles' Gaussian weights
    num = torch.zeros(40 * 60)
    den = torch.zeros(40 * 60)
    for k, ind in enumerate(plan.indices):
        num[ind] += k * want
        den[ind] += want
    torch.testing.assert_close(out[0, :, 0], num / den)
    const = plan.blend([torch.ones(1, 1024, 3)] * len(plan.indices), 2400, torch.float32)
    torch.testing.assert_close(const, torch.ones_like(const))


def test_compat_blending_accumulates_in_the_latent_dtype():
    plan = TilePlan(40, 40, order="official")
    g = torch.Generator().manual_seed(0)
    preds = [torch.randn(1, 1024, 4, generator=g).to(torch.bfloat16) for _ in plan.indices]
    exact = plan.blend([p.double() for p in preds], 1600, torch.float64, accumulate_dtype=torch.float64)
    err_c = (plan.blend(preds, 1600, torch.bfloat16, accumulate_dtype=torch.bfloat16).double() - exact).abs().max()
    err_f = (plan.blend(preds, 1600, torch.bfloat16).double() - exact).abs().max()
    assert err_f < err_c


def test_tiling_rule():
    assert use_tiling(512, 512) and not use_tiling(496, 512) and not use_tiling(512, 512, disable=True)
    assert not use_tiling(480, 2048)  # ≥ 1024 tokens but a side < 512 px
    assert not use_tiling(256, 256)


@pytest.mark.parametrize("compat", [False, True])
def test_tiled_equals_untiled_when_one_tile_covers(tmp_path, compat):
    pipe = tiny_pipeline()
    write_official_lora(tmp_path / "b.safetensors", pipe.transformer, seed=1, scale=0.1)
    pipe.load_genfocus_lora(tmp_path / "b.safetensors", "bokeh")
    from genrefocus.models.tasks import BOKEH_PROMPT, Condition

    g = torch.Generator().manual_seed(0)
    img = torch.rand(1, 3, 512, 512, generator=g)
    conds = [Condition(img, "bokeh"), Condition(img * 0.5, "bokeh", preprocess=False)]
    opts = SamplerOptions.compat(official_seeds=False) if compat else SamplerOptions()
    a = pipe.generate(conds, BOKEH_PROMPT, 512, 512, generator=torch.Generator().manual_seed(1), num_inference_steps=2,
                      options=opts.replace(tiling=True))
    b = pipe.generate(conds, BOKEH_PROMPT, 512, 512, generator=torch.Generator().manual_seed(1), num_inference_steps=2,
                      options=opts.replace(tiling=False))
    assert (a - b).abs().max() <= 1e-5


def test_compat_tiling_drops_condition_position_deltas(tmp_path):
    """Official quirk: in tiled mode the pre-deblur condition's (0, 32) delta is dropped; our
    default keeps it, so only the default tiled result equals the untiled one."""
    pipe = tiny_pipeline()
    write_official_lora(tmp_path / "d.safetensors", pipe.transformer, seed=1, scale=0.1)
    pipe.load_genfocus_lora(tmp_path / "d.safetensors", "pre_deblur")
    from genrefocus.models.tasks import DEBLUR_PROMPT, Condition

    img = torch.rand(1, 3, 512, 512, generator=torch.Generator().manual_seed(0))
    conds = [Condition(img * 0.3, "deblurring_pre", (0, 32)), Condition(img, "deblurring_pre")]

    def run(tiling, tile_ids):
        return pipe.generate(conds, DEBLUR_PROMPT, 512, 512, num_inference_steps=2,
                             options=SamplerOptions(tiling=tiling, tile_ids=tile_ids),
                             generator=torch.Generator().manual_seed(1))

    untiled = run(False, "offset")
    assert (run(True, "offset") - untiled).abs().max() <= 1e-5
    assert (run(True, "official") - untiled).abs().max() > 1e-4
