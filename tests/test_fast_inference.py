"""Fast inference paths: fused attention == the official per-branch loop, condition KV cache ==
no cache, batched tiles == one by one, refusal of fast mode for official LoRAs."""

import pytest
import torch

from genrefocus.errors import InputError
from genrefocus.pipelines.generative import BOKEH_PROMPT, Condition
from tiny_flux import tiny_pipeline, write_official_lora


@pytest.fixture(scope="module")
def pipes(tmp_path_factory):
    d = tmp_path_factory.mktemp("fast")
    official = tiny_pipeline()
    write_official_lora(d / "bokehNet.safetensors", official.transformer, seed=2, scale=0.2)
    official.load_genfocus_lora(d / "bokehNet.safetensors", "bokeh")
    ours = tiny_pipeline()
    write_official_lora(d / "ours.safetensors", ours.transformer, seed=2, scale=0.2,
                        metadata={"independent_conditions": "true"})
    ours.load_genfocus_lora(d / "ours.safetensors", "bokeh")
    return official, ours


def _conds(h, w, seed=0):
    g = torch.Generator().manual_seed(seed)
    img = torch.rand(1, 3, h, w, generator=g)
    return [Condition(img, "bokeh"), Condition(img.mean(1, keepdim=True).repeat(1, 3, 1, 1), "bokeh",
                                               preprocess=False)]


def _gen(pipe, conds, h, w, **kw):
    return pipe.generate(conds, BOKEH_PROMPT, h, w, guidance_scale=1.0, num_inference_steps=3,
                         generator=torch.Generator().manual_seed(7), **kw)


@pytest.mark.parametrize("tiling", [False, True])
def test_fused_compat_equals_per_branch_loop(pipes, tiling):
    official, _ = pipes
    h, w = (512, 768) if tiling else (128, 192)
    conds = _conds(h, w)
    loop = _gen(official, conds, h, w, compat=True, attention="loop", tiling=tiling)
    fused = _gen(official, conds, h, w, compat=True, attention="fused", tiling=tiling)
    assert (loop - fused).abs().max() <= 1e-4


def test_batched_tiles_equal_one_by_one(pipes):
    official, _ = pipes
    conds = _conds(512, 768, seed=1)
    one = _gen(official, conds, 512, 768, tiling=True, tile_batch=1)
    batched = _gen(official, conds, 512, 768, tiling=True, tile_batch=4)
    assert (one - batched).abs().max() <= 1e-4


@pytest.mark.parametrize("tiling", [False, True])
def test_fast_kv_cache_equals_no_cache(pipes, tiling):
    _, ours = pipes
    h, w = (512, 768) if tiling else (128, 192)
    conds = _conds(h, w, seed=2)
    cached = _gen(ours, conds, h, w, fast=True, tiling=tiling)
    uncached = _gen(ours, conds, h, w, fast=True, kv_cache=False, tiling=tiling)
    assert (cached - uncached).abs().max() <= 1e-5
    full = _gen(ours, conds, h, w, tiling=tiling)  # the official mask differs: fast is another model
    assert (cached - full).abs().max() > 1e-4


def test_fast_mode_refused_for_official_loras(pipes):
    official, _ = pipes
    with pytest.raises(InputError, match="independent conditions"):
        _gen(official, _conds(64, 64), 64, 64, fast=True)


def test_int8_quantized_transformer_stays_close(tmp_path):
    pytest.importorskip("torchao")
    from genrefocus.models.acceleration import quantize_transformer

    pipe = tiny_pipeline()
    write_official_lora(tmp_path / "b.safetensors", pipe.transformer, seed=2, scale=0.2)
    pipe.load_genfocus_lora(tmp_path / "b.safetensors", "bokeh")
    conds = _conds(64, 96)
    ref = _gen(pipe, conds, 64, 96)
    quantize_transformer(pipe.transformer, "int8")
    w = pipe.transformer.transformer_blocks[0].attn.to_q.base_layer.weight
    assert type(w).__name__ != "Parameter" or w.dtype != torch.float32  # a torchao quantized tensor
    q = _gen(pipe, conds, 64, 96)
    assert (q - ref).abs().mean() < 0.02
    with pytest.raises(InputError, match="int8 or fp8"):
        quantize_transformer(pipe.transformer, "int4")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="compute capability"):
            quantize_transformer(pipe.transformer, "fp8")


def test_compiled_blocks_give_the_same_result(pipes):
    from genrefocus.models.acceleration import compile_blocks

    official, _ = pipes
    conds = _conds(64, 96)
    ref = _gen(official, conds, 64, 96)
    try:
        compile_blocks(backend="eager")  # graph capture without a C++ toolchain in the test
        out = _gen(official, conds, 64, 96)
    finally:
        compile_blocks(enable=False)
    assert (out - ref).abs().max() <= 1e-5


def test_cpu_offload_hook_is_honoured(pipes, monkeypatch):
    """Our forward calls transformer submodules directly, so the pipeline calls the model-offload
    hook itself before each step."""
    official, _ = pipes
    calls = []

    class Hook:
        def pre_forward(self, module, *a, **k):
            calls.append(module)

    monkeypatch.setattr(official.transformer, "_hf_hook", Hook(), raising=False)
    _gen(official, _conds(64, 64), 64, 64)
    assert len(calls) == 3 and calls[0] is official.transformer
