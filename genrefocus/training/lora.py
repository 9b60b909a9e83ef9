"""The LoRA trainer of DeblurNet / BokehNet / aperture-shape adapters (``accelerate launch training/train.py
lora --config ...``): its config (:class:`LoRATrainConfig`) and its loop.

Flow matching as FLUX: ``x_t = (1 − σ)·x0 + σ·ε``, target ``ε − x0``, MSE; ``σ = sigmoid(N(0, 1))``
(logit-normal); conditions at t = 0, guidance 1; a LoRA only on the condition branches
(``init_lora_weights="gaussian"``, alpha = r, so scaling 1 as at inference); text dropout (empty
prompt) and condition dropout (black image). Sample order, crops, dropout, σ and ε all derive from
``(seed, sample position)``, so a resumed run repeats an uninterrupted one exactly. Checkpoints hold
only the LoRA weights plus accelerate's optimizer / RNG state; the final adapter is exported in the
diffusers key format that :class:`~genrefocus.pipelines.GenRefocusPipeline` and diffusers
``load_lora_weights`` read, with metadata (task, rank, ``independent_conditions``).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from ..errors import InputError, MissingWeightsError
from ..models.branches import Branch, group_mask, multibranch_forward
from ..models.lora import routed_module_names, validate_lora_file
from ..models.tasks import ADAPTERS, TASKS, Condition, encode_condition, flux_scheduler, get_task, load_prompt_cache
from ..data.manifest_dataset import RefocusDataset, check_manifest
from ..parsing import DEFAULT_RENDER_MODE, RENDER_MODES
from .checkpoints import Checkpoints, append_log, resume_problems, truncate_log
from .config import Config, at_least, fraction, nonnegative, one_of, positive

LORA_FILE = "lora.safetensors"


@dataclass
class LoRATrainConfig(Config):
    """Every knob of :func:`train` (defaults = the paper's settings)."""

    task: str = "bokeh"                  # a task of genrefocus.models.tasks.TASKS (deblur, pre_deblur, bokeh, shape)
    model: str = "black-forest-labs/FLUX.1-dev"
    prompt_cache: Optional[str] = None   # safetensors from GenRefocusPipeline.save_prompt_cache
    output_dir: str = "runs/lora"
    rank: int = 64
    max_steps: int = 40000               # optimizer steps
    learning_rate: float = 1e-4
    optimizer: str = "adamw"             # adamw | prodigy
    weight_decay: float = 1e-2
    max_grad_norm: float = 1.0
    train_batch_size: int = 1
    gradient_accumulation_steps: int = 8
    mixed_precision: str = "bf16"        # no | fp16 | bf16
    gradient_checkpointing: bool = True
    resolution: int = 512                # random crops of this size
    text_dropout: float = 0.1
    condition_dropout: float = 0.1
    independent_conditions: bool = False  # train for the KV-cache fast mode (stored in the LoRA metadata)
    init_lora: Optional[str] = None      # start from this LoRA (e.g. synthetic → real)
    base_lora: Optional[str] = None      # shape task: frozen base bokeh LoRA
    data: dict = field(default_factory=dict)  # {"manifest": path} or {"synthetic": {...}}
    seed: int = 0
    fixed_noise: bool = False            # overfitting checks: σ, ε and dropout depend on the sample only
    checkpointing_steps: int = 1000
    checkpoints_total_limit: Optional[int] = 3
    resume_from_checkpoint: Optional[str] = None  # "latest" or a checkpoint folder
    validation_steps: int = 1000
    validation_inference_steps: int = 28
    log_every: int = 10
    allow_download: bool = False         # let a missing Hub model download (else: local folders / HF cache only)

    WHAT = "training config"
    RULES = {
        "rank": at_least(1), "max_steps": at_least(1), "learning_rate": positive(), "weight_decay": nonnegative(),
        "max_grad_norm": (lambda v: math.isfinite(v) and v >= 0, "a finite number ≥ 0 (0 = no clipping)"),
        "train_batch_size": at_least(1), "gradient_accumulation_steps": at_least(1),
        "resolution": (lambda v: v >= 16 and v % 16 == 0, "a multiple of 16, ≥ 16"),
        "text_dropout": fraction(), "condition_dropout": fraction(), "seed": at_least(0),
        "checkpointing_steps": (lambda v: v >= 0, "≥ 0 (0 = no checkpoints)"),
        "checkpoints_total_limit": (lambda v: v >= 1, "≥ 1 or null"),
        "validation_steps": (lambda v: v >= 0, "≥ 0 (0 = no validation)"),
        "validation_inference_steps": at_least(1), "log_every": at_least(1),
        "optimizer": one_of("adamw", "prodigy"), "mixed_precision": one_of("no", "fp16", "bf16"),
        "task": one_of(*TASKS),
    }
    HELP = {"task": "deblur | pre_deblur | bokeh | shape", "model": "FLUX.1-dev folder or Hub id",
            "prompt_cache": "cached prompt embeddings (no T5/CLIP)", "output_dir": "run folder",
            "independent_conditions": "train for the KV-cache fast mode (--fast at inference)",
            "resume_from_checkpoint": "'latest' or a checkpoint folder",
            "allow_download": "let a missing Hub model download"}

    def extra_problems(self) -> list:
        problems = _data_problems(self.data)
        if self.task == "shape" and not self.base_lora:
            problems.append("base_lora: the shape task trains a new adapter next to a frozen base bokeh LoRA: set it")
        return problems


def _data_problems(data: dict) -> list:
    problems = []
    if not isinstance(data, dict) or not data:
        return ["data: set data.manifest (a JSONL file) or data.synthetic, in the --config file or with "
                "--set data.manifest=..."]
    unknown = set(data) - {"manifest", "synthetic"}
    if unknown:
        problems.append(f"data: unknown keys {sorted(unknown)} (manifest, synthetic)")
    syn = data.get("synthetic")
    if syn is not None:
        if not isinstance(syn, dict):
            return problems + ["data.synthetic: expected a mapping"]
        unknown = set(syn) - {"manifest", "k_range", "apertures", "renderer"}
        if unknown:
            problems.append(f"data.synthetic: unknown keys {sorted(unknown)} (manifest, k_range, apertures, renderer)")
        manifest = syn.get("manifest")
        kr = syn.get("k_range", [5.0, 40.0])
        if not (isinstance(kr, (list, tuple)) and len(kr) == 2 and all(isinstance(v, (int, float)) and
                                                                       not isinstance(v, bool) for v in kr)
                and all(math.isfinite(v) for v in kr) and 0 <= kr[0] < kr[1]):
            problems.append(f"data.synthetic.k_range: need [K_min, K_max] with 0 ≤ K_min < K_max, got {kr!r}")
        if syn.get("renderer", DEFAULT_RENDER_MODE) not in RENDER_MODES:
            problems.append(f"data.synthetic.renderer: one of {', '.join(RENDER_MODES)}, got {syn.get('renderer')!r}")
        aps = syn.get("apertures", ["disk"])
        if not isinstance(aps, list) or not aps:
            problems.append(f"data.synthetic.apertures: a non-empty list, got {aps!r}")
        else:
            from ..optics.apertures import parse_aperture

            for a in aps:
                try:
                    parse_aperture(a)
                except InputError as exc:
                    problems.append(f"data.synthetic.apertures: {exc.problem}")
    else:
        manifest = data.get("manifest")
    if not isinstance(manifest, str) or not manifest:
        problems.append("data: a manifest path is needed (data.manifest or data.synthetic.manifest)")
    return problems


def missing_files(cfg: LoRATrainConfig) -> list:
    """The files a config names that do not exist, and every manifest record's problems (fields, files) —
    checked by :func:`train` before it loads anything (the shipped example configs name data that users
    build first)."""
    problems = []
    data = cfg.data.get("synthetic") or cfg.data
    manifest = data.get("manifest") if isinstance(data, dict) else None
    import glob

    if isinstance(manifest, str) and not (Path(manifest).is_file() or (glob.has_magic(manifest) and glob.glob(manifest))):
        problems.append(f"data manifest {manifest!r} does not exist")
    elif isinstance(manifest, str):
        problems += check_manifest(manifest, cfg.task, synthetic="synthetic" in cfg.data)
    for name in ("init_lora", "base_lora", "prompt_cache"):
        v = getattr(cfg, name)
        if isinstance(v, str) and not Path(v).is_file():
            problems.append(f"{name}: {v!r} does not exist")
    problems += resume_problems(cfg.resume_from_checkpoint)
    out = Path(cfg.output_dir)
    if out.exists() and not out.is_dir():
        problems.append(f"output_dir: {cfg.output_dir!r} is a file")
    return problems


class BranchedFlux(torch.nn.Module):
    """The transformer behind a module whose ``forward`` is the multi-branch forward (so DDP sees it)."""

    def __init__(self, transformer):
        super().__init__()
        self.transformer = transformer

    def forward(self, text: Branch, images: list, pooled: torch.Tensor, gmask: torch.Tensor):
        return multibranch_forward(self.transformer, text, images, pooled, gmask)


def lora_state_dict(transformer, adapter: str) -> dict:
    """The adapter's weights with official keys ``transformer.<module>.lora_A/B.weight``."""
    from peft.utils import get_peft_model_state_dict

    sd = get_peft_model_state_dict(transformer, adapter_name=adapter)
    return {f"transformer.{k}": v.detach().float().cpu().contiguous() for k, v in sd.items()}


def load_lora_state(transformer, state: dict, adapter: str) -> None:
    """Copy ``transformer.<module>.lora_X.weight`` tensors into adapter ``adapter``."""
    mods = dict(transformer.named_modules())
    for key, value in state.items():
        name, ab = key[len("transformer."):].rsplit(".lora_", 1)
        layer = getattr(mods[name], "lora_A" if ab.startswith("A") else "lora_B")[adapter]
        with torch.no_grad():
            layer.weight.copy_(value.to(layer.weight.dtype))


def _load_components(cfg: LoRATrainConfig, device, dtype, extra: dict):
    from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, FluxTransformer2DModel

    try:
        transformer = FluxTransformer2DModel.from_pretrained(cfg.model, subfolder="transformer", dtype=dtype,
                                                             use_safetensors=True, **extra)
        vae = AutoencoderKL.from_pretrained(cfg.model, subfolder="vae", dtype=dtype, use_safetensors=True, **extra)
    except Exception as exc:  # noqa: BLE001 - missing, truncated or pickled weights: fetch them again
        raise MissingWeightsError(f"cannot load the FLUX backbone from {cfg.model!r} ({type(exc).__name__}); "
                                  "download black-forest-labs/FLUX.1-dev (gated) and set model: to its folder") from None
    try:
        scheduler = FlowMatchEulerDiscreteScheduler.from_pretrained(cfg.model, subfolder="scheduler")
    except (OSError, ValueError):
        scheduler = flux_scheduler()
    return transformer.to(device), vae.to(device), scheduler


def _prompt_embeddings(cfg: LoRATrainConfig, prompts, device, dtype) -> dict:
    """``{prompt: (embeds, pooled)}`` from the prompt cache, or computed once with the text encoders."""
    if cfg.prompt_cache:
        cache = load_prompt_cache(cfg.prompt_cache)
    else:
        from diffusers import FluxPipeline

        try:
            from ..hub import weights_source

            extra = weights_source(cfg.model, "model", cfg.allow_download, marker="model_index.json")
            enc = FluxPipeline.from_pretrained(cfg.model, transformer=None, vae=None, use_safetensors=True,
                                               **extra).to(device)
        except MissingWeightsError:
            raise
        except Exception as exc:  # noqa: BLE001 - missing or broken text encoders
            raise MissingWeightsError(f"no prompt_cache and the text encoders of {cfg.model!r} could not be "
                                      f"loaded ({type(exc).__name__})") from None
        cache = {}
        with torch.no_grad():
            for p in prompts:
                e, pooled, _ = enc.encode_prompt(p, prompt_2=None, device=device)
                cache[p] = (e.cpu(), pooled.cpu())
        del enc
    missing = [p for p in prompts if p not in cache]
    if missing:
        raise MissingWeightsError(f"prompt cache {cfg.prompt_cache!r} lacks embeddings for {missing}")
    return {p: (e.to(device, dtype), pooled.to(device, dtype)) for p, (e, pooled) in cache.items() if p in prompts}


def _setup_lora(transformer, cfg: LoRATrainConfig) -> str:
    from peft import LoraConfig

    adapter = trained_adapter(cfg.task)
    transformer.requires_grad_(False)
    if cfg.task == "shape":  # frozen base bokeh adapter next to the new shape adapter
        validate_lora_file(cfg.base_lora, transformer, "bokeh")
        transformer.load_lora_adapter(cfg.base_lora, adapter_name=ADAPTERS["bokeh"], prefix="transformer")
    transformer.add_adapter(LoraConfig(r=cfg.rank, lora_alpha=cfg.rank, init_lora_weights="gaussian",
                                       target_modules=routed_module_names(transformer)), adapter_name=adapter)
    if cfg.init_lora:
        from safetensors.torch import load_file

        validate_lora_file(cfg.init_lora, transformer, cfg.task)
        load_lora_state(transformer, load_file(cfg.init_lora), adapter)
    names = [ADAPTERS["bokeh"], adapter] if cfg.task == "shape" else [adapter]
    transformer.set_adapters(names)
    for n, p in transformer.named_parameters():  # train only the new adapter, in fp32
        p.requires_grad = f".{adapter}." in n
        if p.requires_grad:
            p.data = p.data.float()
    return adapter


def trained_adapter(task_name: str) -> str:
    """The adapter a task's training creates: the shape adapter for ``shape`` (its base bokeh adapter
    stays frozen), else the task's own."""
    task = get_task(task_name)
    kinds = {spec.kind or task.kind for spec in task.layout}
    return ADAPTERS["shape" if "shape" in kinds else task.kind]


def _position_sample(dataset: RefocusDataset, cfg: LoRATrainConfig, position: int):
    n = len(dataset)
    epoch, k = divmod(position, n)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(cfg.seed * 100003 + epoch))
    index = int(order[k])
    rng = np.random.default_rng([cfg.seed, index if cfg.fixed_noise else position])
    return dataset.sample(index, rng), rng


def train(cfg: LoRATrainConfig, progress: bool = True) -> Optional[Path]:
    """Run training; returns the exported LoRA path on the main process (None elsewhere)."""
    from ..errors import require

    for module, extra in (("accelerate", "train"), ("diffusers", "gpu"), ("peft", "gpu")):
        require(module, extra, "the LoRA trainer")
    from accelerate import Accelerator
    from accelerate.utils import ProjectConfiguration

    problems = missing_files(cfg)
    if problems:
        raise InputError("training config", "; ".join(problems))
    from ..hub import weights_source

    model_kw = weights_source(cfg.model, "model", cfg.allow_download, marker="transformer/config.json")
    out = Path(cfg.output_dir)
    log_with = None
    try:
        import tensorboard  # noqa: F401

        log_with = "tensorboard"
    except ImportError:
        pass
    cuda = torch.cuda.is_available()
    from accelerate.utils import DistributedDataParallelKwargs

    # Some LoRA factors never reach the loss: in the last single block the condition branches' queries,
    # MLP and output projection feed only outputs that are discarded (the latent branch runs the base
    # weights). DDP must be told, or it waits for their gradients.
    ddp = DistributedDataParallelKwargs(find_unused_parameters=True)
    accelerator = Accelerator(gradient_accumulation_steps=cfg.gradient_accumulation_steps,
                              mixed_precision=cfg.mixed_precision if cuda else "no", log_with=log_with,
                              project_config=ProjectConfiguration(project_dir=str(out), logging_dir=str(out / "logs")),
                              cpu=not cuda, kwargs_handlers=[ddp])
    device = accelerator.device
    weight_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(accelerator.mixed_precision, torch.float32)
    # 1. frozen backbone, prompt embeddings, trainable LoRA (seeded: same initial adapter every run)
    from accelerate.utils import set_seed

    set_seed(cfg.seed)
    transformer, vae, scheduler = _load_components(cfg, device, weight_dtype, model_kw)
    vae.requires_grad_(False)
    task = get_task(cfg.task)
    prompt = task.prompt
    embeds = _prompt_embeddings(cfg, [prompt, ""], device, weight_dtype)
    adapter = _setup_lora(transformer, cfg)
    if cfg.gradient_checkpointing:
        transformer.enable_gradient_checkpointing()
    params = [p for p in transformer.parameters() if p.requires_grad]
    if cfg.optimizer == "prodigy":
        try:
            from prodigyopt import Prodigy
        except ImportError:
            raise InputError("optimizer", "prodigy needs `pip install prodigyopt`") from None
        optimizer = Prodigy(params, lr=1.0, weight_decay=cfg.weight_decay)
    else:
        optimizer = torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    model = BranchedFlux(transformer)
    model, optimizer = accelerator.prepare(model, optimizer)

    # 2. checkpoints hold the LoRA weights only (plus optimizer and RNG state from accelerate)
    def save_hook(models, weights, folder):
        if accelerator.is_main_process:
            from safetensors.torch import save_file

            save_file(lora_state_dict(accelerator.unwrap_model(model).transformer, adapter),
                      str(Path(folder) / LORA_FILE))
        weights.clear()

    def load_hook(models, folder):
        from safetensors.torch import load_file

        load_lora_state(accelerator.unwrap_model(model).transformer, load_file(str(Path(folder) / LORA_FILE)), adapter)
        models.clear()

    accelerator.register_save_state_pre_hook(save_hook)
    accelerator.register_load_state_pre_hook(load_hook)
    dataset = RefocusDataset(cfg.task, cfg.data, cfg.resolution)
    global_step = 0
    checkpoints = Checkpoints(out)
    if accelerator.is_main_process:
        checkpoints.remove_orphans()  # half-written by a killed run
    ck = checkpoints.resolve(cfg.resume_from_checkpoint)
    if ck is not None:
        accelerator.load_state(str(ck))
        global_step = Checkpoints.step_of(ck)
        accelerator.print(f"resumed from {ck} at step {global_step}")
    if accelerator.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
        truncate_log(out / "loss.jsonl", global_step)  # the steps after the checkpoint are redone
        (out / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2))
        if log_with:
            accelerator.init_trackers("genrefocus-lora", config={k: v for k, v in cfg.to_dict().items()
                                                                 if isinstance(v, (int, float, str, bool))})
    gmask = group_mask(len(task.layout), independent=cfg.independent_conditions)
    rank, world = accelerator.process_index, accelerator.num_processes
    bar = tqdm(total=cfg.max_steps, initial=global_step, desc=f"train {cfg.task}", disable=not progress or
               not accelerator.is_main_process)
    # 3. the loop: one optimizer step = gradient_accumulation_steps micro-batches per process
    while global_step < cfg.max_steps:
        losses = []
        for micro in range(cfg.gradient_accumulation_steps):
            base = ((global_step * cfg.gradient_accumulation_steps + micro) * world + rank) * cfg.train_batch_size
            items = [_position_sample(dataset, cfg, base + b) for b in range(cfg.train_batch_size)]
            with accelerator.accumulate(model):
                loss = _loss(model, vae, items, embeds, task, cfg, gmask, device, weight_dtype)
                accelerator.backward(loss)
                if accelerator.sync_gradients and cfg.max_grad_norm:
                    accelerator.clip_grad_norm_(params, cfg.max_grad_norm)
                optimizer.step()
                optimizer.zero_grad()
            losses.append(loss.detach())
        global_step += 1
        step_loss = accelerator.reduce(torch.stack(losses).mean(), "mean").item()
        bar.update()
        bar.set_postfix(loss=f"{step_loss:.4f}")
        if accelerator.is_main_process:
            append_log(out / "loss.jsonl", {"step": global_step, "loss": step_loss})
        if log_with:
            accelerator.log({"loss": step_loss}, step=global_step)
        if cfg.checkpointing_steps and global_step % cfg.checkpointing_steps == 0:
            checkpoints.save(global_step, lambda folder: accelerator.save_state(str(folder)),
                             cfg.checkpoints_total_limit, accelerator.is_main_process, accelerator.wait_for_everyone)
        if cfg.validation_steps and global_step % cfg.validation_steps == 0 and accelerator.is_main_process:
            _validate(accelerator.unwrap_model(model).transformer, vae, scheduler, embeds, dataset, cfg, task,
                      out / "validation" / f"step-{global_step:06d}.png")
    bar.close()
    accelerator.wait_for_everyone()
    path = None
    if accelerator.is_main_process:
        path = export_lora(accelerator.unwrap_model(model).transformer, adapter, out / f"{cfg.task}_lora.safetensors",
                           cfg, global_step)
    accelerator.end_training()
    return path


def _loss(model, vae, items, embeds, task, cfg, gmask, device, dtype) -> torch.Tensor:
    rng = items[0][1]
    gen = torch.Generator(device=vae.device).manual_seed(int(rng.integers(0, 2 ** 31)))
    with torch.no_grad():
        x0, ids = zip(*[encode_condition(vae, Condition(s["target"][None], None), gen) for s, _ in items])
        x0, ids = torch.cat(x0), ids[0]
        per_sample = []
        for s, r in items:
            conds = task.conditions({k: v[None] for k, v in s["images"].items()})
            for c in conds:
                if r.random() < cfg.condition_dropout:
                    c.image = torch.zeros_like(c.image)  # condition dropout: a black image
            per_sample.append(conds)
        conds = []
        for j, c in enumerate(per_sample[0]):
            encoded = [encode_condition(vae, sample[j], gen) for sample in per_sample]
            conds.append((torch.cat([tok for tok, _ in encoded]), encoded[0][1], c.adapter))
        texts = [embeds["" if r.random() < cfg.text_dropout else task.prompt] for _, r in items]
        e = torch.cat([t[0] for t in texts])
        pooled = torch.cat([t[1] for t in texts])
    B = x0.shape[0]
    sigma = torch.sigmoid(torch.randn(B, generator=gen, device=gen.device)).to(device)
    noise = torch.randn(x0.shape, generator=gen, device=gen.device).to(device, x0.dtype)
    s = sigma.view(B, 1, 1).to(x0.dtype)
    x_t = (1 - s) * x0 + s * noise
    target = noise - x0
    one = torch.ones(B, device=device)
    text = Branch(e, torch.zeros(e.shape[1], 3, device=device, dtype=ids.dtype), sigma.to(dtype), one)
    branches = [Branch(x_t, ids, sigma.to(dtype), one)]
    branches += [Branch(tok, cid, torch.zeros(B, device=device), one, a) for tok, cid, a in conds]
    pred = model(text, branches, pooled, gmask)
    return F.mse_loss(pred.float(), target.float())


@torch.no_grad()
def _validate(transformer, vae, scheduler, embeds, dataset, cfg, task, path: Path) -> None:
    """Sample the first training item with the current LoRA and save a PNG (condition | result | target)."""
    from ..io import save_image
    from ..pipelines.generative import GenRefocusPipeline
    from ..pipelines.options import SamplerOptions

    pipe = GenRefocusPipeline(scheduler=scheduler, vae=vae, text_encoder=None, tokenizer=None, text_encoder_2=None,
                              tokenizer_2=None, transformer=transformer)
    pipe.set_progress_bar_config(disable=True)
    pipe.cache_prompt(task.prompt, *embeds[task.prompt])
    if cfg.independent_conditions:  # the adapters being trained are independent-condition ones
        for spec in task.layout:
            pipe.lora_info[spec.kind or task.kind] = {"metadata": {"independent_conditions": "true"}}
    sample, _ = _position_sample(dataset, cfg, 0)
    conds = task.conditions({k: v[None] for k, v in sample["images"].items()})
    h, w = sample["target"].shape[-2:]
    was_training = transformer.training
    transformer.eval()
    img = pipe.generate(conds, task.prompt, h, w, guidance_scale=task.guidance,
                        num_inference_steps=cfg.validation_inference_steps,
                        generator=torch.Generator(vae.device).manual_seed(0),
                        options=SamplerOptions(tiling=False, independent_conditions=cfg.independent_conditions))
    transformer.train(was_training)
    shown = sample["images"].get("blurry", sample["images"].get("aif"))
    grid = torch.cat([shown[None].to(img.device), img, sample["target"][None].to(img.device)], dim=-1)
    save_image(grid, path)


def export_lora(transformer, adapter: str, path: Path, cfg: LoRATrainConfig, steps: int) -> Path:
    """Write the adapter in the official diffusers key format with our metadata; returns the path."""
    from safetensors.torch import save_file

    sd = lora_state_dict(transformer, adapter)
    meta = {"format": "genrefocus-lora", "task": cfg.task, "rank": str(cfg.rank), "steps": str(steps),
            "independent_conditions": "true" if cfg.independent_conditions else "false"}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{path.name}")
    save_file(sd, str(tmp), metadata=meta)
    os.replace(tmp, path)
    return path


def read_losses(output_dir) -> list:
    """The per-step losses a run logged (``loss.jsonl``)."""
    p = Path(output_dir) / "loss.jsonl"
    return [json.loads(line)["loss"] for line in p.read_text().splitlines()] if p.is_file() else []


__all__ = ["BranchedFlux", "LoRATrainConfig", "export_lora", "lora_state_dict", "missing_files", "read_losses", "train"]
