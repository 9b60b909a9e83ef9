"""How the generative pipeline loads and samples: two frozen options objects, built once and passed down.

:class:`GenerativeLoadOptions` says what :meth:`GenRefocusPipeline.from_options
<genrefocus.pipelines.generative.GenRefocusPipeline.from_options>` loads — the FLUX.1-dev folder, which
Genfocus LoRA files, dtype, device, memory options and helper models — and checks all of it
(:meth:`GenerativeLoadOptions.check`) without loading anything or importing diffusers.

:class:`SamplerOptions` replaces the single ``compat`` switch: every behaviour that differs between
the official Genfocus code (commit 54752a1) and our default is one named field.
``SamplerOptions.compat()`` sets all of them to the official behaviour; ``SamplerOptions()`` is our
default; any field can be set on its own (``SamplerOptions(attention="loop")``,
``SamplerOptions.compat(tile_batch=4)``). Nothing below the pipeline reads a ``compat`` flag: the tiler, the attention and the encoder
get the individual settings.

What ``compat`` guarantees: with the same weights, inputs and official seeds, the official scripts'
condition images, VAE samples, initial noise, per-step velocities, final latents and final image,
to ≤ 1e-5 in float32 (tests/test_official_equivalence.py, fixture recorded from the official code).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

from ..errors import InputError, MissingWeightsError
from ..models.tasks import FLUX_ID, LORA_FILES
from .distributed import ProcessSplit


_CHOICES = {"attention": ("fused", "loop"), "tile_ids": ("offset", "official"),
            "tile_order": ("row-major", "official"), "blend_dtype": ("float32", "latent"),
            "crop_mapping": ("exact", "official"), "output_size": ("original", "working")}


@dataclass(frozen=True)
class SamplerOptions:
    """Sampling settings (official value → ``compat()``; ours → default).

    Attributes:
        attention: ``"fused"`` one masked attention call per layer over all branches (ours) or
            ``"loop"`` the official per-query-branch loop. Equal to float rounding.
        tiling: ``"auto"`` (official rule: ≥ 1024 tokens and min side ≥ 512 px), True or False.
        tile_ids: ``"offset"`` each branch of a tile keeps its own ids (tile grid + the condition's
            delta: tiled equals untiled on one tile) or ``"official"`` every branch of every tile
            uses the ids of a fixed 32×32 grid (condition deltas dropped).
        tile_order: ``"row-major"`` or ``"official"`` (columns in the outer loop, the order of the
            official ``np.meshgrid``); only changes the float summation order of the blend.
        blend_dtype: ``"float32"`` or ``"latent"`` (the official code accumulates the blend in the
            latents' dtype, bf16 on GPU).
        tile_batch: tiles per transformer call (the official code: 1).
        independent_conditions: conditions attend only to themselves (needs LoRAs trained so;
            their metadata says ``independent_conditions=true``); enables the condition KV cache.
        kv_cache: with independent conditions, compute the conditions' keys/values once per image
            (tile batch) and reuse them at every step.
        resize_8bit: resize inputs as the official scripts do (PIL Lanczos on the 8-bit image);
            else PIL Lanczos per channel in float (keeps 16-bit precision).
        handoff_8bit: ``refocus`` hands the AIF to BokehNet as an 8-bit image (the official demo).
        official_seeds: draw the initial noise and the VAE samples as the official scripts do
            (deblur: one stream seeded 42; bokeh: noise from a generator seeded 1234, VAE samples
            from a stream seeded 42); user generators are then refused.
        decode_in_model_dtype: map the decoded image to [0, 1] in the model dtype (official; bf16 on
            GPU) instead of float32.
        crop_mapping: how a focus point, box, mask or depth map given in the photo's pixels reaches
            a ``long_side``-cropped working image: ``"exact"`` through the resize and the centre
            crop; ``"official"`` scaled by working / original size (the crop ignored).
        output_size: ``"original"`` returns results at the input's size (the working size when
            ``long_side`` cropped it); ``"working"`` at the model's size, as the official scripts save.
        tile_split: split the tiles of each step across the processes of this
            :class:`~genrefocus.pipelines.distributed.ProcessSplit` (None: this process runs every
            tile). Never together with splitting images across the same processes.
    """

    attention: str = "fused"
    tiling: Union[bool, str] = "auto"
    tile_ids: str = "offset"
    tile_order: str = "row-major"
    blend_dtype: str = "float32"
    tile_batch: int = 1
    independent_conditions: bool = False
    kv_cache: bool = True
    resize_8bit: bool = False
    handoff_8bit: bool = False
    official_seeds: bool = False
    decode_in_model_dtype: bool = False
    crop_mapping: str = "exact"
    output_size: str = "original"
    tile_split: Optional[ProcessSplit] = None

    def __post_init__(self):
        for name, allowed in _CHOICES.items():
            if getattr(self, name) not in allowed:
                raise InputError(name, f"{getattr(self, name)!r}; use one of {', '.join(allowed)}")
        if self.tiling not in ("auto", True, False):
            raise InputError("tiling", f"{self.tiling!r}; use 'auto', True or False")
        if not isinstance(self.tile_batch, int) or isinstance(self.tile_batch, bool) or self.tile_batch < 1:
            raise InputError("tile_batch", f"must be an integer ≥ 1, got {self.tile_batch!r}")
        if self.tile_split is not None and not isinstance(self.tile_split, ProcessSplit):
            raise InputError("tile_split", f"expected a ProcessSplit, got {type(self.tile_split).__name__}")

    @classmethod
    def compat(cls, **overrides) -> "SamplerOptions":
        """The official Genfocus behaviour (commit 54752a1), with optional overrides."""
        official = dict(attention="loop", tile_ids="official", tile_order="official", blend_dtype="latent",
                        tile_batch=1, independent_conditions=False, resize_8bit=True, handoff_8bit=True,
                        official_seeds=True, decode_in_model_dtype=True, crop_mapping="official",
                        output_size="working")
        official.update(overrides)
        return cls(**official)

    def replace(self, **changes) -> "SamplerOptions":
        """A copy with ``changes`` (the object itself never changes)."""
        return dataclasses.replace(self, **changes)


def resolve_options(options: Optional[SamplerOptions] = None) -> SamplerOptions:
    """``options`` as given (checked), else the defaults."""
    if options is None:
        return SamplerOptions()
    if not isinstance(options, SamplerOptions):
        raise InputError("options", f"expected SamplerOptions, got {type(options).__name__}")
    return options


ADAPTER_KINDS = ("deblur", "pre_deblur", "bokeh", "shape")
DTYPES = ("bf16", "fp16", "fp32")
QUANTIZE = ("int8", "fp8")
DEBLUR_LAYOUT_NAMES = ("one_condition", "two_conditions")


def check_device(device: Optional[str] = None) -> str:
    """``cpu``, ``cuda`` or ``cuda:N`` of a present GPU (None: cuda when present, else cpu); else InputError."""
    import torch

    if device is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        raise InputError("device", f"{device!r} is not a device; use cpu, cuda or cuda:N") from None
    if dev.type not in ("cpu", "cuda"):
        raise InputError("device", f"{device!r}: only cpu and cuda are supported")
    if dev.type == "cuda" and (not torch.cuda.is_available() or (dev.index or 0) >= torch.cuda.device_count()):
        raise InputError("device", f"{device} requested but no CUDA GPU (of that index) is available; use cpu")
    return str(dev)


def default_lora_dir() -> Path:
    """Where LoRA files are looked for by default: ``$GENREFOCUS_LORA_DIR`` or ``./weights``."""
    return Path(os.environ.get("GENREFOCUS_LORA_DIR", "weights"))


def lora_file(lora_dir: Path, kind: str) -> Path:
    """The file of LoRA ``kind`` in ``lora_dir``: the released name, or ``<kind>_lora.safetensors`` (ours)."""
    return Path(lora_dir) / LORA_FILES.get(kind, f"{kind}_lora.safetensors")


@dataclass(frozen=True)
class GenerativeLoadOptions:
    """What :meth:`GenRefocusPipeline.from_options` loads.

    Attributes:
        model: FLUX.1-dev folder or Hub id.
        lora_dir: folder of the LoRA files (default :func:`default_lora_dir`); ``adapters`` the kinds to
            load from it (``deblur``, ``pre_deblur``, ``bokeh``, ``shape``).
        deblur_layout: condition layout of ``deblurNet.safetensors`` (``one_condition``: the current
            release; ``two_conditions``: the first one).
        prompt_cache: safetensors of cached prompt embeddings (then T5 and CLIP are not loaded).
        device: ``cpu`` / ``cuda`` / ``cuda:N`` (default: cuda when available); dtype ``bf16`` / ``fp16``
            / ``fp32`` (default bf16 on a GPU, fp32 on the CPU).
        quantize: torchao weight quantization of the transformer (``int8``, ``fp8``); offload: diffusers'
            model CPU offload; vae_tiling: tiled VAE decode; compile: torch.compile of the blocks.
        independent_conditions: the LoRAs must have been trained for the condition KV cache (their
            metadata is read in :meth:`check`, before the backbone loads).
        depth_model, sam_model, text_model: helper models (folders or Hub ids): metric depth (Depth
            Pro, or Depth Anything read with the nearest point at 1 m), SAM for point/box prompts, OWLv2
            for text prompts. allow_download: let Hub ids download.
    """

    model: str = FLUX_ID
    lora_dir: Optional[str] = None
    adapters: tuple = ("deblur", "bokeh")
    deblur_layout: str = "one_condition"
    prompt_cache: Optional[str] = None
    device: Optional[str] = None
    dtype: Optional[str] = None
    quantize: Optional[str] = None
    offload: bool = False
    vae_tiling: bool = False
    compile: bool = False
    independent_conditions: bool = False
    depth_model: Optional[str] = None
    sam_model: Optional[str] = None
    text_model: Optional[str] = None
    allow_download: bool = False

    def __post_init__(self):
        bad = [a for a in self.adapters if a not in ADAPTER_KINDS]
        if bad or not self.adapters:
            raise InputError("adapters", f"{bad or '(none)'}; use some of {', '.join(ADAPTER_KINDS)}")
        for name, allowed in (("deblur_layout", DEBLUR_LAYOUT_NAMES), ("dtype", DTYPES + (None,)),
                              ("quantize", QUANTIZE + (None,))):
            if getattr(self, name) not in allowed:
                raise InputError(name, f"{getattr(self, name)!r}; use one of "
                                       f"{', '.join(str(a) for a in allowed if a is not None)}")

    def lora_paths(self) -> dict:
        """``{kind: path}`` of the adapters to load."""
        folder = Path(self.lora_dir) if self.lora_dir else default_lora_dir()
        return {kind: lora_file(folder, kind) for kind in self.adapters}

    def resolved_device(self) -> str:
        """The device, checked (:func:`check_device`); default cuda when present."""
        return check_device(self.device)

    def torch_dtype(self):
        import torch

        name = self.dtype or ("bf16" if self.resolved_device().startswith("cuda") else "fp32")
        return {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[name]

    def check(self) -> dict:
        """Everything :meth:`GenRefocusPipeline.from_options` needs, checked without loading a model:
        the device, the prompt cache, every LoRA file (safetensors, known keys, finite values — and with
        ``independent_conditions`` its metadata), the sources of FLUX and of the helper models (no surprise
        download). Returns ``{"loras": {kind: path}, "sources": {name: from_pretrained keywords}}``."""
        from ..hub import weights_source
        from ..models.lora import precheck_lora_file

        self.resolved_device()
        if self.prompt_cache is not None:
            from ..models.tasks import load_prompt_cache

            load_prompt_cache(self.prompt_cache)
        loras = self.lora_paths()
        for kind, path in loras.items():
            if kind == "shape" and not path.is_file():
                raise MissingWeightsError(f"an aperture shape needs a shape LoRA, which Genfocus does not release: "
                                          f"train one (training/configs/shape.yaml) and put it at {path}")
            meta = precheck_lora_file(path, kind)["metadata"]
            if self.independent_conditions and str(meta.get("independent_conditions", "")).lower() != "true":
                raise InputError("independent_conditions", f"{str(path)!r} was not trained with independent "
                                 "conditions (no independent_conditions=true in its metadata): the condition KV "
                                 "cache (--fast) would change its results; drop --fast for official LoRAs")
        sources = {"model": weights_source(self.model, "--model", self.allow_download, marker="model_index.json")}
        for name in ("depth_model", "sam_model", "text_model"):
            if getattr(self, name):
                sources[name] = weights_source(getattr(self, name), f"--{name.replace('_', '-')}", self.allow_download)
        return {"loras": loras, "sources": sources}

    def replace(self, **changes) -> "GenerativeLoadOptions":
        return dataclasses.replace(self, **changes)


__all__ = ["ADAPTER_KINDS", "GenerativeLoadOptions", "check_device", "SamplerOptions", "default_lora_dir", "lora_file",
           "resolve_options"]


TASKS = ("deblur", "bokeh", "refocus")


@dataclass(frozen=True)
class GenerativeRequest:
    """One generative run as a command describes it: the ``task`` (``deblur``, ``bokeh``, ``refocus``) and
    its inputs — focus (:class:`~genrefocus.optics.focus.Focus`), K, aperture, metric ``depth``, a
    ``pre_deblurred`` image —, the sampling (``steps``, ``long_side``, ``seed``, ``compat`` and the
    :class:`SamplerOptions` fields ``attention``, ``tile_batch``, ``tiling``, ``independent_conditions`` over
    the default or the official behaviour). :meth:`check` tests it
    against the photos before any model loads; :meth:`adapters` says which LoRA files it needs;
    :meth:`run` calls the pipeline."""

    task: str = "refocus"
    focus: object = None
    K: float = 20.0
    aperture: Optional[str] = None
    depth: object = None
    pre_deblurred: object = None
    steps: int = 28
    long_side: Optional[int] = None
    seed: Optional[int] = None
    compat: bool = False
    attention: Optional[str] = None
    tile_batch: Optional[int] = None
    tiling: Optional[bool] = None
    independent_conditions: bool = False

    def check(self, sizes, depth_model: Optional[str] = None) -> "GenerativeRequest":
        """Raise :class:`InputError` for anything that cannot run on photos of ``sizes`` ``[(H, W), …]``."""
        from ..optics.apertures import parse_aperture
        from ..optics.defocus import validate_k
        from .frame import ImageFrame

        if self.task not in TASKS:
            raise InputError("task", f"{self.task!r}; use one of {', '.join(TASKS)}")
        if isinstance(self.steps, bool) or not isinstance(self.steps, int) or self.steps < 1:
            raise InputError("--steps", f"must be an integer ≥ 1, got {self.steps!r}")
        for h, w in sizes if self.long_side else ():
            ImageFrame.plan(h, w, self.long_side)
        if self.compat and self.seed is not None:
            raise InputError("--seed", "--compat draws with the official seeds (42 and 1234); drop --seed or --compat")
        self.sampler_options()
        if self.task != "deblur":
            K = validate_k(self.K)
            if self.aperture is not None:
                parse_aperture(self.aperture)
            if self.depth is None and not depth_model and K > 0:
                raise InputError("--depth", "no depth source: give --depth (metres, .npy/.pfm) or --depth-model "
                                            "(a Depth Pro or Depth Anything folder)")
            if self.depth is not None and getattr(self.focus, "kind", None) == "disparity":
                from ..optics.defocus import depth_to_disparity

                self.focus.focus_disparity(depth_to_disparity(self.depth), name="--focus")  # its range, now
        return self

    def adapters(self) -> tuple:
        """The LoRA kinds the task needs (the pre-deblur variant when a pre-deblurred image is given; the
        shape adapter with an aperture)."""
        deblur = "pre_deblur" if self.pre_deblurred is not None else "deblur"
        kinds = {"deblur": [deblur], "bokeh": ["bokeh"], "refocus": [deblur, "bokeh"]}[self.task]
        return tuple(kinds + (["shape"] if self.task != "deblur" and self.aperture else []))

    def sampler_options(self, tile_split: Optional[ProcessSplit] = None) -> SamplerOptions:
        """The official behaviour (``compat``) or ours, with the fields this request sets over it."""
        given = dict(attention=self.attention, tile_batch=self.tile_batch, tiling=self.tiling, tile_split=tile_split,
                     independent_conditions=self.independent_conditions or None)
        given = {k: v for k, v in given.items() if v is not None}
        return SamplerOptions.compat(**given) if self.compat else SamplerOptions(**given)

    def run(self, pipe, image, device: str = "cpu", tile_split: Optional[ProcessSplit] = None):
        """The task on ``image`` with ``pipe`` (a :class:`GenRefocusPipeline`); the noise generator is seeded
        with ``seed`` (default 42), or the official seeds with ``compat``."""
        import torch

        kw = dict(num_inference_steps=self.steps, long_side=self.long_side or None,
                  options=self.sampler_options(tile_split))
        kw["generator"] = None if self.compat else torch.Generator(device=device).manual_seed(
            42 if self.seed is None else self.seed)
        if self.task != "deblur":
            kw.update(focus=self.focus, K=self.K, aperture=self.aperture, depth=self.depth)
        if self.task != "bokeh":
            kw["pre_deblurred"] = self.pre_deblurred
        return getattr(pipe, self.task)(image, **kw)


__all__ += ["GenerativeRequest"]
