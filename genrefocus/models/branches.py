"""Multi-branch FLUX forward: text, noisy latent and N condition branches (docs/design.md §4.1).

Runs diffusers' :class:`~diffusers.FluxTransformer2DModel` modules as they are, with the
OminiControl / Genfocus conventions:

* branches in the order ``[text, latent, cond_0, cond_1, …]``, each with its own timestep,
  guidance and AdaLN modulation (conditions at ``t = 0``, guidance 1);
* one joint attention over all tokens with a *group mask*: text and latent attend to everything,
  each condition to text, latent and itself (``independent=True`` also cuts conditions off from
  text and latent, the KV-cacheable variant);
* per-branch LoRA routing: while a branch runs through a LoRA-wrapped module, that branch's
  adapter has scaling exactly 1 and every other adapter 0; text and latent branches use no adapter.
  The final ``proj_out(norm_out(latent))`` has no LoRA.

With no condition branch the result equals the plain transformer forward.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable, Iterable, Optional, Sequence

import torch


@dataclass
class Branch:
    """One token stream: ``tokens`` ``(B, N, C)`` (packed latents, or T5 embeddings for the text
    branch), ``ids`` ``(N, 3)`` RoPE positions, ``timestep`` ``(B,)`` in [0, 1], ``guidance``
    ``(B,)`` or None, and the LoRA ``adapter`` routed for it (None = base weights)."""

    tokens: torch.Tensor
    ids: torch.Tensor
    timestep: torch.Tensor
    guidance: Optional[torch.Tensor] = None
    adapter: Optional[str] = None


def lora_layers(modules: Iterable[torch.nn.Module]) -> list:
    """All peft LoRA layers inside ``modules`` (the modules themselves included)."""
    from peft.tuners.lora import LoraLayer

    out = []
    for m in modules:
        out.extend(x for x in m.modules() if isinstance(x, LoraLayer))
    return out


@contextlib.contextmanager
def route_lora(modules: Sequence[torch.nn.Module], adapter: Optional[str]):
    """Inside the block, every LoRA layer in ``modules`` runs adapter ``adapter`` alone, with
    scaling exactly 1 (``adapter=None``: base weights only). Restores the layers on exit.

    The other adapters are not computed at all (peft would otherwise evaluate every active adapter
    and multiply the unwanted ones by 0: +15–17 % per step with two adapters loaded). The result is
    identical: adding ``0 · LoRA(x)`` is adding zero.
    """
    layers = lora_layers(modules)
    saved = [(layer._active_adapter, dict(layer.scaling)) for layer in layers]
    for layer in layers:
        present = adapter is not None and adapter in layer.lora_A
        layer._active_adapter = [adapter] if present else []
        if present:
            layer.scaling[adapter] = 1.0
    try:
        yield
    finally:
        for layer, (active, scaling) in zip(layers, saved):
            layer._active_adapter = active
            layer.scaling.clear()
            layer.scaling.update(scaling)


def group_mask(n_conditions: int, independent: bool = False) -> torch.Tensor:
    """``(n+2, n+2)`` bool mask over ``[text, latent, cond…]``: row = query branch, column = key
    branch. Conditions see text, latent and themselves; ``independent`` → only themselves."""
    n = n_conditions + 2
    m = torch.ones(n, n, dtype=torch.bool)
    m[2:, 2:] = torch.eye(n_conditions, dtype=torch.bool)
    if independent:
        m[2:, :2] = False
    return m


def token_mask(lengths: Sequence[int], gmask: torch.Tensor, device) -> Optional[torch.Tensor]:
    """Expand a branch-level mask to ``(L, L)`` over tokens (None when everything is visible)."""
    if bool(gmask.all()):
        return None
    owner = torch.repeat_interleave(torch.arange(len(lengths)), torch.tensor(list(lengths)))
    return gmask[owner][:, owner].to(device)


def _temb(transformer, branch: Branch, pooled: torch.Tensor, dtype) -> torch.Tensor:
    t = branch.timestep.to(dtype) * 1000
    if transformer.config.guidance_embeds:
        g = branch.guidance if branch.guidance is not None else torch.ones_like(branch.timestep)
        return transformer.time_text_embed(t, g.to(dtype) * 1000, pooled)
    return transformer.time_text_embed(t, pooled)


def _heads(x: torch.Tensor, head_dim: int) -> torch.Tensor:
    return x.unflatten(-1, (-1, head_dim))  # (B, N, H, D)


class ConditionKVCache:
    """Keys/values (after RoPE) of the condition branches in every attention layer.

    Valid only with independent conditions (conditions attend to themselves alone, at t = 0): then
    they do not depend on the step, so one "write" pass per image (or tile batch) fills the cache
    and later steps run only the text and latent branches against the cached keys/values
    (docs/design.md §4.2). Stored compact (copies, not views of the full key/value tensors):
    ``2 · layers · B · N_cond · heads · head_dim`` values, see :func:`kv_cache_bytes`.
    """

    def __init__(self):
        self.kv: dict = {}
        self.ready = False

    def clear(self) -> None:
        self.kv.clear()
        self.ready = False

    def nbytes(self) -> int:
        """Bytes held by the cached tensors."""
        return sum(t.numel() * t.element_size() for kv in self.kv.values() for t in kv)


def kv_cache_bytes(config, condition_tokens: int, batch: int = 1, dtype_bytes: int = 2) -> int:
    """Bytes a :class:`ConditionKVCache` holds for ``batch`` images (tiles) with ``condition_tokens``
    tokens over all conditions: keys and values, every layer (FLUX.1-dev, 2 conditions, one 32×32-token
    tile, bf16: 2 · 57 · 2048 · 3072 · 2 B = 1.43 GB)."""
    inner = config.num_attention_heads * config.attention_head_dim
    layers = config.num_layers + config.num_single_layers
    return 2 * layers * batch * condition_tokens * inner * dtype_bytes


def _sdpa(attn, q, k, v, mask=None):
    from diffusers.models.attention_dispatch import dispatch_attention_fn

    return dispatch_attention_fn(q, k, v, attn_mask=mask, backend=getattr(attn.processor, "_attention_backend", None))


def _attention(attn, queries, keys, values, rope, gmask, ctx):
    """Joint attention over the branches; returns per-branch outputs ``(B, N_i, H·D)``.

    ``ctx.attention == "fused"``: one call over all tokens with a token-level block mask;
    ``"loop"``: the official per-query-branch loop (one call per branch over the keys it may see).
    With a KV cache in write mode the condition keys/values are stored; in read mode they are
    appended to the keys every text/latent query sees.
    """
    from diffusers.models.embeddings import apply_rotary_emb

    lengths = [q.shape[1] for q in queries]
    q, k, v = torch.cat(queries, 1), torch.cat(keys, 1), torch.cat(values, 1)
    q = apply_rotary_emb(q, rope, sequence_dim=1)
    k = apply_rotary_emb(k, rope, sequence_dim=1)
    cache = ctx.cache
    if cache is not None and not cache.ready:  # write: keep the condition K/V (branches 2..)
        n_base = sum(lengths[:2])
        cache.kv[ctx.layer] = (k[:, n_base:].clone(), v[:, n_base:].clone())
    if cache is not None and cache.ready:  # read: text + latent queries also see the cached K/V
        ck, cv = cache.kv[ctx.layer]
        k, v = torch.cat([k, ck.to(k.dtype)], 1), torch.cat([v, cv.to(v.dtype)], 1)
        gmask = None
    if ctx.attention == "loop":
        k_lengths = lengths + ([k.shape[1] - sum(lengths)] if k.shape[1] > sum(lengths) else [])
        qs, ks, vs = q.split(lengths, 1), k.split(k_lengths, 1), v.split(k_lengths, 1)
        outs = []
        for i, qi in enumerate(qs):
            sel = [j for j in range(len(ks)) if gmask is None or bool(gmask[i, j])]
            o = _sdpa(attn, qi, torch.cat([ks[j] for j in sel], 1), torch.cat([vs[j] for j in sel], 1))
            outs.append(o.flatten(2, 3).to(qi.dtype))
        return outs
    mask = token_mask(lengths, gmask, q.device) if gmask is not None else None
    out = _sdpa(attn, q, k, v, mask).flatten(2, 3).to(q.dtype)
    return list(out.split(lengths, dim=1))


@dataclass
class _Ctx:
    attention: str = "fused"
    cache: Optional[ConditionKVCache] = None
    layer: int = 0


def _clip(x: torch.Tensor) -> torch.Tensor:
    return x.clip(-65504, 65504) if x.dtype == torch.float16 else x


def _double_block(block, text_h, img_hs, tembs, adapters, rope, gmask, ctx):
    attn = block.attn
    t_mod = block.norm1_context(text_h, emb=tembs[0])
    mods = []
    for h, temb, a in zip(img_hs, tembs[1:], adapters):
        with route_lora([block.norm1], a):
            mods.append(block.norm1(h, emb=temb))
    # projections: text through the added projections, image branches through routed to_q/k/v
    q = [attn.norm_added_q(_heads(attn.add_q_proj(t_mod[0]), attn.head_dim))]
    k = [attn.norm_added_k(_heads(attn.add_k_proj(t_mod[0]), attn.head_dim))]
    v = [_heads(attn.add_v_proj(t_mod[0]), attn.head_dim)]
    for m, a in zip(mods, adapters):
        with route_lora([attn.to_q, attn.to_k, attn.to_v], a):
            q.append(attn.norm_q(_heads(attn.to_q(m[0]), attn.head_dim)))
            k.append(attn.norm_k(_heads(attn.to_k(m[0]), attn.head_dim)))
            v.append(_heads(attn.to_v(m[0]), attn.head_dim))
    outs = _attention(attn, q, k, v, rope, gmask, ctx)
    # text stream
    _, gate_msa, shift_mlp, scale_mlp, gate_mlp = t_mod
    th = text_h + gate_msa.unsqueeze(1) * attn.to_add_out(outs[0])
    norm_t = block.norm2_context(th) * (1 + scale_mlp[:, None]) + shift_mlp[:, None]
    th = _clip(th + gate_mlp.unsqueeze(1) * block.ff_context(norm_t))
    # image streams
    new_imgs = []
    for h, m, o, a in zip(img_hs, mods, outs[1:], adapters):
        _, gate_msa, shift_mlp, scale_mlp, gate_mlp = m
        with route_lora([attn.to_out], a):
            o = attn.to_out[1](attn.to_out[0](o))
        h = h + gate_msa.unsqueeze(1) * o
        norm_h = block.norm2(h) * (1 + scale_mlp[:, None]) + shift_mlp[:, None]
        with route_lora([block.ff], a):
            h = h + gate_mlp.unsqueeze(1) * block.ff(norm_h)
        new_imgs.append(_clip(h))
    return th, new_imgs


def _single_block(block, hs, tembs, adapters, rope, gmask, ctx):
    attn = block.attn
    normed, gates, mlps, q, k, v = [], [], [], [], [], []
    for h, temb, a in zip(hs, tembs, adapters):
        with route_lora([block.norm, block.proj_mlp, attn.to_q, attn.to_k, attn.to_v], a):
            n, gate = block.norm(h, emb=temb)
            mlps.append(block.act_mlp(block.proj_mlp(n)))
            q.append(attn.norm_q(_heads(attn.to_q(n), attn.head_dim)))
            k.append(attn.norm_k(_heads(attn.to_k(n), attn.head_dim)))
            v.append(_heads(attn.to_v(n), attn.head_dim))
        normed.append(n)
        gates.append(gate)
    outs = _attention(attn, q, k, v, rope, gmask, ctx)
    new = []
    for h, o, mlp, gate, a in zip(hs, outs, mlps, gates, adapters):
        with route_lora([block.proj_out], a):
            new.append(_clip(h + gate.unsqueeze(1) * block.proj_out(torch.cat([o, mlp], dim=2))))
    return new


@dataclass(frozen=True)
class BlockFunctions:
    """The per-block functions the forward runs: eager (:data:`EAGER_BLOCKS`) or compiled
    (:func:`genrefocus.models.acceleration.compile_blocks`). Passed explicitly, never patched in."""

    double: Callable = _double_block
    single: Callable = _single_block


EAGER_BLOCKS = BlockFunctions()


def multibranch_forward(transformer, text: Branch, images: Sequence[Branch], pooled: torch.Tensor,
                        gmask: Optional[torch.Tensor] = None, attention: str = "fused",
                        cache: Optional[ConditionKVCache] = None,
                        blocks: BlockFunctions = EAGER_BLOCKS) -> torch.Tensor:
    """Velocity prediction for the latent branch ``images[0]``.

    Args:
        transformer: a diffusers ``FluxTransformer2DModel`` (LoRA adapters optional).
        text: the text branch (T5 embeddings; its timestep/guidance are the latent's).
        images: ``[latent, cond_0, …]`` branches (only ``[latent]`` when reading a ready cache).
        pooled: ``(B, P)`` pooled CLIP embedding, shared by all branches.
        gmask: ``(n+2, n+2)`` group mask (default :func:`group_mask`).
        attention: ``"fused"`` (one masked attention call per layer) or ``"loop"`` (the official
            per-branch loop, the compatibility baseline).
        cache: a :class:`ConditionKVCache` (independent conditions only): filled on the first call,
            read afterwards.
        blocks: the block functions (eager or compiled).
    Returns:
        ``(B, N_latent, C_out)``.
    """
    if attention not in ("fused", "loop"):
        raise ValueError(f"attention must be 'fused' or 'loop', got {attention!r}")
    tr = transformer
    if cache is not None and cache.ready:
        images = list(images[:1])
        gmask = torch.ones(2, 2, dtype=torch.bool)
    if gmask is None:
        gmask = group_mask(len(images) - 1)
    if cache is not None and not cache.ready and bool(gmask[2:, :2].any()):
        raise ValueError("the condition KV cache needs independent conditions (group_mask(n, independent=True))")
    adapters = [b.adapter for b in images]
    dtype = images[0].tokens.dtype
    img_hs = []
    for b in images:
        with route_lora([tr.x_embedder], b.adapter):
            img_hs.append(tr.x_embedder(b.tokens))
    text_h = tr.context_embedder(text.tokens)
    tembs = [_temb(tr, b, pooled, dtype) for b in [text, *images]]
    rope = tr.pos_embed(torch.cat([text.ids, *[b.ids for b in images]], dim=0))
    ckpt = getattr(tr, "gradient_checkpointing", False) and torch.is_grad_enabled() and cache is None

    def call(fn, *args):
        if ckpt:  # recompute the block in backward (LoRA routing is re-entered inside fn)
            from torch.utils.checkpoint import checkpoint

            return checkpoint(fn, *args, use_reentrant=False)
        return fn(*args)

    for i, block in enumerate(tr.transformer_blocks):
        ctx = _Ctx(attention=attention, cache=cache, layer=i)
        text_h, img_hs = call(blocks.double, block, text_h, img_hs, tembs, adapters, rope, gmask, ctx)
    hs = [text_h, *img_hs]
    for i, block in enumerate(tr.single_transformer_blocks):
        ctx = _Ctx(attention=attention, cache=cache, layer=len(tr.transformer_blocks) + i)
        hs = call(blocks.single, block, hs, tembs, [None, *adapters], rope, gmask, ctx)
    if cache is not None:
        cache.ready = True
    latent = tr.norm_out(hs[1], tembs[1])
    return tr.proj_out(latent)
