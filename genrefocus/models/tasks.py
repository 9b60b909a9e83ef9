"""The generative tasks in one table: prompt, guidance, adapter, condition layout, seeds (docs/design.md §4.1).

Pipeline, trainer, dataset builders and benchmarks all read this module; nothing about a task is
written anywhere else. It also holds what every one of them needs around the FLUX transformer:

* :class:`Condition` and :func:`encode_condition` — a condition image → VAE sample → packed tokens
  and RoPE ids; the position delta is applied here and nowhere else;
* :func:`grid_ids` — FLUX image ids ``(0, row, col)``;
* :func:`flux_scheduler` / :func:`sampling_timesteps` — FLUX.1-dev's FlowMatchEuler configuration and
  the official schedule (``sigmas = linspace(1, 1/N, N)``, ``mu`` from the full image's token count);
* :func:`save_prompt_cache` / :func:`load_prompt_cache` — embeddings of the fixed prompts, so T5 and
  CLIP need not be loaded;
* :func:`aperture_condition` — the aperture-shape condition image of the shape task.

The layouts follow the official Genfocus code at commit 54752a1 (2026-03-11, "update inference
code"): ``deblurNet.safetensors`` takes **one** condition (the blurry image at delta (0, 0));
``deblurNet_with_pre_deblur.safetensors`` takes two (the pre-deblurred image, or a black image, at
(0, 32), then the blurry image at (0, 0)). The earlier ``deblurNet.safetensors`` release used the
two-condition layout; :data:`TASKS` keeps it as ``deblur_two_conditions`` for users who still have
that file (selected explicitly, never guessed).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from ..errors import InputError, MissingWeightsError

DEBLUR_PROMPT = "a sharp photo with everything in focus"
BOKEH_PROMPT = "an excellent photo with a large aperture"
FLUX_ID = "black-forest-labs/FLUX.1-dev"
HF_LORA_REPO = "nycu-cplab/Genfocus-Model"

#: LoRA kind → adapter name inside the transformer. The official scripts call the deblur adapters
#: "deblurring" and the bokeh one "bokeh"; names do not change results, they only have to differ
#: when several LoRAs are loaded at once.
ADAPTERS: Dict[str, str] = {"deblur": "deblurring", "pre_deblur": "deblurring_pre", "bokeh": "bokeh",
                            "shape": "aperture"}
#: LoRA kind → released file name (Hugging Face ``nycu-cplab/Genfocus-Model``).
LORA_FILES: Dict[str, str] = {"deblur": "deblurNet.safetensors", "bokeh": "bokehNet.safetensors",
                              "pre_deblur": "deblurNet_with_pre_deblur.safetensors"}


@dataclass(frozen=True)
class ConditionSpec:
    """One condition branch of a task: the ``role`` of its image, its RoPE ``delta`` (rows, cols)
    in tokens, whether the VAE input is mapped to [-1, 1] (``preprocess``; False for the defocus
    map, as the official code feeds it), the LoRA ``kind`` routed for it (None → the task's), and
    whether a missing image becomes a black one (``optional``)."""

    role: str
    delta: Tuple[int, int] = (0, 0)
    preprocess: bool = True
    kind: Optional[str] = None
    optional: bool = False


@dataclass(frozen=True)
class Task:
    """A generative task: ``prompt``, ``guidance`` scale, LoRA ``kind``, condition ``layout`` (in
    branch order), and the official scripts' seeds (``latent_seed`` for the initial noise,
    ``vae_seed`` for the VAE samples; equal seeds mean one shared stream, drawn noise first)."""

    name: str
    prompt: str
    guidance: float
    kind: str
    layout: Tuple[ConditionSpec, ...]
    latent_seed: int
    vae_seed: int
    description: str = ""

    @property
    def shared_seed_stream(self) -> bool:
        """True when the official script draws noise and VAE samples from one RNG (no generator)."""
        return self.latent_seed == self.vae_seed

    def conditions(self, images: Mapping[str, Optional[torch.Tensor]],
                   adapters: Optional[Mapping[str, str]] = None) -> list:
        """The task's :class:`Condition` list from ``{role: image (1, 3, H, W)}``.

        A missing optional image becomes black at the size of the others; a missing required one
        is an :class:`InputError`.
        """
        adapters = adapters or ADAPTERS
        given = [v for v in images.values() if v is not None]
        if not given:
            raise InputError(self.name, "no condition images given")
        out = []
        for spec in self.layout:
            img = images.get(spec.role)
            if img is None:
                if not spec.optional:
                    raise InputError(self.name, f"the {spec.role!r} condition is required")
                img = torch.zeros_like(given[0])
            out.append(Condition(img, adapters[spec.kind or self.kind], spec.delta, spec.preprocess))
        return out


_BLURRY = ConditionSpec("blurry")
_PRE = ConditionSpec("pre_deblurred", (0, 32), optional=True)
_BOKEH_LAYOUT = (ConditionSpec("aif"), ConditionSpec("defocus_map", preprocess=False))

TASKS: Dict[str, Task] = {t.name: t for t in (
    Task("deblur", DEBLUR_PROMPT, 3.5, "deblur", (_BLURRY,), 42, 42,
         "DeblurNet, current release: the blurry image at (0, 0)"),
    Task("pre_deblur", DEBLUR_PROMPT, 3.5, "pre_deblur", (_PRE, _BLURRY), 42, 42,
         "DeblurNet with pre-deblur: the pre-deblurred image (black if none) at (0, 32), then the blurry one"),
    Task("deblur_two_conditions", DEBLUR_PROMPT, 3.5, "deblur", (_PRE, _BLURRY), 42, 42,
         "the first deblurNet.safetensors release (before 2026-03-11): black / pre-deblurred at (0, 32), blurry"),
    Task("bokeh", BOKEH_PROMPT, 1.0, "bokeh", _BOKEH_LAYOUT, 1234, 42,
         "BokehNet: the AIF image, then the defocus map (fed to the VAE in [0, 1])"),
    Task("shape", BOKEH_PROMPT, 1.0, "bokeh", _BOKEH_LAYOUT + (ConditionSpec("aperture", kind="shape"),), 1234, 42,
         "BokehNet + aperture-shape adapter (ours, paper §3.3): the shape kernel as a third condition"),
)}

#: DeblurNet condition layouts a user can declare for a deblur LoRA file.
DEBLUR_LAYOUTS = {"one_condition": "deblur", "two_conditions": "deblur_two_conditions"}


def get_task(name: str) -> Task:
    """The :class:`Task` called ``name`` (one clear error otherwise)."""
    if name not in TASKS:
        raise InputError("task", f"unknown task {name!r}; use one of {', '.join(TASKS)}")
    return TASKS[name]


# ---------------------------------------------------------------------------------------- encoding
@dataclass
class Condition:
    """A condition branch: ``image`` ``(1, 3, H, W)`` in [0, 1], its LoRA ``adapter`` name, RoPE
    ``delta`` (rows, cols) in tokens, and whether the VAE input is mapped to [-1, 1]."""

    image: torch.Tensor
    adapter: str
    delta: tuple = (0, 0)
    preprocess: bool = True


def grid_ids(h_tokens: int, w_tokens: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """FLUX image ids ``(h·w, 3)``: ``(0, row, col)`` row-major."""
    r = torch.arange(h_tokens, device=device, dtype=dtype)
    c = torch.arange(w_tokens, device=device, dtype=dtype)
    rr, cc = torch.meshgrid(r, c, indexing="ij")
    return torch.stack([torch.zeros_like(rr), rr, cc], dim=-1).reshape(-1, 3)


def vae_input(image: torch.Tensor, preprocess: bool, dtype, device) -> torch.Tensor:
    """What the official code hands to ``vae.encode``: ``2x − 1`` computed in float32 and then cast
    (``preprocess``), in channels-last memory layout as diffusers' image processor returns it; the
    defocus map (``preprocess=False``) as given, contiguous. The layout only changes the order of
    float sums in the VAE's convolutions (≤ 1e-3 on a VAE sample, < 1e-6 downstream)."""
    x = image.to(device=device, dtype=torch.float32)
    if preprocess:
        x = (2.0 * x - 1.0).contiguous(memory_format=torch.channels_last)
    return x.to(dtype)


def encode_condition(vae, cond: Condition, generator: Optional[torch.Generator] = None, device=None,
                     record=None) -> tuple:
    """Condition → FLUX tokens ``(B, N, 4·C)`` and ids ``(N, 3)`` with the condition's delta.

    ``latent_dist.sample(generator)`` (the official code samples, it does not take the mean),
    ``(z − shift)·scale``, 2×2 packing. ``record(name, tensor)``, when given, receives the VAE input
    (``"vae_input"``) and the raw sample (``"vae_sample"``).
    """
    x = vae_input(cond.image, cond.preprocess, vae.dtype, device or vae.device)
    z = vae.encode(x).latent_dist.sample(generator)
    if record is not None:
        record("vae_input", x)
        record("vae_sample", z)
    z = (z - vae.config.shift_factor) * vae.config.scaling_factor
    b, c, h, w = z.shape
    tokens = z.view(b, c, h // 2, 2, w // 2, 2).permute(0, 2, 4, 1, 3, 5).reshape(b, (h // 2) * (w // 2), c * 4)
    ids = grid_ids(h // 2, w // 2, device=tokens.device, dtype=tokens.dtype)
    ids[:, 1] += cond.delta[0]
    ids[:, 2] += cond.delta[1]
    return tokens, ids


# ---------------------------------------------------------------------------------------- schedule
def flux_scheduler():
    """FLUX.1-dev's FlowMatchEuler scheduler configuration (used when a folder has none)."""
    from diffusers import FlowMatchEulerDiscreteScheduler

    return FlowMatchEulerDiscreteScheduler(use_dynamic_shifting=True, base_shift=0.5, max_shift=1.15,
                                           base_image_seq_len=256, max_image_seq_len=4096, shift=3.0)


def sampling_timesteps(scheduler, num_inference_steps: int, image_tokens: int, device=None) -> torch.Tensor:
    """Set ``scheduler`` to the official schedule and return its timesteps: ``sigmas =
    linspace(1, 1/N, N)`` shifted with ``mu`` computed from ``image_tokens`` (the full image's token
    count, also when the sampler tiles)."""
    from diffusers.pipelines.flux.pipeline_flux import calculate_shift, retrieve_timesteps

    if int(num_inference_steps) < 1:
        raise InputError("num_inference_steps", f"must be ≥ 1, got {num_inference_steps}")
    n = int(num_inference_steps)
    cfg = scheduler.config
    mu = calculate_shift(image_tokens, cfg.get("base_image_seq_len", 256), cfg.get("max_image_seq_len", 4096),
                         cfg.get("base_shift", 0.5), cfg.get("max_shift", 1.15))
    timesteps, _ = retrieve_timesteps(scheduler, n, device, sigmas=np.linspace(1.0, 1 / n, n), mu=mu)
    return timesteps


# ---------------------------------------------------------------------------------------- prompts
PromptCache = Dict[str, Tuple[torch.Tensor, torch.Tensor]]


def save_prompt_cache(path: Union[str, Path], cache: Mapping[str, Tuple[torch.Tensor, torch.Tensor]]) -> Path:
    """Write ``{prompt: (prompt_embeds (1, L, D), pooled (1, P))}`` to a safetensors file (atomic)."""
    import os
    import tempfile

    from safetensors.torch import save_file

    tensors, meta = {}, {}
    for i, (p, (e, pooled)) in enumerate(cache.items()):
        tensors[f"{i}.prompt_embeds"] = e.detach().cpu().contiguous()
        tensors[f"{i}.pooled"] = pooled.detach().cpu().contiguous()
        meta[str(i)] = p
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".safetensors", dir=path.parent)
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata=meta)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def load_prompt_cache(path: Union[str, Path]) -> PromptCache:
    """Read a file written by :func:`save_prompt_cache`; a missing or malformed file is one clear error."""
    from safetensors import safe_open

    p = Path(path)
    if not p.is_file():
        raise MissingWeightsError(f"prompt cache {str(p)!r} not found")
    try:
        with safe_open(str(p), framework="pt") as fh:
            meta = fh.metadata() or {}
            keys = set(fh.keys())
            cache = {}
            for i, prompt in meta.items():
                if f"{i}.prompt_embeds" not in keys or f"{i}.pooled" not in keys:
                    raise InputError("prompt cache", f"{str(p)!r} lacks the tensors of entry {i} ({prompt!r})")
                cache[prompt] = (fh.get_tensor(f"{i}.prompt_embeds"), fh.get_tensor(f"{i}.pooled"))
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - any parse failure is a bad file
        raise InputError("prompt cache", f"{str(p)!r} is not a prompt cache written by genrefocus ({exc})") from None
    if not cache:
        raise InputError("prompt cache", f"{str(p)!r} holds no prompt embeddings")
    for prompt, (e, pooled) in cache.items():
        if e.ndim != 3 or pooled.ndim != 2 or e.shape[0] != pooled.shape[0]:
            raise InputError("prompt cache", f"{str(p)!r}: entry {prompt!r} has shapes {tuple(e.shape)} / "
                                             f"{tuple(pooled.shape)}; expected (1, L, D) and (1, P)")
    return cache


# ---------------------------------------------------------------------------------------- shape task
def aperture_condition(aperture, size: Sequence[int]) -> torch.Tensor:
    """The aperture-shape condition image: the shape (radius = min side / 4) white on black,
    centred, ``(1, 3, H, W)`` in [0, 1]."""
    from ..optics.apertures import parse_aperture

    ap = parse_aperture(aperture)
    h, w = int(size[0]), int(size[1])
    g = ap.grid(min(h, w) / 4)
    g = g / g.max()
    img = torch.zeros(h, w)
    R = g.shape[0] // 2
    cy, cx = h // 2, w // 2
    y0, x0 = max(0, cy - R), max(0, cx - R)
    y1, x1 = min(h, cy + R + 1), min(w, cx + R + 1)
    img[y0:y1, x0:x1] = g[y0 - (cy - R):y1 - (cy - R), x0 - (cx - R):x1 - (cx - R)]
    return img[None, None].repeat(1, 3, 1, 1)


__all__ = ["ADAPTERS", "BOKEH_PROMPT", "Condition", "ConditionSpec", "DEBLUR_LAYOUTS", "DEBLUR_PROMPT", "FLUX_ID",
           "LORA_FILES", "TASKS", "Task", "aperture_condition", "encode_condition", "flux_scheduler", "get_task",
           "grid_ids", "load_prompt_cache", "sampling_timesteps", "save_prompt_cache", "vae_input"]
