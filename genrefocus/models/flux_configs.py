"""FLUX.1-dev-shaped model configurations and random-weight builders for benchmarks and smoke tests.

``FLUX_DEV`` / ``FLUX_VAE`` are FLUX.1-dev's shapes (12 B transformer, 16-channel VAE); ``TINY`` /
``TINY_VAE`` keep every structural feature (double and single blocks, guidance embedding, 3-axis
RoPE, 4-level VAE with FLUX's shift/scale) at a size that runs on a CPU in milliseconds. Random
weights only: nothing here downloads anything.
"""

from __future__ import annotations

from typing import Optional

import torch

FLUX_DEV = dict(patch_size=1, in_channels=64, num_layers=19, num_single_layers=38, attention_head_dim=128,
                num_attention_heads=24, joint_attention_dim=4096, pooled_projection_dim=768, guidance_embeds=True,
                axes_dims_rope=(16, 56, 56))
TINY = dict(patch_size=1, in_channels=16, num_layers=1, num_single_layers=1, attention_head_dim=16,
            num_attention_heads=2, joint_attention_dim=32, pooled_projection_dim=24, guidance_embeds=True,
            axes_dims_rope=(4, 6, 6))
FLUX_VAE = dict(in_channels=3, out_channels=3, latent_channels=16, block_out_channels=(128, 256, 512, 512),
                down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4,
                layers_per_block=2, shift_factor=0.1159, scaling_factor=0.3611, use_quant_conv=False,
                use_post_quant_conv=False)
TINY_VAE = dict(FLUX_VAE, latent_channels=4, block_out_channels=(8, 8, 8, 8), layers_per_block=1, norm_num_groups=4)
#: T5 sequence length of FLUX.1-dev's prompt embeddings
TEXT_TOKENS = 512


def random_transformer(config: dict = TINY, seed: int = 0, **overrides):
    """A ``FluxTransformer2DModel`` with seeded random weights."""
    from diffusers import FluxTransformer2DModel

    torch.manual_seed(seed)
    return FluxTransformer2DModel(**{**config, **overrides})


def random_vae(config: dict = TINY_VAE, seed: int = 0):
    """An ``AutoencoderKL`` with seeded random weights."""
    from diffusers import AutoencoderKL

    torch.manual_seed(seed)
    return AutoencoderKL(**config)


def random_lora_state(transformer, rank: int = 4, seed: int = 0, scale: float = 0.5, zero_b: bool = False) -> dict:
    """A LoRA state dict in the official key format (``transformer.<module>.lora_A/B.weight``) over
    the modules official Genfocus LoRAs wrap; ``zero_b`` gives a LoRA that does nothing yet."""
    from .lora import routed_module_names

    g = torch.Generator().manual_seed(seed)
    mods = dict(transformer.named_modules())
    sd = {}
    for name in routed_module_names(transformer):
        lin = mods[name]
        sd[f"transformer.{name}.lora_A.weight"] = torch.randn(rank, lin.in_features, generator=g) * scale
        sd[f"transformer.{name}.lora_B.weight"] = (torch.zeros(lin.out_features, rank) if zero_b else
                                                   torch.randn(lin.out_features, rank, generator=g) * scale)
    return sd


def random_prompt_embeddings(config: dict = TINY, seed: int = 123, tokens: Optional[int] = None) -> dict:
    """``{prompt: (embeds (1, L, D), pooled (1, P))}`` random embeddings of the task prompts with
    the transformer's dimensions (stands in for T5/CLIP)."""
    from .tasks import BOKEH_PROMPT, DEBLUR_PROMPT

    g = torch.Generator().manual_seed(seed)
    n = tokens or (TEXT_TOKENS if config["joint_attention_dim"] >= 1024 else 8)
    return {p: (torch.randn(1, n, config["joint_attention_dim"], generator=g),
                torch.randn(1, config["pooled_projection_dim"], generator=g)) for p in (DEBLUR_PROMPT, BOKEH_PROMPT)}


__all__ = ["FLUX_DEV", "FLUX_VAE", "TINY", "TINY_VAE", "random_lora_state", "random_prompt_embeddings",
           "random_transformer", "random_vae"]
