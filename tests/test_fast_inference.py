"""Fast inference paths: fused attention == the official per-branch loop, condition KV cache ==
no cache, batched tiles == one by one, refusal of fast mode for official LoRAs."""

import pytest
import torch

from genrefocus.errors import InputError
from genrefocus.models.branches import EAGER_BLOCKS
from genrefocus.models.tasks import BOKEH_PROMPT, Condition
from genrefocus.pipelines.options import SamplerOptions
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


def _gen(pipe, conds, h, w, compat=False, **kw):
    opts = SamplerOptions.compat(official_seeds=False, **kw) if compat else SamplerOptions(**kw)
    return pipe.generate(conds, BOKEH_PROMPT, h, w, guidance_scale=1.0, num_inference_steps=3,
                         generator=torch.Generator().manual_seed(7), options=opts)


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
    cached = _gen(ours, conds, h, w, independent_conditions=True, tiling=tiling)
    uncached = _gen(ours, conds, h, w, independent_conditions=True, kv_cache=False, tiling=tiling)
    assert (cached - uncached).abs().max() <= 1e-5
    full = _gen(ours, conds, h, w, tiling=tiling)  # the official mask differs: fast is another model
    assert (cached - full).abs().max() > 1e-4


def test_fast_mode_refused_for_official_loras(pipes):
    official, _ = pipes
    with pytest.raises(InputError, match="independent conditions"):
        _gen(official, _conds(64, 64), 64, 64, independent_conditions=True)


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

    official, ours = pipes
    conds = _conds(64, 96)
    ref = _gen(official, conds, 64, 96)
    official.block_functions = compile_blocks(backend="eager")  # graph capture without a C++ toolchain
    try:
        out = _gen(official, conds, 64, 96)
    finally:
        official.block_functions = EAGER_BLOCKS
    assert (out - ref).abs().max() <= 1e-5
    assert ours.block_functions is EAGER_BLOCKS  # compiling one pipeline changes nothing elsewhere


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


def test_fast_mode_batches_tiles_like_one_by_one(pipes):
    _, ours = pipes
    conds = _conds(512, 768, seed=3)
    one = _gen(ours, conds, 512, 768, independent_conditions=True, tiling=True, tile_batch=1)
    batched = _gen(ours, conds, 512, 768, independent_conditions=True, tiling=True, tile_batch=3)
    assert (one - batched).abs().max() <= 1e-5


def test_condition_kv_cache_is_compact(pipes):
    """The cache holds copies of exactly the condition keys/values (not views that keep the full
    key/value tensors alive): its bytes equal the formula, and so does the storage behind them."""
    from genrefocus.models.branches import Branch, ConditionKVCache, group_mask, kv_cache_bytes, multibranch_forward

    _, ours = pipes
    tr = ours.transformer
    g = torch.Generator().manual_seed(0)
    B, n, nt = 2, 24, 8
    lat, c1, c2 = (torch.randn(B, n, 16, generator=g) for _ in range(3))
    ids = torch.zeros(n, 3)
    t, gd = torch.full((B,), 0.3), torch.ones(B)
    text = Branch(torch.randn(B, nt, 32, generator=g), torch.zeros(nt, 3), t, gd)
    cache = ConditionKVCache()
    with torch.no_grad():
        multibranch_forward(tr, text, [Branch(lat, ids, t, gd), Branch(c1, ids, 0 * t, gd, "bokeh"),
                                       Branch(c2, ids, 0 * t, gd, "bokeh")], torch.randn(B, 24, generator=g),
                            group_mask(2, independent=True), cache=cache)
    want = kv_cache_bytes(tr.config, 2 * n, B, dtype_bytes=4)
    assert cache.nbytes() == want
    assert sum(x.untyped_storage().nbytes() for kv in cache.kv.values() for x in kv) == want
