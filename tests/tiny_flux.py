"""Tiny randomly initialized FLUX components for CPU tests (no download)."""

import torch
from diffusers import AutoencoderKL, FluxTransformer2DModel

from genrefocus.pipelines.generative import BOKEH_PROMPT, DEBLUR_PROMPT, GenRefocusPipeline, flux_scheduler

TEXT_DIM, POOLED_DIM, TEXT_LEN = 32, 24, 8


def tiny_transformer(seed=0, layers=1, heads=2):
    torch.manual_seed(seed)
    return FluxTransformer2DModel(patch_size=1, in_channels=16, num_layers=layers, num_single_layers=layers,
                                  attention_head_dim=16, num_attention_heads=heads, joint_attention_dim=TEXT_DIM,
                                  pooled_projection_dim=POOLED_DIM, guidance_embeds=True, axes_dims_rope=(4, 6, 6))


def tiny_vae(seed=0):
    torch.manual_seed(seed)
    return AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(8, 8, 8, 8),
                         down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4,
                         layers_per_block=1, norm_num_groups=4, shift_factor=0.1159, scaling_factor=0.3611,
                         use_quant_conv=False, use_post_quant_conv=False)


def tiny_scheduler():
    return flux_scheduler()


def tiny_pipeline(seed=0, with_prompts=True, **transformer_kw):
    pipe = GenRefocusPipeline(scheduler=tiny_scheduler(), vae=tiny_vae(seed), text_encoder=None, tokenizer=None,
                              text_encoder_2=None, tokenizer_2=None, transformer=tiny_transformer(seed, **transformer_kw))
    pipe.set_progress_bar_config(disable=True)
    if with_prompts:
        g = torch.Generator().manual_seed(123)
        for p in (DEBLUR_PROMPT, BOKEH_PROMPT):
            pipe.cache_prompt(p, torch.randn(1, TEXT_LEN, TEXT_DIM, generator=g), torch.randn(1, POOLED_DIM, generator=g))
    return pipe


def write_official_lora(path, transformer, rank=4, seed=0, extra_keys=None, scale=0.5, metadata=None):
    """A LoRA file in the official key format over the routed modules."""
    from safetensors.torch import save_file

    from genrefocus.models.lora import routed_module_names

    g = torch.Generator().manual_seed(seed)
    mods = dict(transformer.named_modules())
    sd = {}
    for name in routed_module_names(transformer):
        lin = mods[name]
        sd[f"transformer.{name}.lora_A.weight"] = torch.randn(rank, lin.in_features, generator=g) * scale
        sd[f"transformer.{name}.lora_B.weight"] = torch.randn(lin.out_features, rank, generator=g) * scale
    sd.update(extra_keys or {})
    save_file(sd, str(path), metadata=metadata)
    return sd
