"""FLOP model of one multi-branch FLUX forward (matmuls only, 2 FLOPs per multiply-add).

Counted as ``torch.utils.flop_counter.FlopCounterMode`` counts them, so the two agree exactly on the
per-branch attention loop (tests/test_flops.py): every linear layer once (embedders, the AdaLN
modulations per sample, q/k/v/out and MLPs per token — 24·D² per token per block, double and single
blocks alike — the final projection), the LoRA factors of the condition branches, and attention
``4·D·nᵢ·nⱼ`` for each pair of branches the group mask lets see each other. Norms, activations and
RoPE are not matmuls and are not counted. With ``attention="dense"`` every pair is counted: a fused
masked attention call computes the masked scores too.
"""

from __future__ import annotations

from typing import Optional, Sequence

import torch


def multibranch_flops(config, branch_tokens: Sequence[int], gmask: torch.Tensor,
                      lora_ranks: Optional[Sequence[Optional[int]]] = None, batch: int = 1,
                      attention: str = "visible") -> float:
    """Matmul FLOPs of :func:`~genrefocus.models.branches.multibranch_forward`.

    Args:
        config: the transformer's config (``num_attention_heads``, ``attention_head_dim``,
            ``num_layers``, ``num_single_layers``, ``in_channels``, ``joint_attention_dim``,
            ``pooled_projection_dim``, ``guidance_embeds``, ``out_channels``).
        branch_tokens: tokens per branch ``[text, latent, cond…]``.
        gmask: ``(n, n)`` group mask (:func:`~genrefocus.models.branches.group_mask`): row = query branch.
        lora_ranks: LoRA rank routed for each branch (None: base weights), e.g. ``[None, None, 64, 64]``.
        batch: samples (tiles) per call.
        attention: ``"visible"`` (the per-branch loop: visible pairs only) or ``"dense"`` (one fused
            masked call over all tokens).
    """
    cfg = config
    D = cfg.num_attention_heads * cfg.attention_head_dim
    n = [int(t) for t in branch_tokens]
    nb = len(n)
    ranks = list(lora_ranks) if lora_ranks is not None else [None] * nb
    if len(ranks) != nb or tuple(gmask.shape) != (nb, nb):
        raise ValueError(f"{nb} branches need {nb} LoRA ranks and an ({nb}, {nb}) group mask")
    c_in, c_out = cfg.in_channels, (cfg.out_channels or cfg.in_channels)
    P, Dt = cfg.pooled_projection_dim, cfg.joint_attention_dim
    L2, L1 = cfg.num_layers, cfg.num_single_layers
    img = range(1, nb)

    def lin(tokens, fan_in, fan_out):
        return 2.0 * tokens * fan_in * fan_out

    def lora(tokens, fan_in, fan_out, r):
        return 0.0 if r is None else 2.0 * tokens * r * (fan_in + fan_out)

    f = 0.0
    # embedders: latent/conditions through x_embedder, text through context_embedder
    f += sum(lin(n[i], c_in, D) + lora(n[i], c_in, D, ranks[i]) for i in img) + lin(n[0], Dt, D)
    # one timestep (+ guidance) + pooled-text embedding per branch, per sample
    temb = lin(1, 256, D) + lin(1, D, D) + lin(1, P, D) + lin(1, D, D)
    if cfg.guidance_embeds:
        temb += lin(1, 256, D) + lin(1, D, D)
    f += nb * temb
    # double blocks: AdaLN (6D) per branch and sample; q, k, v, out and the 4× MLP per token
    per_double = nb * lin(1, D, 6 * D) + sum(lin(t, D, D) * 4 + lin(t, D, 4 * D) + lin(t, 4 * D, D) for t in n)
    per_double += sum(lora(1, D, 6 * D, ranks[i]) + 4 * lora(n[i], D, D, ranks[i]) + lora(n[i], 4 * D, D, ranks[i])
                      for i in img)
    # single blocks: AdaLN (3D) per branch and sample; proj_mlp (4D), q, k, v, proj_out (5D → D) per token
    per_single = nb * lin(1, D, 3 * D) + sum(lin(t, D, 4 * D) + 3 * lin(t, D, D) + lin(t, 5 * D, D) for t in n)
    per_single += sum(lora(1, D, 3 * D, ranks[i]) + lora(n[i], D, 4 * D, ranks[i]) + 3 * lora(n[i], D, D, ranks[i])
                      + lora(n[i], 5 * D, D, ranks[i]) for i in img)
    # attention: QKᵀ and AV over the visible (or all) key branches
    if attention not in ("visible", "dense"):
        raise ValueError(f"attention must be 'visible' or 'dense', got {attention!r}")
    keys = [sum(n[j] for j in range(nb) if attention == "dense" or bool(gmask[i, j])) for i in range(nb)]
    per_attn = sum(4.0 * D * n[i] * keys[i] for i in range(nb))
    f += L2 * (per_double + per_attn) + L1 * (per_single + per_attn)
    # output: AdaLN-continuous (2D) per sample, then proj_out on the latent tokens
    f += lin(1, D, 2 * D) + lin(n[1], D, c_out)
    return batch * f


def sampling_flops(config, tile_tokens: int, n_tiles: int, n_conditions: int, steps: int,
                   lora_rank: Optional[int] = None, independent: bool = False, kv_cache: bool = False,
                   text_tokens: int = 512, attention: str = "visible") -> float:
    """Matmul FLOPs of sampling one image: ``steps`` forwards per tile over ``n_tiles`` tiles of
    ``tile_tokens`` latent tokens, each condition with as many tokens, conditions routed to a LoRA
    of ``lora_rank``. With independent conditions and the KV cache, only the first step runs the
    condition branches; later steps run text + latent against the cached condition keys/values."""
    from .branches import group_mask

    n = [text_tokens, tile_tokens] + [tile_tokens] * n_conditions
    ranks = [None, None] + [lora_rank] * n_conditions
    gm = group_mask(n_conditions, independent=independent)
    full = multibranch_flops(config, n, gm, ranks, attention=attention)
    if not (independent and kv_cache):
        return float(n_tiles * steps * full)
    D = config.num_attention_heads * config.attention_head_dim
    layers = config.num_layers + config.num_single_layers
    base = multibranch_flops(config, n[:2], gm[:2, :2], ranks[:2], attention=attention)
    cached_keys = 4.0 * D * (text_tokens + tile_tokens) * tile_tokens * n_conditions * layers
    return float(n_tiles * (full + (steps - 1) * (base + cached_keys)))


__all__ = ["multibranch_flops", "sampling_flops"]
