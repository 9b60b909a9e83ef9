"""GenRefocusPipeline: DeblurNet and BokehNet on FLUX.1-dev with condition branches (docs/design.md §4.1).

``deblur`` recovers an all-in-focus image, ``bokeh`` renders a new depth of field from an AIF
image, a depth map and a focus, ``refocus`` chains them (deblur → depth → defocus map → bokeh) as
the official demo does. Built on diffusers' :class:`~diffusers.FluxPipeline` (``from_pretrained``,
``load_lora_weights``, offloading, progress bars) with our multi-branch transformer forward.

What each task conditions on, with which prompt, guidance and seeds, is in
:mod:`genrefocus.models.tasks`; how sampling runs (official or ours, tile by tile) is one
:class:`~genrefocus.pipelines.options.SamplerOptions` object given to each call.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence, Union

import numpy as np
import torch
from diffusers import FluxPipeline

from ..errors import InputError, MissingWeightsError
from ..hub import download_command, login_command
from ..io import as_image, resize_image
from ..models.branches import EAGER_BLOCKS, Branch, ConditionKVCache, group_mask, multibranch_forward
from ..models.lora import load_lora
from ..models.tasks import (ADAPTERS, DEBLUR_LAYOUTS, FLUX_ID, HF_LORA_REPO, LORA_FILES, Condition, Task,
                            aperture_condition, encode_condition, get_task, grid_ids, load_prompt_cache,
                            sampling_timesteps, save_prompt_cache)
from ..optics.apertures import parse_aperture
from ..optics.defocus import DEFAULT_K, defocus_condition, disparity_at_size, signed_coc, validate_k
from ..optics.focus import Focus, prompt_focus
from .frame import ImageFrame, working_size
from .options import GenerativeLoadOptions, SamplerOptions, resolve_options
from .result import RefocusResult
from .tiling import TilePlan, use_tiling

Recorder = Callable[[str, torch.Tensor], None]


def _prefixed(record: Optional[Recorder], prefix: str) -> Optional[Recorder]:
    if record is None:
        return None
    return lambda name, t: record(f"{prefix}{name}", t)


class GenRefocusPipeline(FluxPipeline):
    """DeblurNet + BokehNet (FLUX.1-dev + LoRA) with condition tokens.

    ``pipe(photo, focus=..., K=...)`` refocuses (:meth:`refocus`: deblur → depth → defocus map → bokeh);
    :meth:`deblur` and :meth:`bokeh` run one stage. Load with :meth:`from_options`
    (a :class:`~genrefocus.pipelines.options.GenerativeLoadOptions`: FLUX folder, LoRA files, device,
    memory options, helper models) or :meth:`from_pretrained`. Prompt embeddings of the fixed prompts
    can be cached (:meth:`save_prompt_cache`, ``prompt_cache=``) so T5/CLIP need not be loaded.
    Per-instance state: ``lora_info`` (validated LoRA files by kind), ``depth_estimator`` (callable
    image → depth in metres), ``sam`` / ``text_detector`` (prompt models for a focus), ``pre_deblur_model``
    (JDRL, for ``pre_deblurred="jdrl"``), ``block_functions`` (eager or
    :func:`~genrefocus.models.acceleration.compile_blocks`).
    """

    def __init__(self, scheduler, vae, text_encoder, tokenizer, text_encoder_2, tokenizer_2, transformer,
                 image_encoder=None, feature_extractor=None):
        super().__init__(scheduler, vae, text_encoder, tokenizer, text_encoder_2, tokenizer_2, transformer,
                         image_encoder, feature_extractor)
        self.lora_info: dict = {}
        self.prompt_embeddings: dict = {}
        self.depth_estimator = None
        self.sam = None
        self.text_detector = None
        self.pre_deblur_model = None  # JDRLDeblur for pre_deblurred="jdrl"
        self.block_functions = EAGER_BLOCKS

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_options(cls, options: GenerativeLoadOptions, checked: Optional[dict] = None) -> "GenRefocusPipeline":
        """Load everything ``options`` asks for — checked first (:meth:`GenerativeLoadOptions.check`, or
        the result of an earlier call given as ``checked``): the backbone in its dtype with the LoRA
        files, then quantization, offload or the device, VAE tiling, compiled blocks and the helper
        models (depth, SAM, text boxes)."""
        from ..entry import no_loading_bars
        from ..perception import load_depth_estimator
        from ..perception.segmentation import load_prompt_models

        checked = checked or options.check()
        device, src = options.resolved_device(), checked["sources"]
        no_loading_bars()
        loras = {f"{k}_lora": p for k, p in checked["loras"].items()}
        pipe = cls.from_pretrained(options.model, dtype=options.torch_dtype(), prompt_cache=options.prompt_cache,
                                   deblur_lora_layout=options.deblur_layout, **loras, **src["model"])
        if options.quantize:
            from ..models.acceleration import quantize_transformer

            quantize_transformer(pipe.transformer, options.quantize)
        if options.offload:
            pipe.enable_model_cpu_offload()
        else:
            pipe.to(device)
        if options.vae_tiling:
            pipe.vae.enable_tiling()
        if options.compile:
            from ..models.acceleration import compile_blocks

            pipe.block_functions = compile_blocks()
        if options.depth_model:
            pipe.depth_estimator = load_depth_estimator(options.depth_model, metric=True, device=device,
                                                        **src["depth_model"])
        pipe.sam, pipe.text_detector = load_prompt_models(options.sam_model, options.text_model,
                                                          options.allow_download, device)
        return pipe

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: Union[str, Path] = FLUX_ID, *,
                        deblur_lora: Optional[Union[str, Path]] = None,
                        bokeh_lora: Optional[Union[str, Path]] = None,
                        pre_deblur_lora: Optional[Union[str, Path]] = None,
                        shape_lora: Optional[Union[str, Path]] = None,
                        deblur_lora_layout: str = "one_condition",
                        prompt_cache: Optional[Union[str, Path]] = None, **kwargs):
        """Load the FLUX backbone and the given LoRA files (official diffusers-format keys).

        ``deblur_lora_layout``: ``"one_condition"`` for the current ``deblurNet.safetensors``;
        ``"two_conditions"`` for the first release (before 2026-03-11), which expects a black or
        pre-deblurred image at delta (0, 32) before the blurry one. Missing FLUX weights or LoRA
        files raise :class:`MissingWeightsError` saying what to download.
        """
        path = str(pretrained_model_name_or_path)
        index = Path(path) / "model_index.json"
        if index.is_file():  # components saved as None (e.g. no text encoders: prompt cache) stay None
            try:
                present = json.loads(index.read_text())
            except (OSError, ValueError) as exc:
                raise InputError(str(index), f"is not valid JSON ({exc})") from None
            for name in ("text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2", "image_encoder",
                         "feature_extractor"):
                if name not in present or present[name] in (None, [None, None]):
                    kwargs.setdefault(name, None)
            if prompt_cache is not None:  # the cache replaces T5/CLIP: do not load them
                for name in ("text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2"):
                    kwargs.setdefault(name, None)
        kwargs.setdefault("use_safetensors", True)  # never unpickle weights
        try:
            pipe = super().from_pretrained(path, **kwargs)
        except Exception as exc:  # noqa: BLE001 - missing, truncated or pickled weights all mean: fetch them again
            if Path(path).exists() and index.is_file():
                raise MissingWeightsError(
                    f"FLUX folder {path!r} could not be loaded ({type(exc).__name__}: {str(exc)[:200]}): its weights "
                    f"are missing, truncated or not safetensors. Download {FLUX_ID} again "
                    f"(`{download_command(FLUX_ID, local_dir=path)}`).") from None
            raise MissingWeightsError(
                f"FLUX backbone {path!r} could not be loaded ({type(exc).__name__}: {str(exc)[:200]}). "
                f"Download {FLUX_ID} (gated: accept its licence on Hugging Face, `{login_command()}`, "
                f"then `{download_command(FLUX_ID, local_dir='./FLUX.1-dev')}`) and pass that folder."
            ) from None
        for kind, p in (("deblur", deblur_lora), ("bokeh", bokeh_lora), ("pre_deblur", pre_deblur_lora),
                        ("shape", shape_lora)):
            if p is not None:
                pipe.load_genfocus_lora(p, kind, layout=deblur_lora_layout if kind == "deblur" else None)
        if prompt_cache is not None:
            pipe.load_prompt_cache(prompt_cache)
        return pipe

    def load_genfocus_lora(self, path: Union[str, Path], kind: str, layout: Optional[str] = None) -> dict:
        """Validate and load one LoRA file as the adapter for ``kind`` (deblur, bokeh, pre_deblur,
        shape); ``layout`` only for deblur (see :meth:`from_pretrained`)."""
        if kind not in ADAPTERS:
            raise InputError("LoRA kind", f"{kind!r}; use one of {', '.join(ADAPTERS)}")
        layout = layout or ("one_condition" if kind == "deblur" else None)
        if kind == "deblur" and layout not in DEBLUR_LAYOUTS:
            raise InputError("deblur_lora_layout", f"{layout!r}; use one of {', '.join(DEBLUR_LAYOUTS)}")
        if kind != "deblur" and layout is not None:
            raise InputError("layout", f"only a deblur LoRA has a layout option (got one for {kind})")
        info = load_lora(self, path, ADAPTERS[kind], kind=kind)
        info["layout"] = layout
        self.lora_info[kind] = info
        self.set_adapters(list(self.get_list_adapters().get("transformer", [])))
        return info

    def _require(self, kind: str) -> str:
        if kind not in self.lora_info:
            if kind in LORA_FILES:
                raise MissingWeightsError(
                    f"the {kind} LoRA is not loaded: download {LORA_FILES[kind]} from Hugging Face {HF_LORA_REPO} "
                    f"and pass it to from_pretrained({kind}_lora=...) or load_genfocus_lora(path, {kind!r})")
            raise MissingWeightsError(f"the {kind} LoRA is not loaded: train one (training/configs/{kind}.yaml) "
                                      f"and pass it to from_pretrained({kind}_lora=...)")
        return ADAPTERS[kind]

    # ------------------------------------------------------------------ prompts
    def cache_prompt(self, prompt: str, prompt_embeds: Optional[torch.Tensor] = None,
                     pooled_prompt_embeds: Optional[torch.Tensor] = None) -> None:
        """Store embeddings for ``prompt`` (computed with the text encoders when not given)."""
        if prompt_embeds is None:
            if self.text_encoder is None or self.text_encoder_2 is None:
                raise MissingWeightsError(f"no text encoders loaded and no cached embeddings for {prompt!r}: "
                                          "pass prompt_cache=... (see save_prompt_cache) or a FLUX folder with "
                                          "its text encoders")
            prompt_embeds, pooled_prompt_embeds, _ = self.encode_prompt(prompt, prompt_2=None,
                                                                        device=self._execution_device)
        self.prompt_embeddings[prompt] = (prompt_embeds.detach().cpu(), pooled_prompt_embeds.detach().cpu())

    def save_prompt_cache(self, path: Union[str, Path]) -> Path:
        """Write the cached prompt embeddings (:func:`~genrefocus.models.tasks.save_prompt_cache`)."""
        return save_prompt_cache(path, self.prompt_embeddings)

    def load_prompt_cache(self, path: Union[str, Path]) -> None:
        """Read embeddings written by :meth:`save_prompt_cache`."""
        for prompt, (e, pooled) in load_prompt_cache(path).items():
            self.cache_prompt(prompt, e, pooled)

    def _prompt(self, prompt: str, device, dtype):
        if prompt not in self.prompt_embeddings:
            self.cache_prompt(prompt)
        e, pooled = self.prompt_embeddings[prompt]
        e, pooled = e.to(device=device, dtype=dtype), pooled.to(device=device, dtype=dtype)
        return e, pooled, torch.zeros(e.shape[1], 3, device=device, dtype=dtype)

    # ------------------------------------------------------------------ VAE
    def decode_latents(self, latents: torch.Tensor, height: int, width: int,
                       in_model_dtype: bool = False) -> torch.Tensor:
        """Packed latents → image ``(B, 3, H, W)`` float32 in [0, 1]. ``in_model_dtype`` maps
        ``x/2 + 0.5`` and clamps in the VAE's dtype first (the official postprocessing)."""
        z = self._unpack_latents(latents, height, width, self.vae_scale_factor)
        z = z / self.vae.config.scaling_factor + self.vae.config.shift_factor
        image = self.vae.decode(z.to(self.vae.dtype), return_dict=False)[0]
        if in_model_dtype:
            return (image * 0.5 + 0.5).clamp(0, 1).float()
        return (image.float() * 0.5 + 0.5).clamp(0, 1)

    # ------------------------------------------------------------------ the sampler
    @torch.no_grad()
    def generate(self, conditions: Sequence[Condition], prompt: str, height: int, width: int, *,
                 guidance_scale: float = 3.5, num_inference_steps: int = 28,
                 generator: Optional[torch.Generator] = None, vae_generator: Optional[torch.Generator] = None,
                 latents: Optional[torch.Tensor] = None, options: Optional[SamplerOptions] = None,
                 callback_on_step_end: Optional[Callable] = None, record: Optional[Recorder] = None) -> torch.Tensor:
        """Flow-matching sampling with condition branches; returns ``(1, 3, height, width)`` in [0, 1].

        Args:
            conditions: condition branches in order (see :mod:`genrefocus.models.tasks`).
            generator: draws the initial noise; vae_generator: draws the conditions' VAE samples
                (default: continue ``generator``'s stream, as the official deblur script's one RNG — also
                when ``latents`` are given: the stream is advanced past the noise it would have drawn).
                With ``options.official_seeds`` both come from one stream seeded 42 (the official
                deblur script's) and user generators are refused; :meth:`run_task` uses each task's seeds.
            latents: packed initial latents ``(1, H/16·W/16, 64)`` instead of drawing them.
            options: :class:`SamplerOptions` (default ours).
            callback_on_step_end: ``f(pipe, i, t, {"latents": ...})``, may return new ``latents``.
            record: ``f(name, tensor)`` receives ``condition.<i>.vae_input``, ``condition.<i>.vae_sample``,
                ``init_latents``, ``velocity.<step>``, ``final_latents``, ``final_image``.
        """
        options = resolve_options(options)
        if options.official_seeds:
            if generator is not None or vae_generator is not None:
                raise InputError("generator", "official_seeds draws with the official seed 42; pass no generator, "
                                              "or SamplerOptions(official_seeds=False)")
            generator = vae_generator = torch.Generator(device=self._execution_device).manual_seed(42)
        return self._sample(conditions, prompt, height, width, guidance_scale, num_inference_steps, generator,
                            vae_generator, latents, options, callback_on_step_end, record)

    def _sample(self, conditions, prompt, height, width, guidance_scale, num_inference_steps, generator,
                vae_generator, latents, options, callback_on_step_end, record) -> torch.Tensor:
        """:meth:`generate` with the generators decided."""
        if height % 16 or width % 16 or height < 16 or width < 16:
            raise InputError("size", f"{width}×{height} must be multiples of 16 (see working_size)")
        if options.independent_conditions:
            self._check_independent(conditions)
        device, dtype = self._execution_device, self.transformer.dtype
        vae_generator = generator if vae_generator is None else vae_generator
        # 1. prompt embeddings (cached for the fixed prompts)
        prompt_embeds, pooled, text_ids = self._prompt(prompt, device, dtype)
        # 2. initial noise, then 3. condition tokens: the official order of random draws
        channels = self.transformer.config.in_channels // 4
        if latents is not None and generator is not None and vae_generator is generator:
            self.prepare_latents(1, channels, height, width, dtype, device, generator)  # one stream: noise first
        latents, latent_ids = self.prepare_latents(1, channels, height, width, dtype, device, generator, latents)
        if record is not None:
            record("init_latents", latents)
        cond_tokens = [encode_condition(self.vae, c, vae_generator, device, _prefixed(record, f"condition.{i}."))
                       for i, c in enumerate(conditions)]
        # 4. schedule: sigmas linspace(1, 1/N, N), mu from the full image's token count
        timesteps = sampling_timesteps(self.scheduler, num_inference_steps, latents.shape[1], device)
        # 5. tiles, attention layout and (independent conditions) the condition KV caches
        tiled = use_tiling(height, width) if options.tiling == "auto" else bool(options.tiling)
        plan = TilePlan(height // 16, width // 16, order=options.tile_order) if tiled else None
        step = _Step(prompt_embeds, pooled, text_ids, latent_ids, cond_tokens, list(conditions),
                     group_mask(len(conditions), independent=options.independent_conditions), options,
                     {} if options.independent_conditions and options.kv_cache else None)
        guidance = torch.full([1], guidance_scale, device=device, dtype=torch.float32)
        # 6. denoising loop
        with self.progress_bar(total=len(timesteps)) as bar:
            for i, t in enumerate(timesteps):
                timestep = t.expand(latents.shape[0]).to(latents.dtype) / 1000
                v = self._velocity(latents, timestep, guidance, step, plan)
                if record is not None:
                    record(f"velocity.{i}", v)
                latents = self.scheduler.step(v, t, latents, return_dict=False)[0]
                if callback_on_step_end is not None:
                    upd = callback_on_step_end(self, i, t, {"latents": latents}) or {}
                    latents = upd.get("latents", latents)
                bar.update()
        # 7. decode
        image = self.decode_latents(latents, height, width, in_model_dtype=options.decode_in_model_dtype)
        if record is not None:
            record("final_latents", latents)
            record("final_image", image)
        self.maybe_free_model_hooks()
        return image

    def _check_independent(self, conditions) -> None:
        kind_of = {v: k for k, v in ADAPTERS.items()}
        for c in conditions:
            meta = self.lora_info.get(kind_of.get(c.adapter), {}).get("metadata", {})
            if str(meta.get("independent_conditions", "")).lower() != "true":
                raise InputError("independent_conditions",
                                 f"the {c.adapter!r} LoRA was not trained with independent conditions "
                                 "(no independent_conditions=true in its metadata): the condition KV cache "
                                 "would change its results. Official Genfocus LoRAs need the default options.")

    def _velocity(self, latents, timestep, guidance, step: "_Step", plan: Optional[TilePlan]):
        hook = getattr(self.transformer, "_hf_hook", None)
        if hook is not None:  # model CPU offload: our forward calls submodules, so move the model here
            hook.pre_forward(self.transformer)
        zero, one = torch.zeros_like(timestep), torch.ones_like(guidance)
        opts = step.options

        def run(lat, ids_lat, conds, batch, cache):
            text = Branch(step.prompt_embeds.expand(batch, -1, -1), step.text_ids, timestep.repeat(batch),
                          guidance.repeat(batch))
            branches = [Branch(lat, ids_lat, timestep.repeat(batch), guidance.repeat(batch))]
            branches += [Branch(tok, ids, zero.repeat(batch), one.repeat(batch), c.adapter)
                         for (tok, ids), c in zip(conds, step.conditions)]
            return multibranch_forward(self.transformer, text, branches, step.pooled.expand(batch, -1), step.gmask,
                                       attention=opts.attention, cache=cache, blocks=self.block_functions)

        if plan is None:
            cache = None if step.caches is None else step.caches.setdefault(0, ConditionKVCache())
            return run(latents, step.latent_ids, step.cond_tokens, 1, cache)
        tile_ids = grid_ids(32, 32, device=latents.device, dtype=step.latent_ids.dtype)
        split = opts.tile_split
        mine = split.share(len(plan)) if split is not None else list(range(len(plan)))
        preds = []
        for n, s0 in enumerate(range(0, len(mine), opts.tile_batch)):
            tiles = mine[s0:s0 + opts.tile_batch]
            inds = [plan.indices[k].to(latents.device) for k in tiles]
            lat = torch.cat([latents[:, ind] for ind in inds])
            conds = []
            for (tok, _), c in zip(step.cond_tokens, step.conditions):
                if opts.tile_ids == "official":  # every branch on the fixed 32×32 grid, deltas dropped
                    ids = tile_ids
                else:
                    ids = tile_ids + torch.tensor([0.0, *c.delta], device=tile_ids.device, dtype=tile_ids.dtype)
                conds.append((torch.cat([tok[:, ind] for ind in inds]), ids))
            cache = None if step.caches is None else step.caches.setdefault(n, ConditionKVCache())
            preds.extend(run(lat, tile_ids, conds, len(tiles), cache).split(1, dim=0))
        if split is not None:
            preds = split.gather_in_order(preds, len(plan))
        acc = latents.dtype if opts.blend_dtype == "latent" else torch.float32
        return plan.blend(preds, latents.shape[1], latents.dtype, accumulate_dtype=acc)

    # ------------------------------------------------------------------ tasks
    def _generators(self, task: Task, options: SamplerOptions, generator, vae_generator):
        """(noise generator, VAE generator): the user's, or the official scripts' seeds."""
        if not options.official_seeds:
            return generator, vae_generator
        if generator is not None or vae_generator is not None:
            raise InputError("generator", "official_seeds (compat) draws with the official seeds 42/1234; "
                                          "pass no generator, or SamplerOptions(official_seeds=False)")
        device = self._execution_device
        noise = torch.Generator(device=device).manual_seed(task.latent_seed)
        if task.shared_seed_stream:
            return noise, noise
        return noise, torch.Generator(device=device).manual_seed(task.vae_seed)

    def run_task(self, task: Union[str, Task], images: dict, *, num_inference_steps: int = 28,
                 guidance_scale: Optional[float] = None, generator: Optional[torch.Generator] = None,
                 vae_generator: Optional[torch.Generator] = None, latents: Optional[torch.Tensor] = None,
                 options: Optional[SamplerOptions] = None, callback_on_step_end: Optional[Callable] = None,
                 record: Optional[Recorder] = None) -> torch.Tensor:
        """Sample one task (:data:`~genrefocus.models.tasks.TASKS`) from its condition images at the
        working size ``{role: (1, 3, H, W)}``; returns the working-size result."""
        task = get_task(task) if isinstance(task, str) else task
        options = resolve_options(options)
        for spec in task.layout:
            self._require(spec.kind or task.kind)
        conds = task.conditions(images)
        h, w = conds[0].image.shape[-2:]
        noise, vae = self._generators(task, options, generator, vae_generator)
        return self._sample(conds, task.prompt, h, w, task.guidance if guidance_scale is None else guidance_scale,
                            num_inference_steps, noise, vae, latents, options, callback_on_step_end, record)

    def _deblur_task(self, with_pre: bool) -> Task:
        deblur = self.lora_info.get("deblur")
        if with_pre:
            if "pre_deblur" in self.lora_info:
                return get_task("pre_deblur")
            if deblur is not None and deblur.get("layout") == "two_conditions":
                return get_task("deblur_two_conditions")
            self._require("pre_deblur")
        if deblur is not None:
            return get_task(DEBLUR_LAYOUTS[deblur.get("layout") or "one_condition"])
        if "pre_deblur" in self.lora_info:  # the official pre-deblur script without -p: a black image
            return get_task("pre_deblur")
        self._require("deblur")
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ user API
    def _prepare(self, image, long_side: Optional[int], options: SamplerOptions, name: str = "image"):
        x = as_image(image, name)
        frame = ImageFrame.plan(*x.shape[-2:], long_side=long_side)
        return frame.apply(x, options.resize_8bit), frame

    def _pre_condition(self, pre_deblurred, x: torch.Tensor, options: SamplerOptions) -> Optional[torch.Tensor]:
        """The pre-deblurred condition at the working size: a given image, or ``"jdrl"`` — then
        :attr:`pre_deblur_model` (a :class:`~genrefocus.models.jdrl.JDRLDeblur`; when unset, the
        checkpoint genrefocus ships is loaded on first use) runs on the working blurry image ``x``."""
        if pre_deblurred is None:
            return None
        if isinstance(pre_deblurred, str) and pre_deblurred == "jdrl":
            if self.pre_deblur_model is None:
                from ..models.jdrl import DEFAULT_CHECKPOINT, JDRLDeblur

                if not (DEFAULT_CHECKPOINT / "config.json").is_file():
                    raise MissingWeightsError("pre_deblurred='jdrl' needs a JDRL model and the shipped one is missing "
                                              f"({DEFAULT_CHECKPOINT}): pipe.pre_deblur_model = "
                                              "genrefocus.models.jdrl.JDRLDeblur.from_pretrained(<folder>)")
                self.pre_deblur_model = JDRLDeblur.from_pretrained(DEFAULT_CHECKPOINT).to(x.device)
            return self.pre_deblur_model.deblur(x.float()).to(x)
        return resize_image(as_image(pre_deblurred, "pre_deblurred"), x.shape[-2:], options.resize_8bit)

    def deblur(self, image, pre_deblurred=None, *, num_inference_steps: int = 28,
               guidance_scale: Optional[float] = None, generator: Optional[torch.Generator] = None,
               vae_generator: Optional[torch.Generator] = None, latents: Optional[torch.Tensor] = None,
               long_side: Optional[int] = None, options: Optional[SamplerOptions] = None,
               callback_on_step_end: Optional[Callable] = None, record: Optional[Recorder] = None) -> RefocusResult:
        """All-in-focus image from a (mis)focused photo: ``image`` of the result is the AIF at the size the
        user gets, ``aif`` the same at the working size.

        With the current ``deblurNet.safetensors``: one condition, the blurry image. With
        ``pre_deblurred`` (an image, or ``"jdrl"``: :attr:`pre_deblur_model` makes it):
        ``deblurNet_with_pre_deblur.safetensors``, the pre-deblurred image at delta (0, 32) then the blurry
        one (a black image when none is given and only that LoRA is loaded, as the official pre-deblur
        script). Prompt "a sharp photo with everything in focus", guidance 3.5.
        ``options=SamplerOptions.compat()``: the official script's result at the working size.
        """
        options = resolve_options(options)
        task = self._deblur_task(pre_deblurred is not None)
        x, frame = self._prepare(image, long_side, options)
        pre = self._pre_condition(pre_deblurred, x, options)
        aif = self.run_task(task, {"blurry": x, "pre_deblurred": pre}, num_inference_steps=num_inference_steps,
                            guidance_scale=guidance_scale, generator=generator, vae_generator=vae_generator,
                            latents=latents, options=options, callback_on_step_end=callback_on_step_end,
                            record=record)
        return RefocusResult(image=frame.output(aif, options.output_size, options.resize_8bit), aif=aif,
                             meta={"image_working": aif, "task": task.name})

    def bokeh(self, aif, depth: Optional[torch.Tensor] = None, *, focus=None, K: float = DEFAULT_K, aperture=None,
              num_inference_steps: int = 28, guidance_scale: Optional[float] = None,
              generator: Optional[torch.Generator] = None, vae_generator: Optional[torch.Generator] = None,
              latents: Optional[torch.Tensor] = None, long_side: Optional[int] = None,
              options: Optional[SamplerOptions] = None, callback_on_step_end: Optional[Callable] = None,
              record: Optional[Recorder] = None) -> RefocusResult:
        """Render a new depth of field from an all-in-focus image (the official bokeh script).

        Args:
            aif: all-in-focus image. depth: metric depth (m) of the photo, any size (resized to the
                working size before it is inverted, as the official script); estimated with
                ``depth_estimator`` on the working image when None.
            focus: any :class:`~genrefocus.optics.focus.Focus` form in the photo's pixels — ``(x, y)``,
                a box, an in-focus mask (any size; grey > 0 is in focus), ``"near"``, ``"d=0.4"`` (1/m),
                text (with a detector); None → the image centre.
            K: bokeh level (CoC px per 1/m at the working resolution; the official bokeh CLI used 15).
            aperture: optional aperture shape (needs the shape LoRA).
        """
        options = resolve_options(options)
        K = validate_k(K)
        photo = as_image(aif, "aif")
        focus = Focus.coerce(focus).check(photo.shape[-2:])
        plan = self._bokeh_plan(aperture, depth)
        focus = prompt_focus(focus, photo, self.sam, self.text_detector)
        x, frame = self._prepare(photo, long_side, options, name="aif")
        return self._bokeh_stage(x, frame, depth, focus, K, plan, num_inference_steps, guidance_scale, generator,
                                 vae_generator, latents, options, callback_on_step_end, record)

    def refocus(self, image, *, focus=None, K: float = DEFAULT_K, depth: Optional[torch.Tensor] = None,
                pre_deblurred=None, aperture=None, num_inference_steps: int = 28,
                generator: Optional[torch.Generator] = None, vae_generator: Optional[torch.Generator] = None,
                latents: Optional[torch.Tensor] = None, long_side: Optional[int] = None,
                options: Optional[SamplerOptions] = None, record: Optional[Recorder] = None) -> RefocusResult:
        """Deblur → depth (on the AIF) → defocus map → bokeh, as the official demo (K = 0 returns
        the AIF). ``latents``: BokehNet's initial noise (the demo reuses it between runs);
        ``generator`` draws both stages in turn (official seeds with ``SamplerOptions.compat()``).
        Everything — focus, K, aperture, LoRAs, the depth source — is checked before DeblurNet runs."""
        options = resolve_options(options)
        K = validate_k(K)
        photo = as_image(image)
        focus = Focus.coerce(focus).check(photo.shape[-2:])
        task = self._deblur_task(pre_deblurred is not None)
        plan = self._bokeh_plan(aperture, depth) if K > 0 else None
        focus = prompt_focus(focus, photo, self.sam, self.text_detector)
        x, frame = self._prepare(photo, long_side, options)
        self._focus_in_working(focus, frame, options)  # a point or box that the crop cuts away: refused now
        pre = self._pre_condition(pre_deblurred, x, options)
        aif = self.run_task(task, {"blurry": x, "pre_deblurred": pre}, num_inference_steps=num_inference_steps,
                            generator=generator, vae_generator=vae_generator, options=options,
                            record=_prefixed(record, "deblur."))
        if options.handoff_8bit:  # the official demo hands the AIF over as an 8-bit PIL image
            aif = torch.round(aif * 255) / 255
        if K == 0:
            return RefocusResult(image=frame.output(aif, options.output_size, options.resize_8bit), aif=aif,
                                 depth=depth, K=0.0, meta={"image_working": aif, "focus": focus})
        return self._bokeh_stage(aif, frame, depth, focus, K, plan, num_inference_steps, None, generator,
                                 vae_generator, latents, options, None, _prefixed(record, "bokeh."))

    __call__ = refocus

    def _bokeh_plan(self, aperture, depth) -> dict:
        """Check what the bokeh stage needs before any model runs; returns the task and aperture."""
        ap = parse_aperture(aperture) if aperture is not None else None
        task = get_task("shape" if ap is not None else "bokeh")
        for spec in task.layout:
            self._require(spec.kind or task.kind)
        if depth is None and self.depth_estimator is None:
            raise MissingWeightsError(
                "no depth given and no depth estimator loaded: pass depth=... (metres) or attach one with "
                "pipe.depth_estimator = genrefocus.perception.DepthPro.from_pretrained('apple/DepthPro-hf')")
        return {"task": task, "aperture": ap}

    @staticmethod
    def _focus_in_working(focus: Focus, frame: ImageFrame, options: SamplerOptions) -> Focus:
        """A point, box or mask given in the photo's pixels, mapped onto the working image (the other
        kinds do not depend on the frame)."""
        if focus.kind == "point":
            return Focus.point(*frame.point(focus.value, options.crop_mapping))
        if focus.kind == "box":
            return Focus.box(*frame.box(focus.value, options.crop_mapping))
        if focus.kind == "mask":
            return Focus.mask(frame.mask(focus.value, options.crop_mapping))
        return focus

    def _bokeh_stage(self, x, frame, depth, focus, K, plan, steps, guidance_scale, generator, vae_generator, latents,
                     options, callback, record) -> RefocusResult:
        h, w = x.shape[-2:]
        working_focus = self._focus_in_working(focus, frame, options)
        if depth is None:
            depth = self.estimate_depth(x)
        depth_t = torch.as_tensor(depth).float()
        disp = disparity_at_size(frame.depth(depth_t, options.crop_mapping), (h, w))
        d_f = working_focus.focus_disparity(disp)
        coc = signed_coc(disp, K, d_f)
        cond_map = defocus_condition(coc)
        images = {"aif": x, "defocus_map": cond_map}
        if plan["aperture"] is not None:
            images["aperture"] = aperture_condition(plan["aperture"], (h, w))
        if K == 0:
            image = x
        else:
            image = self.run_task(plan["task"], images, num_inference_steps=steps, guidance_scale=guidance_scale,
                                  generator=generator, vae_generator=vae_generator, latents=latents,
                                  options=options, callback_on_step_end=callback, record=record)
        return RefocusResult(image=frame.output(image, options.output_size, options.resize_8bit), aif=x,
                             disparity=disp, depth=depth_t, coc=coc, focus_disparity=d_f, K=K,
                             meta={"defocus_map": cond_map, "image_working": image, "disparity_units": "1/m",
                                   "focus": focus, "task": plan["task"].name})

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
    conditions: list
    gmask: torch.Tensor
    options: SamplerOptions
    caches: Optional[dict]


__all__ = ["GenRefocusPipeline", "working_size"]
