"""A :class:`~genrefocus.pipelines.generative.GenRefocusPipeline` with random weights, for benchmarks and
smoke tests that must run without any download (FLUX.1-dev-sized or tiny)."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Optional, Union

from ..models.flux_configs import TINY, TINY_VAE, random_lora_state, random_prompt_embeddings, random_transformer, random_vae
from ..models.tasks import flux_scheduler


def random_pipeline(transformer_config: dict = TINY, vae_config: dict = TINY_VAE, seed: int = 0,
                    loras: Optional[Mapping[str, dict]] = None, lora_dir: Optional[Union[str, Path]] = None,
                    with_prompts: bool = True):
    """A pipeline with seeded random weights and, for each ``{kind: {rank, seed, scale, zero_b,
    metadata}}`` in ``loras``, a random LoRA written in the official format to ``lora_dir`` and loaded
    through the normal validation path."""
    from safetensors.torch import save_file

    from .generative import GenRefocusPipeline

    pipe = GenRefocusPipeline(scheduler=flux_scheduler(), vae=random_vae(vae_config, seed), text_encoder=None,
                              tokenizer=None, text_encoder_2=None, tokenizer_2=None,
                              transformer=random_transformer(transformer_config, seed))
    pipe.set_progress_bar_config(disable=True)
    if with_prompts:
        for prompt, (e, pooled) in random_prompt_embeddings(transformer_config).items():
            pipe.cache_prompt(prompt, e, pooled)
    if loras:
        if lora_dir is None:
            raise ValueError("lora_dir is needed to write the random LoRA files")
        folder = Path(lora_dir)
        folder.mkdir(parents=True, exist_ok=True)
        for kind, spec in loras.items():
            spec = dict(spec)
            meta = spec.pop("metadata", None)
            path = folder / f"{kind}.safetensors"
            save_file(random_lora_state(pipe.transformer, **spec), str(path), metadata=meta)
            pipe.load_genfocus_lora(path, kind)
    return pipe


__all__ = ["random_pipeline"]
