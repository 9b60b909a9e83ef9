"""Tiny randomly initialized FLUX components for CPU tests (no download), from the library's builders."""

from genrefocus.models.flux_configs import TINY, TINY_VAE, random_lora_state, random_transformer, random_vae
from genrefocus.models.tasks import flux_scheduler
from genrefocus.pipelines.random_weights import random_pipeline

TEXT_DIM, POOLED_DIM, TEXT_LEN = TINY["joint_attention_dim"], TINY["pooled_projection_dim"], 8


def tiny_transformer(seed=0, layers=1, heads=2):
    return random_transformer(TINY, seed, num_layers=layers, num_single_layers=layers, num_attention_heads=heads)


def tiny_vae(seed=0):
    return random_vae(TINY_VAE, seed)


def tiny_scheduler():
    return flux_scheduler()


def tiny_pipeline(seed=0, with_prompts=True, **transformer_kw):
    pipe = random_pipeline(seed=seed, with_prompts=with_prompts)
    if transformer_kw:
        pipe.register_modules(transformer=tiny_transformer(seed, **transformer_kw))
    return pipe


def write_official_lora(path, transformer, rank=4, seed=0, extra_keys=None, scale=0.5, metadata=None):
    """A LoRA file in the official key format over the routed modules."""
    from safetensors.torch import save_file

    sd = random_lora_state(transformer, rank=rank, seed=seed, scale=scale)
    sd.update(extra_keys or {})
    save_file(sd, str(path), metadata=metadata)
    return sd
