"""GenRefocusPipeline: DeblurNet and BokehNet on FLUX.1-dev with condition branches (DESIGN §4.1).

``deblur`` recovers an all-in-focus image, ``bokeh`` renders a new depth of field from an AIF
image, a depth map and a focus, ``refocus`` chains them (deblur → depth → defocus map → bokeh).
Built on diffusers' :class:`~diffusers.FluxPipeline` (``from_pretrained``, ``load_lora_weights``,
offloading, progress bars) with our multi-branch transformer forward.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import FluxPipeline
from diffusers.pipelines.flux.pipeline_flux import calculate_shift, retrieve_timesteps

from ..errors import InputError, MissingWeightsError
from ..models.branches import Branch, ConditionKVCache, group_mask, multibranch_forward
from ..models.lora import OFFICIAL_FILES, load_lora
from ..optics.apertures import parse_aperture
from ..optics.defocus import (defocus_condition, depth_to_disparity, focus_disparity, resize_map, signed_coc,
                              validate_k)
from . import distributed
from .tiling import TilePlan, grid_ids, use_tiling

DEBLUR_PROMPT = "a sharp photo with everything in focus"
BOKEH_PROMPT = "an excellent photo with a large aperture"
ADAPTER_NAMES = {"deblur": "deblurring", "pre_deblur": "deblurring_pre", "bokeh": "bokeh", "shape": "aperture"}
FLUX_ID = "black-forest-labs/FLUX.1-dev"
PRE_DEBLUR_DELTA = (0, 32)

ImageLike = Union[torch.Tensor, np.ndarray, "PIL.Image.Image", str, Path]  # noqa: F821


@dataclass
class Condition:
    """A condition branch: ``image`` ``(1, 3, H, W)`` in [0, 1], its LoRA ``adapter``, RoPE
    ``delta`` (rows, cols) in tokens, and whether the VAE input is mapped to [-1, 1]
    (``preprocess=False`` for the defocus map, as the official code feeds it)."""

    image: torch.Tensor
    adapter: str
    delta: tuple = (0, 0)
    preprocess: bool = True


@dataclass
class DeblurOutput:
    """``aif`` ``(1, 3, H, W)`` in [0, 1] at the input's original size."""

    aif: torch.Tensor


@dataclass
class BokehOutput:
    """``image`` the result ``(1, 3, H, W)`` at the original size; ``aif`` the AIF used; ``depth``
    (m) and ``coc`` (signed px) at the working size; ``defocus_map`` the BokehNet condition
    ``(1, 3, h, w)``; ``focus_disparity`` (1/m); ``K``."""

    image: torch.Tensor
    aif: torch.Tensor
    depth: Optional[torch.Tensor]
    coc: torch.Tensor
    defocus_map: torch.Tensor
    focus_disparity: float
    K: float


def to_tensor_image(image: ImageLike, name: str = "image") -> torch.Tensor:
    """PIL / NumPy (H, W, 3) uint8 or float / tensor / path → ``(1, 3, H, W)`` float in [0, 1]."""
    from PIL import Image

    if isinstance(image, (str, Path)):
        from ..io import load_image

        return load_image(image, name=name)
    if isinstance(image, Image.Image):
        image = np.asarray(image.convert("RGB"))
    if isinstance(image, np.ndarray):
        arr = image.astype(np.float32) / (255.0 if image.dtype == np.uint8 else 1.0)
        if arr.ndim == 2:
            arr = np.repeat(arr[..., None], 3, -1)
        image = torch.from_numpy(np.ascontiguousarray(arr[..., :3].transpose(2, 0, 1)))[None]
    from .physical import check_image

    return check_image(image, name)


def working_size(height: int, width: int, long_side: Optional[int] = None) -> tuple:
    """Size the models run at: optionally scale the long side to ``long_side``, then round each
    side up to a multiple of 16 (the official "align 16" preprocessing)."""
    if long_side:
        s = long_side / max(height, width)
        height, width = max(16, round(height * s)), max(16, round(width * s))
    return -(-height // 16) * 16, -(-width // 16) * 16


def resize_image(x: torch.Tensor, size, compat: bool = False) -> torch.Tensor:
    """Resize ``(1, 3, H, W)`` to ``size``: PIL Lanczos on 8-bit in compat mode (official), else
    antialiased bicubic in float."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    if compat:
        from PIL import Image

        from ..io import to_uint8

        im = Image.fromarray(to_uint8(x)).resize((size[1], size[0]), Image.LANCZOS)
        return torch.from_numpy(np.asarray(im).astype(np.float32) / 255.0).permute(2, 0, 1)[None].to(x.device)
    return F.interpolate(x, size=tuple(size), mode="bicubic", antialias=True, align_corners=False).clamp(0, 1)


class GenRefocusPipeline(FluxPipeline):
    """DeblurNet + BokehNet (FLUX.1-dev + LoRA) with condition tokens.

    Load with :meth:`from_pretrained` (FLUX.1-dev folder or hub id, plus the LoRA files). Prompt
    embeddings of the fixed prompts can be cached (:meth:`cache_prompt`, :meth:`save_prompt_cache`)
    so T5/CLIP need not be loaded. Optional perception components: ``depth_estimator`` (callable
    image → depth in metres), ``focus_segmenter``.
    """

    depth_estimator = None
    lora_info: dict = {}

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: Union[str, Path] = FLUX_ID, *,
                        deblur_lora: Optional[Union[str, Path]] = None,
                        bokeh_lora: Optional[Union[str, Path]] = None,
                        pre_deblur_lora: Optional[Union[str, Path]] = None,
                        shape_lora: Optional[Union[str, Path]] = None,
                        prompt_cache: Optional[Union[str, Path]] = None, **kwargs):
        """Load the FLUX backbone and the given LoRA files (official diffusers-format keys).

        Missing FLUX weights or LoRA files raise :class:`MissingWeightsError` saying what to download.
        """
        path = str(pretrained_model_name_or_path)
        index = Path(path) / "model_index.json"
        if index.is_file():  # components saved as None (e.g. no text encoders: prompt cache) stay None
            import json

            present = json.loads(index.read_text())
            for name in ("text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2", "image_encoder",
                         "feature_extractor"):
                if name not in present or present[name] in (None, [None, None]):
                    kwargs.setdefault(name, None)
        try:
            pipe = super().from_pretrained(path, **kwargs)
        except (OSError, EnvironmentError, ValueError) as exc:
            if Path(path).exists() and (Path(path) / "model_index.json").is_file():
                raise
            raise MissingWeightsError(
                f"FLUX backbone {path!r} could not be loaded ({type(exc).__name__}: {str(exc)[:200]}). "
                f"Download {FLUX_ID} (gated: accept its licence on Hugging Face, `huggingface-cli login`, "
                f"then `huggingface-cli download {FLUX_ID} --local-dir ./FLUX.1-dev`) and pass that folder."
            ) from None
        pipe.lora_info = {}
        for kind, p in (("deblur", deblur_lora), ("bokeh", bokeh_lora), ("pre_deblur", pre_deblur_lora),
                        ("shape", shape_lora)):
            if p is not None:
                pipe.load_genfocus_lora(p, kind)
        if prompt_cache is not None:
            pipe.load_prompt_cache(prompt_cache)
        return pipe

    def load_genfocus_lora(self, path: Union[str, Path], kind: str) -> dict:
        """Validate and load one LoRA file as the adapter for ``kind`` (deblur, bokeh, pre_deblur, shape)."""
        if kind not in ADAPTER_NAMES:
            raise InputError("LoRA kind", f"{kind!r}; use one of {', '.join(ADAPTER_NAMES)}")
        info = load_lora(self, path, ADAPTER_NAMES[kind], kind=kind)
        if not hasattr(self, "lora_info") or self.lora_info is GenRefocusPipeline.lora_info:
            self.lora_info = {}
        self.lora_info[kind] = info
        self.set_adapters(list(self.get_list_adapters().get("transformer", [])))
        return info

    def _require(self, kind: str) -> str:
        if kind not in getattr(self, "lora_info", {}):
            fname = OFFICIAL_FILES.get(kind, f"{kind} LoRA")
            raise MissingWeightsError(
                f"the {kind} LoRA is not loaded: download {fname} from Hugging Face nycu-cplab/Genfocus-Model "
                f"and pass it to from_pretrained({kind}_lora=...) or load_genfocus_lora(path, {kind!r})")
        return ADAPTER_NAMES[kind]

    # ------------------------------------------------------------------ prompts
    def cache_prompt(self, prompt: str, prompt_embeds: Optional[torch.Tensor] = None,
                     pooled_prompt_embeds: Optional[torch.Tensor] = None) -> None:
        """Store embeddings for ``prompt`` (computed with the text encoders when not given)."""
        if prompt_embeds is None:
            if self.text_encoder is None or self.text_encoder_2 is None:
                raise MissingWeightsError(f"no text encoders loaded and no cached embeddings for {prompt!r}")
            prompt_embeds, pooled_prompt_embeds, _ = self.encode_prompt(prompt, prompt_2=None,
                                                                        device=self._execution_device)
        if not hasattr(self, "_prompt_cache"):
            self._prompt_cache = {}
        self._prompt_cache[prompt] = (prompt_embeds.detach().cpu(), pooled_prompt_embeds.detach().cpu())

    def save_prompt_cache(self, path: Union[str, Path]) -> None:
        """Write the cached prompt embeddings to a safetensors file."""
        from safetensors.torch import save_file

        tensors, meta = {}, {}
        for i, (p, (e, pooled)) in enumerate(getattr(self, "_prompt_cache", {}).items()):
            tensors[f"{i}.prompt_embeds"] = e.contiguous()
            tensors[f"{i}.pooled"] = pooled.contiguous()
            meta[str(i)] = p
        save_file(tensors, str(path), metadata=meta)

    def load_prompt_cache(self, path: Union[str, Path]) -> None:
        """Read embeddings written by :meth:`save_prompt_cache`."""
        from safetensors import safe_open

        if not Path(path).is_file():
            raise MissingWeightsError(f"prompt cache {str(path)!r} not found")
        with safe_open(str(path), framework="pt") as fh:
            for i, prompt in (fh.metadata() or {}).items():
                self.cache_prompt(prompt, fh.get_tensor(f"{i}.prompt_embeds"), fh.get_tensor(f"{i}.pooled"))

    def _prompt(self, prompt: str, device, dtype):
        cache = getattr(self, "_prompt_cache", {})
        if prompt not in cache:
            self.cache_prompt(prompt)
        e, pooled = self._prompt_cache[prompt]
        e, pooled = e.to(device=device, dtype=dtype), pooled.to(device=device, dtype=dtype)
        return e, pooled, torch.zeros(e.shape[1], 3, device=device, dtype=dtype)

    # ------------------------------------------------------------------ VAE
    def encode_condition(self, cond: Condition, generator=None):
        """Condition image → packed tokens ``(1, N, 4·C)`` and ids ``(N, 3)`` (+ delta)."""
        return encode_image_tokens(self.vae, cond.image, cond.preprocess, generator, cond.delta,
                                   device=self._execution_device)

    def decode_latents(self, latents: torch.Tensor, height: int, width: int) -> torch.Tensor:
        """Packed latents → image ``(B, 3, H, W)`` in [0, 1]."""
        z = self._unpack_latents(latents, height, width, self.vae_scale_factor)
        z = z / self.vae.config.scaling_factor + self.vae.config.shift_factor
        image = self.vae.decode(z.to(self.vae.dtype), return_dict=False)[0]
        return (image.float() / 2 + 0.5).clamp(0, 1)

    # ------------------------------------------------------------------ the sampler
    @torch.no_grad()
    def generate(self, conditions: Sequence[Condition], prompt: str, height: int, width: int,
                 guidance_scale: float = 3.5, num_inference_steps: int = 28,
                 generator: Optional[torch.Generator] = None, latents: Optional[torch.Tensor] = None,
                 tiling: Union[bool, str] = "auto", compat: bool = False, attention: Optional[str] = None,
                 fast: bool = False, kv_cache: bool = True, tile_batch: int = 1,
                 callback_on_step_end: Optional[Callable] = None) -> torch.Tensor:
        """Flow-matching sampling with condition branches; returns ``(1, 3, height, width)`` in [0, 1].

        Args:
            tiling: ``"auto"`` (official rule), True or False.
            compat: official quirks (tiling ids/order/bf16 blending, per-branch attention loop).
            attention: ``"fused"`` (one masked call per layer; default) or ``"loop"`` (official).
            fast: independent conditions with a condition KV cache computed once per image (tile);
                only for LoRAs trained that way (``independent_conditions`` in their metadata).
            kv_cache: with ``fast``, False recomputes the conditions every step (same result, slower).
            tile_batch: tiles per transformer call (not in compat mode).
            callback_on_step_end: ``f(pipe, i, t, {"latents": ...})``, may return new ``latents``.
        Under ``accelerate launch`` the tiles of each step are split across processes.
        """
        if height % 16 or width % 16:
            raise InputError("size", f"{width}×{height} must be multiples of 16 (use working_size)")
        if fast:
            self._check_independent(conditions)
        attention = attention or ("loop" if compat else "fused")
        device = self._execution_device
        dtype = self.transformer.dtype
        # 1. prompt embeddings (cached for the fixed prompts)
        prompt_embeds, pooled, text_ids = self._prompt(prompt, device, dtype)
        # 2. initial noise, then 3. condition tokens (the official order of random draws)
        latents, latent_ids = self.prepare_latents(1, self.transformer.config.in_channels // 4, height, width,
                                                   dtype, device, generator, latents)
        cond_tokens = [self.encode_condition(c, generator) for c in conditions]
        # 4. schedule: sigmas linspace(1, 1/N, N), mu from the full-image token count
        sigmas = np.linspace(1.0, 1 / num_inference_steps, num_inference_steps)
        mu = calculate_shift(latents.shape[1], self.scheduler.config.get("base_image_seq_len", 256),
                             self.scheduler.config.get("max_image_seq_len", 4096),
                             self.scheduler.config.get("base_shift", 0.5), self.scheduler.config.get("max_shift", 1.15))
        timesteps, num_inference_steps = retrieve_timesteps(self.scheduler, num_inference_steps, device,
                                                            sigmas=sigmas, mu=mu)
        # 5. tiling plan, attention layout and (fast mode) the condition KV caches
        tiled = use_tiling(height, width) if tiling == "auto" else bool(tiling)
        plan = TilePlan(height // 16, width // 16, compat=compat) if tiled else None
        gmask = group_mask(len(conditions), independent=fast)
        caches = {} if fast and kv_cache else None
        guidance = torch.full([1], guidance_scale, device=device, dtype=torch.float32)
        step = _Step(prompt_embeds, pooled, text_ids, latent_ids, cond_tokens, conditions, gmask, attention,
                     caches, 1 if compat else max(1, int(tile_batch)))
        # 6. denoising loop
        with self.progress_bar(total=num_inference_steps) as bar:
            for i, t in enumerate(timesteps):
                timestep = t.expand(latents.shape[0]).to(latents.dtype) / 1000
                v = self._velocity(latents, timestep, guidance, step, plan)
                latents = self.scheduler.step(v, t, latents, return_dict=False)[0]
                if callback_on_step_end is not None:
                    upd = callback_on_step_end(self, i, t, {"latents": latents}) or {}
                    latents = upd.get("latents", latents)
                bar.update()
        # 7. decode
        image = self.decode_latents(latents, height, width)
        self.maybe_free_model_hooks()
        return image

    def _check_independent(self, conditions) -> None:
        kind_of = {v: k for k, v in ADAPTER_NAMES.items()}
        for c in conditions:
            meta = getattr(self, "lora_info", {}).get(kind_of.get(c.adapter), {}).get("metadata", {})
            if str(meta.get("independent_conditions", "")).lower() != "true":
                raise InputError("fast", f"the {c.adapter!r} LoRA was not trained with independent conditions "
                                         "(no independent_conditions=true in its metadata): the condition KV cache "
                                         "would change its results. Official Genfocus LoRAs need fast=False.")

    def _velocity(self, latents, timestep, guidance, step: "_Step", plan: Optional[TilePlan]):
        hook = getattr(self.transformer, "_hf_hook", None)
        if hook is not None:  # model CPU offload: our forward calls submodules, so move the model here
            hook.pre_forward(self.transformer)
        zero, one = torch.zeros_like(timestep), torch.ones_like(guidance)

        def run(lat, ids_lat, conds, batch, cache):
            text = Branch(step.prompt_embeds.expand(batch, -1, -1), step.text_ids, timestep.repeat(batch),
                          guidance.repeat(batch))
            branches = [Branch(lat, ids_lat, timestep.repeat(batch), guidance.repeat(batch))]
            branches += [Branch(tok, ids, zero.repeat(batch), one.repeat(batch), c.adapter)
                         for (tok, ids), c in zip(conds, step.conditions)]
            return multibranch_forward(self.transformer, text, branches, step.pooled.expand(batch, -1), step.gmask,
                                       attention=step.attention, cache=cache)

        if plan is None:
            cache = None if step.caches is None else step.caches.setdefault(0, ConditionKVCache())
            return run(latents, step.latent_ids, step.cond_tokens, 1, cache)
        tile_ids = grid_ids(32, 32, device=latents.device, dtype=step.latent_ids.dtype)
        mine = distributed.my_share(len(plan.indices))
        preds = []
        chunk = 1 if step.caches is not None else step.tile_batch  # caches are per tile
        for s0 in range(0, len(mine), chunk):
            tiles = mine[s0:s0 + chunk]
            inds = [plan.indices[k].to(latents.device) for k in tiles]
            lat = torch.cat([latents[:, ind] for ind in inds])
            conds = []
            for (tok, _), c in zip(step.cond_tokens, step.conditions):
                delta = torch.tensor([0.0, *c.delta], device=tile_ids.device, dtype=tile_ids.dtype)
                conds.append((torch.cat([tok[:, ind] for ind in inds]), tile_ids if plan.compat else tile_ids + delta))
            cache = None if step.caches is None else step.caches.setdefault(tiles[0], ConditionKVCache())
            preds.extend(run(lat, tile_ids, conds, len(tiles), cache).split(1, dim=0))
        preds = distributed.gather_in_order(preds, len(plan.indices))
        return plan.blend(preds, latents.shape[1], latents.dtype)

    # ------------------------------------------------------------------ user API
    def _prepare(self, image: ImageLike, long_side: Optional[int], compat: bool, name: str = "image"):
        x = to_tensor_image(image, name)
        orig = tuple(x.shape[-2:])
        size = working_size(*orig, long_side=long_side)
        return resize_image(x, size, compat=compat), orig

    def deblur(self, image: ImageLike, pre_deblurred: Optional[ImageLike] = None, *,
               num_inference_steps: int = 28, guidance_scale: float = 3.5,
               generator: Optional[torch.Generator] = None, long_side: Optional[int] = None,
               tiling: Union[bool, str] = "auto", compat: bool = False, **sampler_kwargs) -> DeblurOutput:
        """All-in-focus image from a (mis)focused photo.

        Conditions as the official demo: the pre-deblurred image (a black image if none) at RoPE
        delta (0, 32), then the blurry input at (0, 0); prompt "a sharp photo with everything in
        focus", guidance 3.5. With ``pre_deblurred`` given, the pre-deblur LoRA is used if loaded.
        """
        x, orig = self._prepare(image, long_side, compat)
        use_pre = pre_deblurred is not None and "pre_deblur" in getattr(self, "lora_info", {})
        adapter = self._require("pre_deblur" if use_pre else "deblur")
        if pre_deblurred is not None:
            pre = resize_image(to_tensor_image(pre_deblurred, "pre_deblurred"), x.shape[-2:], compat=compat)
        else:
            pre = torch.zeros_like(x)
        conds = [Condition(pre, adapter, PRE_DEBLUR_DELTA), Condition(x, adapter, (0, 0))]
        aif = self.generate(conds, DEBLUR_PROMPT, *x.shape[-2:], guidance_scale=guidance_scale,
                            num_inference_steps=num_inference_steps, generator=generator, tiling=tiling,
                            compat=compat, **sampler_kwargs)
        return DeblurOutput(aif=resize_image(aif, orig, compat=compat))

    def bokeh(self, aif: ImageLike, depth: Optional[torch.Tensor] = None, *, focus=None, K: float = 20.0,
              aperture=None, num_inference_steps: int = 28, guidance_scale: float = 1.0,
              generator: Optional[torch.Generator] = None, latents: Optional[torch.Tensor] = None,
              long_side: Optional[int] = None, tiling: Union[bool, str] = "auto", compat: bool = False,
              focus_disparity_value: Optional[float] = None, **sampler_kwargs) -> BokehOutput:
        """Render a new depth of field from an all-in-focus image.

        Args:
            aif: all-in-focus image. depth: metric depth (m), any size (resized bilinearly to the
                working size, as the official code); estimated with ``depth_estimator`` when None.
            focus: ``(x, y)`` point or ``(x0, y0, x1, y1)`` box in original-image pixels, or an
                in-focus mask (any size); None → image centre.
            K: bokeh level (CoC px per 1/m at the working resolution).
            aperture: optional aperture shape (needs the shape LoRA).
            focus_disparity_value: the focus disparity itself (1/m), instead of ``focus``.
        """
        K = validate_k(K)
        x, orig = self._prepare(aif, long_side, compat, name="aif")
        adapter = self._require("bokeh")
        h, w = x.shape[-2:]
        if depth is None:
            depth = self.estimate_depth(x)
        depth_t = torch.as_tensor(depth).float()
        disp = resize_map(depth_to_disparity(depth_t), (h, w))
        if focus_disparity_value is not None:
            d_f = float(focus_disparity_value)
        else:
            d_f = focus_disparity(disp, original_size=orig, **_focus_kwargs(focus))
        coc = signed_coc(disp, K, d_f)
        cond_map = defocus_condition(coc)
        conds = [Condition(x, adapter, (0, 0)), Condition(cond_map, adapter, (0, 0), preprocess=False)]
        if aperture is not None:
            conds.append(Condition(aperture_condition(aperture, (h, w)), self._require("shape"), (0, 0)))
        if K == 0:
            image = x
        else:
            image = self.generate(conds, BOKEH_PROMPT, h, w, guidance_scale=guidance_scale,
                                  num_inference_steps=num_inference_steps, generator=generator, latents=latents,
                                  tiling=tiling, compat=compat, **sampler_kwargs)
        return BokehOutput(image=resize_image(image, orig, compat=compat), aif=x, depth=depth_t, coc=coc,
                           defocus_map=cond_map, focus_disparity=d_f, K=K)

    def refocus(self, image: ImageLike, *, focus=None, K: float = 20.0, depth: Optional[torch.Tensor] = None,
                pre_deblurred: Optional[ImageLike] = None, aperture=None, num_inference_steps: int = 28,
                focus_disparity_value: Optional[float] = None,
                generator: Optional[torch.Generator] = None, long_side: Optional[int] = None,
                tiling: Union[bool, str] = "auto", compat: bool = False, **sampler_kwargs) -> BokehOutput:
        """Deblur → depth (on the AIF) → defocus map → bokeh. K = 0 returns the AIF image.
        ``sampler_kwargs`` (``attention``, ``fast``, ``tile_batch``, …) go to both stages."""
        src = to_tensor_image(image)
        aif = self.deblur(src, pre_deblurred, num_inference_steps=num_inference_steps, generator=generator,
                          long_side=long_side, tiling=tiling, compat=compat, **sampler_kwargs).aif
        if compat:  # the official demo hands the AIF over as an 8-bit PIL image
            aif = torch.round(aif * 255) / 255
        return self.bokeh(aif, depth, focus=focus, K=K, aperture=aperture, num_inference_steps=num_inference_steps,
                          focus_disparity_value=focus_disparity_value,
                          generator=generator, long_side=long_side, tiling=tiling, compat=compat, **sampler_kwargs)

    def estimate_depth(self, image: torch.Tensor) -> torch.Tensor:
        """Metric depth (m) ``(1, 1, H, W)`` from ``self.depth_estimator``."""
        if self.depth_estimator is None:
            raise MissingWeightsError(
                "no depth given and no depth estimator loaded: pass depth=... (metres) or attach one with "
                "pipe.depth_estimator = genrefocus.perception.DepthPro.from_pretrained('apple/DepthPro-hf')")
        return self.depth_estimator(image)


@dataclass
class _Step:
    """What every denoising step needs besides the latents (see :meth:`GenRefocusPipeline.generate`)."""

    prompt_embeds: torch.Tensor
    pooled: torch.Tensor
    text_ids: torch.Tensor
    latent_ids: torch.Tensor
    cond_tokens: list
    conditions: Sequence[Condition]
    gmask: torch.Tensor
    attention: str
    caches: Optional[dict]
    tile_batch: int


def flux_scheduler():
    """FLUX.1-dev's FlowMatchEuler scheduler configuration (used when a folder has none)."""
    from diffusers import FlowMatchEulerDiscreteScheduler

    return FlowMatchEulerDiscreteScheduler(use_dynamic_shifting=True, base_shift=0.5, max_shift=1.15,
                                           base_image_seq_len=256, max_image_seq_len=4096, shift=3.0)


def encode_image_tokens(vae, image: torch.Tensor, preprocess: bool = True, generator=None, delta=(0, 0),
                        device=None):
    """Image ``(B, 3, H, W)`` in [0, 1] → FLUX condition tokens ``(B, N, 4·C)`` and ids ``(N, 3)``:
    ``[-1, 1]`` mapping unless ``preprocess=False`` (the official defocus map), ``latent_dist.sample``,
    ``(z − shift)·scale``, 2×2 packing, ids ``(0, row, col)`` plus the RoPE ``delta``. ``device``
    defaults to the VAE's (pass the execution device under model CPU offload)."""
    x = image.to(device=device or vae.device, dtype=vae.dtype)
    if preprocess:
        x = x * 2.0 - 1.0
    z = vae.encode(x).latent_dist.sample(generator)
    z = (z - vae.config.shift_factor) * vae.config.scaling_factor
    tokens = FluxPipeline._pack_latents(z, *z.shape)
    ids = grid_ids(z.shape[2] // 2, z.shape[3] // 2, device=tokens.device, dtype=tokens.dtype)
    ids[:, 1] += delta[0]
    ids[:, 2] += delta[1]
    return tokens, ids


def _focus_kwargs(focus) -> dict:
    if focus is None:
        return {}
    if isinstance(focus, (tuple, list)) and len(focus) == 2:
        return {"point": focus}
    if isinstance(focus, (tuple, list)) and len(focus) == 4:
        return {"box": focus}
    if isinstance(focus, (torch.Tensor, np.ndarray)):
        return {"mask": focus}
    from PIL import Image

    if isinstance(focus, Image.Image):
        return {"mask": np.asarray(focus.convert("L")) > 127}
    raise InputError("focus", f"expected (x, y), (x0, y0, x1, y1) or a mask, got {type(focus).__name__}")


def aperture_condition(aperture, size) -> torch.Tensor:
    """The aperture-shape condition image: the shape (radius = min side / 4) white on black,
    centred, ``(1, 3, H, W)`` in [0, 1]."""
    ap = parse_aperture(aperture)
    h, w = size
    r = min(h, w) / 4
    g = ap.grid(r)
    g = g / g.max()
    img = torch.zeros(h, w)
    R = g.shape[0] // 2
    cy, cx = h // 2, w // 2
    y0, x0 = max(0, cy - R), max(0, cx - R)
    y1, x1 = min(h, cy + R + 1), min(w, cx + R + 1)
    img[y0:y1, x0:x1] = g[y0 - (cy - R):y1 - (cy - R), x0 - (cx - R):x1 - (cx - R)]
    return img[None, None].repeat(1, 3, 1, 1)


def default_lora_dir() -> Path:
    """Where the CLI looks for LoRA files: ``$GENREFOCUS_LORA_DIR`` or ``./weights``."""
    return Path(os.environ.get("GENREFOCUS_LORA_DIR", "weights"))
