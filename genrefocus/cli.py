"""``genrefocus`` command line: ``demo``, ``render`` (physical renderer), ``deblur`` / ``bokeh`` /
``refocus`` (generative pipeline), ``dp-refocus`` (dual-pixel model).

Every command checks all its inputs and output paths first, then loads models and works; problems are
one line ``genrefocus: error: ...`` with exit code 2 (:func:`genrefocus.entry.run_main`).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Optional, Sequence

from .entry import ArgumentParser, run_main
from .errors import InputError, MissingWeightsError
from .parsing import DEFAULT_RENDER_MODE, RENDER_MODES, check_int, parse_floats



# ------------------------------------------------------------------------------------- shared checks
def _finite(value: Optional[float], name: str, minimum: Optional[float] = None) -> Optional[float]:
    if value is None:
        return None
    if not math.isfinite(value) or (minimum is not None and value < minimum):
        raise InputError(name, f"must be a finite number{'' if minimum is None else f' ≥ {minimum:g}'}, got {value!r}")
    return float(value)


def _check_device(device: Optional[str]) -> str:
    import torch

    if device is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        raise InputError("--device", f"{device!r} is not a device; use cpu, cuda or cuda:N") from None
    if dev.type not in ("cpu", "cuda"):
        raise InputError("--device", f"{device!r}: only cpu and cuda are supported")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError("--device", f"{device} requested but no CUDA GPU is available; use --device cpu")
    return str(dev)


def _gamma(text: str):
    from .optics.render import _check_gamma

    if text == "srgb":
        return "srgb"
    try:
        return _check_gamma(float(text))
    except ValueError:
        raise InputError("--gamma", f"must be a number in [0.1, 10] or 'srgb', got {text!r}") from None


def _point_inside(point, size, name: str) -> None:
    x, y = point
    H, W = size
    if not (0 <= x < W and 0 <= y < H):
        raise InputError(name, f"({x:g}, {y:g}) lies outside the {W}×{H} image")


def _box_inside(box, size, name: str) -> None:
    x0, y0, x1, y1 = box
    H, W = size
    if not (x1 > x0 and y1 > y0):
        raise InputError(name, f"{box} is empty; need x1 > x0 and y1 > y0")
    if x1 <= 0 or y1 <= 0 or x0 >= W or y0 >= H:
        raise InputError(name, f"{box} lies outside the {W}×{H} image")


# ------------------------------------------------------------------------------------- commands
def _cmd_demo(args) -> int:
    from .demo import run_demo
    from .io import check_output_path

    check_output_path(args.output, name="--output")
    print(run_demo(args.output, mode=args.mode))
    return 0


def _add_physical_options(p) -> None:
    """The options ``render`` and ``focus-pull`` share: the depth source, K, aperture, gamma, mode, device."""
    src = p.add_mutually_exclusive_group()
    src.add_argument("--depth", help="metric depth .npy/.pfm (m)")
    src.add_argument("--disparity", help="disparity .npy/.pfm (as given) or PNG (min–max normalized)")
    src.add_argument("--depth-model", default=None,
                     help="estimate relative disparity with this model when no --depth/--disparity is given "
                          "(folder or hub id; default depth-anything/Depth-Anything-V2-Small-hf, CPU-friendly)")
    p.add_argument("--allow-download", action="store_true",
                   help="let a missing depth model download (default: local folders and the HF cache only)")
    p.add_argument("--png-8bit", action="store_true", help="read a 16-bit disparity PNG as 8 bit (BokehMe)")
    p.add_argument("--K", type=float, default=20.0, help="bokeh level (px per unit disparity)")
    p.add_argument("--aperture", default="disk", help="disk | polygon:N[:ROT] | heart | star[:N] | PATH.png")
    p.add_argument("--gamma", default="4", help="linearization exponent or 'srgb' (default 4, BokehMe)")
    p.add_argument("--mode", default=DEFAULT_RENDER_MODE, choices=RENDER_MODES,
                   help="renderer (default %(default)s; bokehme/scatter: BokehMe-compatible, no occlusion)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: cpu)")


def _physical_setup(args) -> tuple:
    """``(K, aperture, device, pipeline)`` of a ``render`` / ``focus-pull`` command, every option checked."""
    from .optics.apertures import parse_aperture
    from .optics.defocus import validate_k
    from .pipelines.physical import PhysicalRefocusPipeline

    K = validate_k(args.K)
    aperture = parse_aperture(args.aperture)
    device = _check_device(args.device) if args.device else None
    return K, aperture, device, PhysicalRefocusPipeline(mode=args.mode, gamma=_gamma(args.gamma), device=device)


def _depth_source(args) -> tuple:
    """``(kw, estimate)``: ``kw`` holds the loaded ``depth`` or ``disparity``; with neither given,
    ``estimate(image, device)`` runs the depth model — whose weights are checked here, before any
    heavy work — and returns the relative disparity."""
    from .io import load_depth, load_disparity

    if args.depth:
        return {"depth": load_depth(args.depth)}, None
    if args.disparity:
        return {"disparity": load_disparity(args.disparity, png_8bit=args.png_8bit)}, None
    from .hub import weights_source
    from .perception import DEPTH_ANYTHING_ID

    depth_model = args.depth_model or DEPTH_ANYTHING_ID
    try:
        depth_kw = weights_source(depth_model, "--depth-model", args.allow_download)
    except MissingWeightsError as exc:
        raise MissingWeightsError(f"{exc} — or give --depth (metres) / --disparity yourself") from None

    loaded = {}

    def estimate(image, device):
        import torch

        from .entry import no_loading_bars
        from .perception import DepthAnything

        if "model" not in loaded:  # once per run
            no_loading_bars()
            loaded["model"] = DepthAnything.from_pretrained(depth_model, device=device, **depth_kw)
            print(f"relative disparity estimated with {depth_model}")
        with torch.no_grad():
            return loaded["model"].estimate(image.to(device) if device else image).disparity.cpu()

    return {}, estimate


def _cmd_render(args) -> int:
    import torch

    from .io import check_output_path, load_image, load_mask, save_image

    files = _batch_inputs(args.image)
    if files is not None:
        return _render_batch(args, files)
    # 1. every input and the output path
    check_output_path(args.output, name="--output")
    image = load_image(args.image, name="image")
    H, W = image.shape[-2:]
    K, aperture, device, pipe = _physical_setup(args)
    kw, estimate = _depth_source(args)
    if args.focus:
        kw["focus_point"] = parse_floats(args.focus, 2, "--focus")
        _point_inside(kw["focus_point"], (H, W), "--focus")
    elif args.mask:
        kw["focus_mask"] = load_mask(args.mask)
    elif args.box:
        kw["focus_box"] = parse_floats(args.box, 4, "--box")
        _box_inside(kw["focus_box"], (H, W), "--box")
    elif args.focus_disparity is not None:
        kw["focus_disparity_value"] = _finite(args.focus_disparity, "--focus-disparity")
    # 2. depth (when estimated), render
    if estimate:
        kw["disparity"] = estimate(image, device)
    if args.focus_region:
        kw["focus_disparity_value"] = _region_focus(kw, args.focus_region)
    with torch.no_grad():
        out = pipe(image, K=K, aperture=aperture, progress=True, **kw)
    path = save_image(out.image, args.output)
    print(f"{path}  ({W}×{H}, mode={args.mode}, K={out.K:g}, focus disparity={out.focus_disparity:.4g})")
    return 0


def _batch_inputs(spec: str):
    """The images of a folder or a glob pattern (sorted), or None when ``spec`` is one file."""
    import glob

    from .io import READ_SUFFIXES

    if any(ch in spec for ch in "*?["):
        files = sorted(Path(f) for f in glob.glob(spec, recursive=True) if Path(f).suffix.lower() in READ_SUFFIXES)
        if not files:
            raise InputError("image", f"the pattern {spec!r} matches no image")
        return files
    p = Path(spec)
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in READ_SUFFIXES)
        if not files:
            raise InputError("image", f"folder {spec!r} holds no images ({', '.join(READ_SUFFIXES)})")
        return files
    return None


def _region_focus(kw: dict, region: str) -> float:
    """The median disparity of the ``near`` / ``middle`` / ``far`` depth region of the map in ``kw``."""
    from .optics.defocus import depth_regions, depth_to_disparity

    disp = kw["disparity"] if "disparity" in kw else depth_to_disparity(kw["depth"])
    regions = {r.name: r for r in depth_regions(disp, 3)}
    if region not in regions:
        raise InputError("--focus-region", f"this depth map has only {len(regions)} depth levels: use "
                                           f"{' or '.join(regions)}")
    return regions[region].disparity


def _render_batch(args, files: list) -> int:
    """``render`` over a folder or glob: one output per image in the ``--output`` folder, a progress
    bar, failures logged per file in ``errors.jsonl`` (the run goes on), a resumable manifest
    ``render.jsonl`` (a re-run skips what is done) and a lock against two runs on one folder."""
    import torch

    from .data.manifest import ManifestBuilder, OutputLock
    from .data.readers import unique_ids
    from .io import READ_SUFFIXES, check_output_dir, load_depth, load_disparity, load_image, save_image

    # 1. every option and the output folder, before any work
    if Path(args.output).suffix.lower() in READ_SUFFIXES:
        raise InputError("--output", f"{args.output!r}: a folder or pattern of images renders into a folder; "
                                     "give a folder name")
    out_dir = check_output_dir(args.output, "--output")
    for opt in ("mask", "box"):
        if getattr(args, opt):
            raise InputError(f"--{opt}", "is per image; with a folder use --focus, --focus-region or --focus-disparity")
    K, aperture, device, pipe = _physical_setup(args)
    point = parse_floats(args.focus, 2, "--focus") if args.focus else None
    d_f = _finite(args.focus_disparity, "--focus-disparity") if args.focus_disparity is not None else None
    maps, estimate = None, None
    if args.depth or args.disparity:  # a folder of maps named like the images
        flag, folder = ("--depth", args.depth) if args.depth else ("--disparity", args.disparity)
        if not Path(folder).is_dir():
            raise InputError(flag, f"with a folder of images, give a folder of maps named like them, got {folder!r}")
        maps = {f.stem: f for f in sorted(Path(folder).iterdir()) if f.suffix.lower() in (".npy", ".pfm", ".png")}
    else:
        _, estimate = _depth_source(args)
    items = unique_ids([{"id": f.stem, "image": str(f)} for f in files])

    def process(item):
        image = load_image(item["image"], name="image")
        stem = Path(item["image"]).stem
        if maps is not None:
            if stem not in maps:
                raise InputError("depth", f"no map named {stem}.npy/.pfm/.png")
            kw = ({"depth": load_depth(maps[stem])} if args.depth else
                  {"disparity": load_disparity(maps[stem], png_8bit=args.png_8bit)})
        else:
            kw = {"disparity": estimate(image, device)}
        if point is not None:
            _point_inside(point, image.shape[-2:], "--focus")
            kw["focus_point"] = point
        elif d_f is not None:
            kw["focus_disparity_value"] = d_f
        elif args.focus_region:
            kw["focus_disparity_value"] = _region_focus(kw, args.focus_region)
        with torch.no_grad():
            out = pipe(image, K=K, aperture=aperture, **kw)
        path = save_image(out.image, out_dir / f"{item['id']}.{args.format}")
        return [{"id": item["id"], "image": item["image"], "output": path.name, "K": out.K,
                 "focus_disparity": out.focus_disparity}]

    # 2. render, resumably
    with OutputLock(out_dir):
        counts = ManifestBuilder(out_dir, name="render").run(items, process, desc="render")
    print(f"{out_dir}: {counts['ok']} rendered, {counts['failed']} failed (errors.jsonl), "
          f"{counts['done_before']} done before")
    return 1 if counts["ok"] + counts["done_before"] == 0 else 0


def _cmd_focus_pull(args) -> int:
    import torch

    from .io import check_animation_output, load_image, save_animation
    from .optics.defocus import validate_k

    # 1. every input and the output path
    check_animation_output(args.output, name="--output")
    image = load_image(args.image, name="image")
    H, W = image.shape[-2:]
    start = parse_floats(getattr(args, "from"), 2, "--from")
    end = parse_floats(args.to, 2, "--to")
    _point_inside(start, (H, W), "--from")
    _point_inside(end, (H, W), "--to")
    check_int("--frames", args.frames, 2, 1000)
    check_int("--batch", args.batch, 1, 64)
    fps = _finite(args.fps, "--fps")
    if not 1 <= fps <= 120:
        raise InputError("--fps", f"must be in [1, 120], got {args.fps:g}")
    K, aperture, device, pipe = _physical_setup(args)
    K_end = None if args.K_end is None else validate_k(args.K_end)
    kw, estimate = _depth_source(args)
    # 2. depth (when estimated), frames, file
    if estimate:
        kw["disparity"] = estimate(image, device)
    with torch.no_grad():
        out = pipe.focus_pull(image, start=start, end=end, frames=args.frames, K=K, K_end=K_end,
                              aperture=aperture, ease=args.ease, batch=args.batch, **kw)
    path = save_animation(out.frames, args.output, fps=fps)
    print(f"{path}  ({args.frames} frames, {W}×{H}, focus disparity {out.focus_disparity[0]:.4g} → "
          f"{out.focus_disparity[-1]:.4g}, mode={args.mode})")
    return 0


def _load_generative(args, loras, device, flux_kw, depth_kw):
    import torch

    from .entry import no_loading_bars
    from .pipelines.generative import GenRefocusPipeline

    no_loading_bars()
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[
        args.dtype or ("bf16" if device.startswith("cuda") else "fp32")]
    pipe = GenRefocusPipeline.from_pretrained(args.model, dtype=dtype, prompt_cache=args.prompt_cache,
                                              deblur_lora_layout=args.deblur_layout, **loras, **flux_kw)
    if args.quantize:
        from .models.acceleration import quantize_transformer

        quantize_transformer(pipe.transformer, args.quantize)
    if args.offload:
        pipe.enable_model_cpu_offload()
    else:
        pipe.to(device)
    if args.vae_tiling:
        pipe.vae.enable_tiling()
    if args.compile:
        from .models.acceleration import compile_blocks

        pipe.block_functions = compile_blocks()
    if getattr(args, "depth_model", None):
        from .perception import load_depth_estimator

        pipe.depth_estimator = load_depth_estimator(args.depth_model, metric=True, device=device, **depth_kw)
    return pipe


def _inputs(path: str) -> list:
    p = Path(path)
    if p.is_dir():
        from .io import READ_SUFFIXES

        files = sorted(f for f in p.iterdir() if f.suffix.lower() in READ_SUFFIXES)
        if not files:
            raise InputError("--input", f"folder {path!r} holds no images")
        return files
    return [p]


def _sampler_options(args, split):
    """One SamplerOptions for the whole run: the official behaviour with --compat, else ours;
    explicit flags override either; tiles are split across processes only for a single image."""
    from .pipelines.options import SamplerOptions

    overrides = {}
    if args.attention:
        overrides["attention"] = args.attention
    if args.disable_tiling:
        overrides["tiling"] = False
    if args.tile_batch is not None:
        overrides["tile_batch"] = args.tile_batch
    if args.fast:
        overrides["independent_conditions"] = True
    if split is not None:
        overrides["tile_split"] = split
    return SamplerOptions.compat(**overrides) if args.compat else SamplerOptions(**overrides)


def _generative_focus(args, sizes):
    """The focus of a bokeh/refocus command, checked against every input's size: an 8-bit grey mask
    (the official rule: grey > 0 is in focus), a point or a box (SAM turns them into a mask later)."""
    from .io import load_mask_u8

    if args.mask:
        return load_mask_u8(args.mask, name="--mask")
    if args.point:
        pt = parse_floats(args.point, 2, "--point")
        for size in sizes:
            _point_inside(pt, size, "--point")
        return pt
    if args.box:
        box = parse_floats(args.box, 4, "--box")
        for size in sizes:
            _box_inside(box, size, "--box")
        return box
    return None


def _cmd_deblur_jdrl(args) -> int:
    """``deblur --backend jdrl``: the JDRL deblurring model on the CPU, no FLUX."""
    import torch

    from .io import check_output_path, load_image, read_image_array, save_image
    from .models.jdrl import DEFAULT_CHECKPOINT, JDRLDeblur

    # 1. every input and output before the model loads
    files = _inputs(args.input)
    many = Path(args.input).is_dir()
    for f in files:
        read_image_array(f, name=str(f))
    targets = [Path(args.output) / f"{f.stem}.png" for f in files] if many else [Path(args.output)]
    for t in targets:
        check_output_path(t, name="--output")
    ckpt = Path(args.checkpoint) if args.checkpoint else DEFAULT_CHECKPOINT
    if not (ckpt / "config.json").is_file():
        raise MissingWeightsError(f"--checkpoint: no JDRL checkpoint at {str(ckpt)!r}: train one with "
                                  "`python training/train_jdrl.py --out runs/jdrl` and pass --checkpoint runs/jdrl")
    device = _check_device(args.device) if args.device else "cpu"
    # 2. work
    model = JDRLDeblur.from_pretrained(ckpt).to(device)
    for f, t in zip(files, targets):
        with torch.no_grad():
            print(save_image(model.deblur(load_image(f, name=str(f)).to(device)), t))
    return 0


def _cmd_generative(args) -> int:
    import torch

    if args.command == "deblur" and args.backend == "jdrl":
        return _cmd_deblur_jdrl(args)

    from .io import check_output_path, load_depth, load_image, read_image_array, save_image
    from .models.tasks import LORA_FILES
    from .optics.apertures import parse_aperture
    from .optics.defocus import validate_k
    from .pipelines.distributed import ProcessSplit
    from .pipelines.frame import ImageFrame
    from .pipelines.generative import default_lora_dir

    # 1. every input, option and output checked before any model is loaded
    pre_path = getattr(args, "pre_deblur_input", None)
    deblur_kind = "pre_deblur" if pre_path else "deblur"
    kinds = {"deblur": [deblur_kind], "bokeh": ["bokeh"], "refocus": [deblur_kind, "bokeh"]}[args.command]
    files = _inputs(args.input)
    many = Path(args.input).is_dir()
    sizes = [read_image_array(f, name=str(f)).shape[:2] for f in files]
    targets = [Path(args.output) / f"{f.stem}.png" for f in files] if many else [Path(args.output)]
    for t in targets:
        check_output_path(t, name="--output")
    if args.steps < 1:
        raise InputError("--steps", f"must be ≥ 1, got {args.steps}")
    if args.tile_batch is not None and args.tile_batch < 1:
        raise InputError("--tile-batch", f"must be ≥ 1, got {args.tile_batch}")
    if args.long_side is not None and args.long_side != 0:
        for f, (h, w) in zip(files, sizes):
            ImageFrame.plan(h, w, args.long_side)  # --long_side < 16 etc.
    if args.compat and args.seed is not None:
        raise InputError("--seed", "--compat draws with the official seeds (42 and 1234); drop --seed or --compat")
    device = _check_device(args.device)
    K = validate_k(args.k_value) if hasattr(args, "k_value") else None
    aperture = parse_aperture(args.aperture) if getattr(args, "aperture", None) else None
    if aperture is not None:
        kinds = kinds + ["shape"]
    depth = load_depth(args.depth) if getattr(args, "depth", None) else None
    if args.command != "deblur" and depth is None and not args.depth_model and (K is None or K > 0):
        raise InputError("--depth", "no depth source: give --depth (metres, .npy/.pfm) or --depth-model "
                                    "(a Depth Pro or Depth Anything folder)")
    focus = _generative_focus(args, sizes) if args.command != "deblur" else None
    pre = load_image(pre_path, name="--pre_deblur_input") if pre_path else None
    if args.prompt_cache:
        from .models.tasks import load_prompt_cache

        load_prompt_cache(args.prompt_cache)
    lora_dir = Path(args.lora_dir) if args.lora_dir else default_lora_dir()
    loras = {}
    for k in kinds:
        path = lora_dir / LORA_FILES.get(k, f"{k}_lora.safetensors")
        if not path.is_file() and k not in LORA_FILES:
            raise MissingWeightsError(f"--aperture needs a shape LoRA, which Genfocus does not release: train one "
                                      f"(training/configs/shape.yaml) and put it at {path}")
        from .models.lora import precheck_lora_file

        precheck_lora_file(path, k)
        loras[f"{k}_lora"] = path
    launch = ProcessSplit.from_launch()
    split_images = many and launch.world_size > 1
    options = _sampler_options(args, launch if launch.world_size > 1 and not many else None)
    from .hub import weights_source

    sam = None
    if isinstance(focus, tuple) and getattr(args, "sam_model", None):
        sam_kw = weights_source(args.sam_model, "--sam-model", args.allow_download)
    depth_kw = {}
    if getattr(args, "depth_model", None) and depth is None:
        depth_kw = weights_source(args.depth_model, "--depth-model", args.allow_download)
    flux_kw = weights_source(args.model, "--model", args.allow_download, marker="model_index.json")
    # 2. models
    pipe = _load_generative(args, loras, device, flux_kw, depth_kw)
    if isinstance(focus, tuple) and getattr(args, "sam_model", None):
        from .perception import SamPrompter

        sam = SamPrompter.from_pretrained(args.sam_model, **sam_kw)
    seed = 42 if args.seed is None else args.seed
    common = dict(num_inference_steps=args.steps, long_side=args.long_side or None, options=options)
    written = []
    mine = launch.split_items(list(zip(files, targets))) if split_images else list(zip(files, targets))
    for f, target in mine:
        image = load_image(f, name=str(f))
        gen = None if args.compat else torch.Generator(device=device).manual_seed(seed)
        item_focus = focus
        if sam is not None:  # a point/box turned into a SAM mask of this image
            pt, box = (focus, None) if len(focus) == 2 else (None, focus)
            item_focus = sam(image, point=pt, box=box)[0, 0].numpy()
        with torch.no_grad():
            if args.command == "deblur":
                out = pipe.deblur(image, pre, generator=gen, **common).aif
            elif args.command == "bokeh":
                out = pipe.bokeh(image, depth, focus=item_focus, K=K, aperture=aperture, generator=gen,
                                 **common).image
            else:
                out = pipe.refocus(image, focus=item_focus, K=K, depth=depth, pre_deblurred=pre, aperture=aperture,
                                   generator=gen, **common).image
        written.append(str(save_image(out, target)))
    if split_images:
        written = launch.gather_items(written)
    if launch.is_main:
        for w in written:
            print(w)
    return 0


def _cmd_dp_refocus(args) -> int:
    import numpy as np

    from .io import check_output_path, load_mask, save_image
    from .models.dp_model import load_dp_pair
    from .pipelines.dual_pixel import DPRefocusPipeline, TextBoxDetector

    # 1. inputs and outputs
    if args.left and not args.right:
        raise InputError("--right", "--left needs --right (the other dual-pixel view)")
    if args.right and not args.left:
        raise InputError("--left", "--right needs --left")
    check_output_path(args.output, name="--output")
    if args.aif_output:
        check_output_path(args.aif_output, name="--aif-output")
    if args.disparity_output:
        from .io import IMAGE_FORMATS

        check_output_path(args.disparity_output, name="--disparity-output", suffixes={**IMAGE_FORMATS, ".npy": "npy"})
    left, right = load_dp_pair(args.input) if args.input else load_dp_pair(args.left, args.right)
    H, W = left.shape[-2:]
    kw = {}
    if args.mask:
        kw["mask"] = load_mask(args.mask)[0, 0]
    elif args.point:
        kw["point"] = parse_floats(args.point, 2, "--point")
        _point_inside(kw["point"], (H, W), "--point")
    elif args.box:
        kw["box"] = parse_floats(args.box, 4, "--box")
        _box_inside(kw["box"], (H, W), "--box")
    elif args.text:
        if not args.text.strip():
            raise InputError("--text", "is empty")
        kw["text"] = args.text
    from .hub import weights_source

    sam_kw = weights_source(args.sam_model, "--sam-model", args.allow_download) if args.sam_model else None
    owl_kw = weights_source(args.owlv2_model, "--owlv2-model", args.allow_download) if args.text else None
    if args.checkpoint and not (Path(args.checkpoint) / "config.json").is_file():
        raise MissingWeightsError(f"--checkpoint: {args.checkpoint!r} is not a UiD checkpoint folder (no config.json)")
    if args.checkpoint and args.method == "classical":
        raise InputError("--checkpoint", "the classical method has no checkpoint (drop --checkpoint or --method)")
    from .pipelines.dual_pixel import DPOptions

    options = DPOptions(axis=args.axis, tile=args.tile, fill_disparity=not args.no_fill_disparity,
                        reuse_capture=not args.render_from_aif)
    # 2. models and work
    sam = None
    if args.sam_model:
        from .perception import SamPrompter

        sam = SamPrompter.from_pretrained(args.sam_model, **sam_kw)
    detector = TextBoxDetector.from_pretrained(args.owlv2_model, **owl_kw) if args.text else None
    pipe = DPRefocusPipeline.from_pretrained(args.checkpoint, sam=sam, text_detector=detector, method=args.method,
                                             options=options)
    out = pipe(left, right, **kw)
    print(f"dual-pixel split: {out.axis}")
    print(save_image(out.refocused, args.output))
    if args.aif_output:
        print(save_image(out.aif, args.aif_output))
    if args.disparity_output:
        path = Path(args.disparity_output)
        if path.suffix.lower() == ".npy":
            from .data.manifest import atomic_save_npy

            print(atomic_save_npy(path, out.disparity[0, 0].numpy().astype(np.float32)))
        else:
            from .optics.dp_disparity import disparity_to_rgb

            print(save_image(disparity_to_rgb(out.disparity), path))
    return 0


def _cmd_app(args) -> int:
    import socket

    from .app import AppOptions, launch
    from .io import check_output_dir

    # 1. every option, before the server starts
    try:
        import gradio  # noqa: F401
    except ImportError:
        raise InputError("app", "the web app needs Gradio: pip install 'genrefocus[app]'") from None
    check_int("--port", args.port, 0, 65535)
    if args.max_side != 0:
        check_int("--max-side", args.max_side, 64, 20000)
    if args.dp_checkpoint and not Path(args.dp_checkpoint).is_dir():
        raise InputError("--dp-checkpoint", f"{args.dp_checkpoint!r} is not a folder")
    out_dir = check_output_dir(args.out_dir, "--out-dir") if args.out_dir else None
    port = args.port
    if port == 0:  # a free port
        with socket.socket() as s:
            s.bind((args.host, 0))
            port = s.getsockname()[1]
    device = _check_device(args.device) if args.device else None
    options = AppOptions(depth_model=args.depth_model, allow_download=args.allow_download, max_side=args.max_side,
                         device=device, flux_model=args.model, lora_dir=Path(args.lora_dir) if args.lora_dir else None,
                         dp_checkpoint=Path(args.dp_checkpoint) if args.dp_checkpoint else None,
                         generative_depth_model=args.generative_depth_model, out_dir=out_dir)
    print(f"genrefocus app on http://{args.host}:{port}" + (" (and a public share link)" if args.share else ""),
          flush=True)
    launch(options, host=args.host, port=port, share=args.share)
    return 0


# ------------------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog="genrefocus", description="Refocus one photo: a virtual camera.")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="refocus scikit-image's motorcycle (no downloads) and write a PNG grid")
    d.add_argument("-o", "--output", default="genrefocus_demo.png")
    d.add_argument("--mode", default=DEFAULT_RENDER_MODE, choices=RENDER_MODES)
    d.set_defaults(func=_cmd_demo)

    r = sub.add_parser("render", help="physical bokeh rendering from an image and its depth/disparity")
    r.add_argument("image", help="an image, a folder of images or a glob pattern (quoted); with several, "
                                 "--output is a folder and --depth/--disparity folders of maps named like them")
    foc = r.add_mutually_exclusive_group()
    foc.add_argument("--focus", help="focus point x,y (pixels of the input image)")
    foc.add_argument("--mask", help="in-focus mask image")
    foc.add_argument("--box", help="focus box x0,y0,x1,y1 (pixels)")
    foc.add_argument("--focus-disparity", type=float, help="focus disparity value")
    foc.add_argument("--focus-region", choices=["near", "middle", "far"],
                     help="focus on the median disparity of this depth region (multi-Otsu)")
    r.add_argument("--format", choices=["png", "jpg"], default="png", help="output format in folder mode")
    _add_physical_options(r)
    r.add_argument("-o", "--output", required=True)
    r.set_defaults(func=_cmd_render)

    fp = sub.add_parser("focus-pull", help="rack-focus animation (.gif / .mp4) from one photo, physical renderer")
    fp.add_argument("image")
    _add_physical_options(fp)
    fp.add_argument("--from", required=True, help="first focus point x,y (pixels)")
    fp.add_argument("--to", required=True, help="last focus point x,y (pixels)")
    fp.add_argument("--frames", type=int, default=48)
    fp.add_argument("--fps", type=float, default=24.0)
    fp.add_argument("--K-end", type=float, default=None, help="K of the last frame (default: --K throughout)")
    fp.add_argument("--ease", choices=["smooth", "linear"], default="smooth", help="focus motion (smoothstep or linear)")
    fp.add_argument("--batch", type=int, default=4, help="frames rendered per batch")
    fp.add_argument("-o", "--output", required=True, help="animation file: .gif, or .mp4 (needs PyAV)")
    fp.set_defaults(func=_cmd_focus_pull)

    for name, helptext in (("deblur", "all-in-focus image with DeblurNet (FLUX.1-dev + LoRA)"),
                           ("bokeh", "new depth of field from an all-in-focus image with BokehNet"),
                           ("refocus", "deblur → depth → bokeh in one go")):
        g = sub.add_parser(name, help=helptext)
        g.add_argument("--input", required=True, help="an image, or a folder (split across accelerate processes)")
        g.add_argument("--output", "-o", required=True, help="output image, or a folder when --input is one")
        g.add_argument("--model", default="black-forest-labs/FLUX.1-dev", help="FLUX.1-dev folder or hub id")
        g.add_argument("--lora-dir", default=None, help="folder with the official LoRA files "
                                                         "(default $GENREFOCUS_LORA_DIR or ./weights)")
        g.add_argument("--prompt-cache", default=None, help="safetensors of cached prompt embeddings (no T5/CLIP)")
        g.add_argument("--allow-download", action="store_true",
                       help="let missing Hub models download (default: local folders and the HF cache only)")
        g.add_argument("--steps", type=int, default=28)
        g.add_argument("--long_side", type=int, default=None, help="resize the long side before processing")
        g.add_argument("--disable_tiling", action="store_true")
        g.add_argument("--compat", action="store_true",
                       help="the official Genfocus code's behaviour and seeds (SamplerOptions.compat())")
        g.add_argument("--seed", type=int, default=None, help="noise seed (default 42; not with --compat)")
        g.add_argument("--deblur-layout", choices=["one_condition", "two_conditions"], default="one_condition",
                       help="condition layout of deblurNet.safetensors: the current release (one_condition) or "
                            "the first one, before 2026-03-11 (two_conditions)")
        g.add_argument("--device", default=None)
        g.add_argument("--dtype", choices=["bf16", "fp16", "fp32"], default=None)
        g.add_argument("--attention", choices=["fused", "loop"], default=None,
                       help="fused (default) or the official per-branch loop (default with --compat)")
        g.add_argument("--fast", action="store_true", help="condition KV cache (LoRAs trained with "
                                                           "independent conditions only)")
        g.add_argument("--tile-batch", type=int, default=None, help="tiles per transformer call (default 1)")
        g.add_argument("--quantize", choices=["int8", "fp8"], default=None, help="torchao weight quantization")
        g.add_argument("--offload", action="store_true", help="model CPU offload (diffusers)")
        g.add_argument("--vae-tiling", action="store_true", help="tiled VAE decode (large images)")
        g.add_argument("--compile", action="store_true", help="torch.compile the transformer blocks")
        if name in ("deblur", "refocus"):
            g.add_argument("--pre_deblur_input", default=None, help="pre-deblurred image (pre-deblur LoRA)")
        if name == "deblur":
            g.add_argument("--backend", choices=["flux", "jdrl"], default="flux",
                           help="flux: DeblurNet on FLUX.1-dev (GPU); jdrl: the JDRL model on the CPU (no FLUX)")
            g.add_argument("--checkpoint", default=None, help="JDRL checkpoint folder (--backend jdrl)")
        if name in ("bokeh", "refocus"):
            foc = g.add_mutually_exclusive_group()
            foc.add_argument("--mask", help="in-focus mask image (8-bit grey > 0 is in focus)")
            foc.add_argument("--point", help="focus point x,y (input pixels)")
            foc.add_argument("--box", help="focus box x0,y0,x1,y1 (input pixels)")
            g.add_argument("--depth", help="metric depth .npy/.pfm (m); else Depth Pro (--depth-model)")
            g.add_argument("--k_value", type=float, default=15.0 if name == "bokeh" else 20.0,
                           help="bokeh level K (default: the official bokeh CLI's 15, the demo's 20 for refocus)")
            g.add_argument("--aperture", default=None, help="aperture shape (needs the shape LoRA)")
            g.add_argument("--depth-model", default=None,
                           help="Depth Pro (metric; apple/DepthPro-hf) or Depth Anything (relative, CPU; read with "
                                "the nearest point at 1 m) folder or hub id")
            g.add_argument("--sam-model", default=None, help="SAM folder: turn --point/--box into a mask")
        g.set_defaults(func=_cmd_generative)

    a = sub.add_parser("app", help="the web app (Gradio) on 127.0.0.1: click to focus, K, aperture, focus pull")
    a.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    a.add_argument("--port", type=int, default=7860, help="port (0: any free port)")
    a.add_argument("--share", action="store_true", help="also make a public Gradio share link")
    a.add_argument("--depth-model", default="depth-anything/Depth-Anything-V2-Small-hf",
                   help="relative depth model for photos uploaded without a map (folder or hub id)")
    a.add_argument("--allow-download", action="store_true", help="let missing Hub models download")
    a.add_argument("--max-side", type=int, default=2048, help="downscale longer photos for interactive use (0: never)")
    a.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: cpu for the physical path)")
    a.add_argument("--model", default="black-forest-labs/FLUX.1-dev", help="FLUX.1-dev folder or hub id "
                                                                             "(generative tab)")
    a.add_argument("--lora-dir", default=None, help="folder with the Genfocus LoRA files (generative tab)")
    a.add_argument("--generative-depth-model", default=None,
                   help="Depth Pro or Depth Anything folder or hub id: depth for the generative tab "
                        "(else upload metres)")
    a.add_argument("--dp-checkpoint", default=None, help="UiD checkpoint folder for dual-pixel pairs")
    a.add_argument("--out-dir", default=None, help="where results are written (default: a temporary folder)")
    a.set_defaults(func=_cmd_app)

    dp = sub.add_parser("dp-refocus", help="refocus a dual-pixel capture with the UiD model")
    src = dp.add_mutually_exclusive_group(required=True)
    src.add_argument("--input", help="one 2-frame file (GIF/TIFF: frames 0 and 1 are the DP views)")
    src.add_argument("--left", help="left view (with --right)")
    dp.add_argument("--right")
    foc = dp.add_mutually_exclusive_group(required=True)
    foc.add_argument("--mask")
    foc.add_argument("--point", help="x,y")
    foc.add_argument("--box", help="x0,y0,x1,y1")
    foc.add_argument("--text", help="a text prompt (OWLv2 box → SAM)")
    dp.add_argument("--checkpoint", default=None, help="learned DP checkpoint folder, DPDeblurNet or UiD (default: the shipped DPDeblurNet)")
    dp.add_argument("--method", choices=["learned", "classical"], default="learned",
                    help="the learned model (--checkpoint), or the classical baseline (SGBM → Wiener deconvolution → layered render)")
    dp.add_argument("--axis", choices=["horizontal", "vertical", "auto"], default="auto",
                    help="DP split: horizontal (Canon DSLR), vertical (Google Pixel) or auto (decided by SGBM)")
    dp.add_argument("--tile", type=int, default=320, help="tile side in px for the learned model (0: whole image)")
    dp.add_argument("--no-fill-disparity", action="store_true",
                    help="keep the learned disparity as it is on textureless regions (default: filled from "
                         "their textured surroundings)")
    dp.add_argument("--render-from-aif", action="store_true",
                    help="blur the all-in-focus estimate everywhere (default: the photo itself wherever the new "
                         "focus needs more blur than it has, the all-in-focus estimate only where it needs less)")
    dp.add_argument("--sam-model", default=None)
    dp.add_argument("--owlv2-model", default="google/owlv2-base-patch16-ensemble")
    dp.add_argument("--allow-download", action="store_true", help="let missing Hub models download")
    dp.add_argument("--aif-output", default=None)
    dp.add_argument("--disparity-output", default=None,
                    help="signed DP disparity: .npy (px, float32) or an image (red in front, blue behind)")
    dp.add_argument("-o", "--output", required=True)
    dp.set_defaults(func=_cmd_dp_refocus)
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    return run_main("genrefocus", build_parser(), lambda args: args.func(args), argv)


if __name__ == "__main__":  # pragma: no cover
    import sys

    sys.exit(main())
