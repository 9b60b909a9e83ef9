"""Official-format LoRA files: applied to exactly the DESIGN §4.1 modules, bad files fail clearly."""

import pytest
import torch

from genrefocus.errors import InputError, MissingWeightsError
from genrefocus.models.branches import lora_layers
from genrefocus.models.lora import routed_module_names, validate_lora_file
from genrefocus.pipelines.generative import GenRefocusPipeline
from tiny_flux import tiny_pipeline, write_official_lora

DESIGN_DOUBLE = {"norm1.linear", "attn.to_q", "attn.to_k", "attn.to_v", "attn.to_out.0", "ff.net.2"}
DESIGN_SINGLE = {"norm.linear", "proj_mlp", "attn.to_q", "attn.to_k", "attn.to_v", "proj_out"}


def test_routed_modules_are_the_design_list():
    pipe = tiny_pipeline()
    names = set(routed_module_names(pipe.transformer))
    want = {"x_embedder"}
    want |= {f"transformer_blocks.0.{m}" for m in DESIGN_DOUBLE}
    want |= {f"single_transformer_blocks.0.{m}" for m in DESIGN_SINGLE}
    assert names == want


def test_official_file_loads_onto_exactly_those_modules(tmp_path):
    pipe = tiny_pipeline()
    sd = write_official_lora(tmp_path / "bokehNet.safetensors", pipe.transformer, rank=4)
    info = validate_lora_file(tmp_path / "bokehNet.safetensors", pipe.transformer)
    assert info["rank"] == 4 and len(info["modules"]) == 13
    pipe.load_genfocus_lora(tmp_path / "bokehNet.safetensors", "bokeh")
    wrapped = {n for n, m in pipe.transformer.named_modules() if m in lora_layers([pipe.transformer])}
    assert wrapped == set(routed_module_names(pipe.transformer))
    # the loaded weights are the file's
    A = pipe.transformer.transformer_blocks[0].attn.to_q.lora_A["bokeh"].weight
    torch.testing.assert_close(A, sd["transformer.transformer_blocks.0.attn.to_q.lora_A.weight"])


@pytest.mark.parametrize("extra, msg", [
    ({"transformer.context_embedder.lora_A.weight": torch.zeros(4, 32),
      "transformer.context_embedder.lora_B.weight": torch.zeros(32, 4)}, "unknown LoRA keys"),
    ({"unet.something.weight": torch.zeros(2, 2)}, "unknown LoRA keys"),
])
def test_unknown_keys_fail_clearly(tmp_path, extra, msg):
    pipe = tiny_pipeline()
    write_official_lora(tmp_path / "bad.safetensors", pipe.transformer, extra_keys=extra)
    with pytest.raises(InputError, match=msg):
        pipe.load_genfocus_lora(tmp_path / "bad.safetensors", "bokeh")
    assert not lora_layers([pipe.transformer])  # nothing was loaded


def test_wrong_shapes_and_missing_files(tmp_path):
    pipe = tiny_pipeline()
    other = tiny_pipeline()
    from diffusers import FluxTransformer2DModel

    big = FluxTransformer2DModel(patch_size=1, in_channels=16, num_layers=1, num_single_layers=1, attention_head_dim=16,
                                 num_attention_heads=4, joint_attention_dim=32, pooled_projection_dim=24,
                                 guidance_embeds=True, axes_dims_rope=(4, 6, 6))
    write_official_lora(tmp_path / "big.safetensors", big)
    with pytest.raises(InputError, match="do not fit"):
        pipe.load_genfocus_lora(tmp_path / "big.safetensors", "bokeh")
    with pytest.raises(MissingWeightsError, match="nycu-cplab/Genfocus-Model") as e:
        other.load_genfocus_lora(tmp_path / "bokehNet.safetensors", "bokeh")
    assert "bokehNet.safetensors" in str(e.value)
    (tmp_path / "junk.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(InputError, match="safetensors"):
        pipe.load_genfocus_lora(tmp_path / "junk.safetensors", "bokeh")


def test_from_pretrained_round_trip_with_loras(tmp_path):
    pipe = tiny_pipeline()
    pipe.save_pretrained(tmp_path / "flux")
    pipe.save_prompt_cache(tmp_path / "prompts.safetensors")
    write_official_lora(tmp_path / "bokehNet.safetensors", pipe.transformer, seed=3)
    loaded = GenRefocusPipeline.from_pretrained(tmp_path / "flux", bokeh_lora=tmp_path / "bokehNet.safetensors",
                                                prompt_cache=tmp_path / "prompts.safetensors")
    assert "bokeh" in loaded.lora_info and loaded.lora_info["bokeh"]["rank"] == 4
    assert loaded.text_encoder is None and len(loaded.prompt_embeddings) == 2
    w0 = pipe.transformer.transformer_blocks[0].attn.to_q.weight
    w1 = loaded.transformer.transformer_blocks[0].attn.to_q.base_layer.weight
    torch.testing.assert_close(w0, w1)
    with pytest.raises(MissingWeightsError, match="FLUX.1-dev"):
        GenRefocusPipeline.from_pretrained(tmp_path / "nowhere")
