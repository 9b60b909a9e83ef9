"""``genrefocus`` command line: ``demo``, ``render`` and ``focus-pull`` (physical renderer), ``deblur`` /
``bokeh`` / ``refocus`` (generative pipeline), ``dp-refocus`` (dual-pixel pipeline), ``app``.

One vocabulary: the photo is the positional argument, ``--focus`` takes every focus form
(:data:`~genrefocus.optics.focus.SPEC_HELP`), ``--K`` is the bokeh level, ``--aperture`` the shape; the
official Genfocus flag names (``--input``, ``--k_value``, ``--point``, ``--mask``, ``--long_side``,
``--disable_tiling``, ``--pre_deblur_input``) stay accepted. Each command turns its arguments into values,
checks them all (and the output paths) before a model loads, then calls one pipeline and saves what it
returns; problems are one line ``genrefocus: error: ...`` with exit code 2 (:func:`genrefocus.entry.run_main`).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Optional, Sequence

from .entry import ArgumentParser, run_main
from .errors import InputError, MissingWeightsError, require
from .io import (IMAGE_FORMATS, check_animation_output, check_output_path, load_depth, load_disparity, load_image,
                 load_mask_u8, read_image_array, save_image)
from .optics.defocus import DEFAULT_K, validate_k
from .parsing import DEFAULT_RENDER_MODE, RENDER_MODES, check_float, check_int, parse_floats
from .optics.focus import SPEC_HELP, Focus

FLUX_ID = "black-forest-labs/FLUX.1-dev"


# ------------------------------------------------------------------------------------- values
class _FocusArg(argparse.Action):
    """``--focus SPEC`` and its aliases (``--point x,y``, ``--box``, ``--mask``, …): stores ``(kind, text, flag)``."""

    def __init__(self, *args, kind: str = "spec", **kwargs):
        self.kind = kind
        super().__init__(*args, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, (self.kind, values, option_string))


def _focus(given, name: str = "--focus") -> Focus:
    """The :class:`Focus` of a ``_FocusArg`` value (the image centre when none was given)."""
    if given is None:
        return Focus.center()
    kind, text, flag = given
    if kind == "spec":
        return Focus.parse(text, flag)
    if kind in ("point", "box"):
        return getattr(Focus, kind)(*parse_floats(text, 2 if kind == "point" else 4, flag))
    if kind == "mask":
        return Focus.mask(load_mask_u8(text, name=flag))
    if kind == "disparity":
        return Focus.disparity(check_float(flag, parse_floats(text, 1, flag, finite=False)[0]))
    return Focus.region(text) if kind == "region" else Focus.text(text)


def _flag(given, default: str = "--focus") -> str:
    return given[2] if given else default


def _add_focus(p, aliases=(), required: bool = False, dest: str = "focus", flag: str = "--focus",
               help_text: str = SPEC_HELP) -> None:
    g = p.add_mutually_exclusive_group(required=required)
    g.add_argument(flag, dest=dest, action=_FocusArg, help=f"what is sharp: {help_text}")
    for alias, kind in aliases:  # the official / earlier spellings
        g.add_argument(alias, dest=dest, action=_FocusArg, kind=kind, help=argparse.SUPPRESS)


def _maps(args) -> dict:
    """The depth source of a physical command: ``{"depth": …}`` or ``{"disparity": …}`` (empty: estimate)."""
    if args.depth:
        return {"depth": load_depth(args.depth, name="--depth")}
    if args.disparity:
        return {"disparity": load_disparity(args.disparity, png_8bit=args.png_8bit, name="--disparity")}
    return {}


def _physical(args, estimate: bool):
    """The pipeline of ``render`` / ``focus-pull``, every option checked — with ``estimate``, the depth
    model's source too (its weights load on first use)."""
    from .pipelines.physical import PhysicalRefocusPipeline

    device = _device(args.device) if args.device else None
    pipe = PhysicalRefocusPipeline(mode=args.mode, gamma=_gamma(args.gamma), device=device,
                                   depth_model=args.depth_model if estimate else None, allow_download=args.allow_download)
    if estimate:
        from .entry import no_loading_bars

        require("transformers", "depth", "estimating depth (no --depth / --disparity given)")
        no_loading_bars()
        try:
            pipe.check_depth_model()
        except MissingWeightsError as exc:
            raise MissingWeightsError(f"{exc} — or give --depth (metres) / --disparity yourself") from None
    return pipe


def _gamma(text: str):
    from .optics.render import check_gamma

    try:
        return check_gamma(text if text == "srgb" else float(text))
    except (ValueError, InputError):
        raise InputError("--gamma", f"must be a number in [0.1, 10] or 'srgb', got {text!r}") from None


def _device(device: Optional[str]) -> str:
    from .pipelines.options import GenerativeLoadOptions

    try:
        return GenerativeLoadOptions(device=device).resolved_device()
    except InputError as exc:
        raise InputError("--device", exc.problem) from None


# ------------------------------------------------------------------------------------- commands
def _cmd_demo(args) -> int:
    from .demo import run_demo

    check_output_path(args.output, name="--output")
    print(run_demo(args.output, mode=args.mode))
    return 0


def _cmd_render(args) -> int:
    import torch

    from .data.render_batch import batch_inputs, check_batch, render_folder

    focus, K = _focus(args.focus), validate_k(args.K)
    from .optics.apertures import parse_aperture

    aperture = parse_aperture(args.aperture)
    files = batch_inputs(args.image)
    if files is not None:  # a folder or a pattern: one output per image, resumable
        flag = "--depth" if args.depth else "--disparity"
        out_dir, maps = check_batch(args.output, focus, args.depth or args.disparity, flag)
        pipe = _physical(args, estimate=maps is None)
        counts = render_folder(pipe, files, out_dir, focus=focus, K=K, aperture=aperture, maps=maps,
                               map_kind="depth" if args.depth else "disparity", png_8bit=args.png_8bit, fmt=args.format)
        print(f"{out_dir}: {counts['ok']} rendered, {counts['failed']} failed (errors.jsonl), "
              f"{counts['done_before']} done before")
        return 1 if counts["ok"] + counts["done_before"] == 0 else 0
    check_output_path(args.output, name="--output")
    image = load_image(args.image, name="image")
    focus.check(image.shape[-2:], _flag(args.focus))
    maps = _maps(args)
    pipe = _physical(args, estimate=not maps)
    with torch.no_grad():
        out = pipe(image, focus=focus, K=K, aperture=aperture, progress=True, **maps)
    H, W = image.shape[-2:]
    source = f"estimated with {args.depth_model}" if not maps else ("--depth" if args.depth else "--disparity")
    print(f"{save_image(out.image, args.output)}  ({W}×{H}, mode={args.mode}, K={out.K:g}, "
          f"focus disparity={out.focus_disparity:.4g} ({out.meta['disparity_units']}), depth: {source})")
    return 0


def _cmd_focus_pull(args) -> int:
    import torch

    from .io import save_animation
    from .optics.apertures import parse_aperture

    check_animation_output(args.output, name="--output")
    image = load_image(args.image, name="image")
    start, end = _focus(args.focus), _focus(args.focus_end, "--focus-end")
    start.check(image.shape[-2:], _flag(args.focus))
    end.check(image.shape[-2:], _flag(args.focus_end, "--focus-end"))
    check_int("--frames", args.frames, 2, 1000)
    check_int("--batch", args.batch, 1, 64)
    fps = check_float("--fps", args.fps, 1, 120)
    K = validate_k(args.K)
    K_end = K if args.K_end is None else validate_k(args.K_end)
    aperture = parse_aperture(args.aperture)
    maps = _maps(args)
    pipe = _physical(args, estimate=not maps)
    with torch.no_grad():
        out = pipe.focus_pull(image, focus=start, focus_end=end, frames=args.frames, K=K, K_end=K_end,
                              aperture=aperture, ease=args.ease, batch=args.batch, **maps)
    H, W = image.shape[-2:]
    print(f"{save_animation(out.frames, args.output, fps=fps)}  ({args.frames} frames, {W}×{H}, focus disparity "
          f"{out.focus_disparity[0]:.4g} → {out.focus_disparity[-1]:.4g}, mode={args.mode})")
    return 0


def _inputs(args) -> tuple:
    """``(files, targets, many)`` of a generative command: the photo or a folder of photos, each read once
    (every check of the image contract), and the output file(s) checked."""
    from .data.render_batch import batch_inputs

    spec = args.image if args.image is not None else args.input
    if (args.image is None) == (args.input is None):
        raise InputError("image", "give the photo (or a folder) once: as the argument or with --input")
    files = batch_inputs(spec, "--input") or [Path(spec)]
    many = len(files) > 1 or Path(spec).is_dir()
    for f in files:
        read_image_array(f, name=str(f))
    targets = [Path(args.output) / f"{f.stem}.png" for f in files] if many else [Path(args.output)]
    for t in targets:
        check_output_path(t, name="--output")
    return files, targets, many


def _cmd_deblur_jdrl(args) -> int:
    """``deblur --backend jdrl``: the JDRL deblurring model on the CPU, no FLUX."""
    import torch

    from .models.folder import read_model_type
    from .models.jdrl import DEFAULT_CHECKPOINT, JDRLDeblur

    files, targets, _ = _inputs(args)
    try:
        kind = read_model_type(args.checkpoint or DEFAULT_CHECKPOINT, "--checkpoint")
    except MissingWeightsError as exc:
        raise MissingWeightsError(f"{exc}: train one with `python training/train.py jdrl --output-dir runs/jdrl` and "
                                  "pass --checkpoint runs/jdrl") from None
    if kind != "jdrl":
        raise InputError("--checkpoint", f"{args.checkpoint!r} holds a {kind!r} model, not a JDRL one")
    device = _device(args.device) if args.device else "cpu"
    model = JDRLDeblur.from_pretrained(Path(args.checkpoint) if args.checkpoint else DEFAULT_CHECKPOINT,
                                       what="--checkpoint").to(device)
    for f, t in zip(files, targets):
        with torch.no_grad():
            print(save_image(model.deblur(load_image(f, name=str(f)).to(device)), t))
    return 0


def _cmd_generative(args) -> int:
    from .pipelines.distributed import ProcessSplit
    from .pipelines.options import GenerativeLoadOptions, GenerativeRequest

    if args.command == "deblur" and args.backend == "jdrl":
        return _cmd_deblur_jdrl(args)
    require("diffusers", "gpu", f"genrefocus {args.command} (DeblurNet / BokehNet on FLUX.1-dev)")
    # 1. every input, option and model source, before anything loads
    files, targets, many = _inputs(args)
    sizes = [read_image_array(f).shape[:2] for f in files]
    _device(args.device)
    if args.tile_batch is not None:
        check_int("--tile-batch", args.tile_batch, 1)
    bokeh = args.command != "deblur"
    focus = _focus(args.focus) if bokeh else None
    for size in sizes if bokeh else ():
        focus.check(size, _flag(args.focus))
    sampler = {k: v for k, v in (("attention", args.attention), ("tile_batch", args.tile_batch),
                                 ("tiling", False if args.disable_tiling else None),
                                 ("independent_conditions", True if args.fast else None)) if v is not None}
    request = GenerativeRequest(
        task=args.command, focus=focus, K=args.K if bokeh else DEFAULT_K, aperture=args.aperture if bokeh else None,
        depth=load_depth(args.depth, name="--depth") if bokeh and args.depth else None,
        pre_deblurred=load_image(args.pre_deblur_input, name="--pre_deblur_input")
        if args.command != "bokeh" and args.pre_deblur_input else None,
        steps=args.steps, long_side=args.long_side or None, seed=args.seed, compat=args.compat,
        sampler=tuple(sampler.items())).check(sizes, args.depth_model if bokeh else None)
    load = GenerativeLoadOptions(
        model=args.model, lora_dir=args.lora_dir, adapters=request.adapters(), deblur_layout=args.deblur_layout,
        prompt_cache=args.prompt_cache, device=args.device, dtype=args.dtype, quantize=args.quantize,
        offload=args.offload, vae_tiling=args.vae_tiling, compile=args.compile, independent_conditions=args.fast,
        depth_model=args.depth_model if bokeh and request.depth is None else None,
        sam_model=args.sam_model if bokeh and focus.kind in ("point", "box") else None,
        text_model=args.text_model if bokeh and focus.kind == "text" else None, allow_download=args.allow_download)
    checked = load.check()
    # 2. the pipeline, then each photo (split across accelerate processes for a folder, else its tiles)
    from .pipelines.generative import GenRefocusPipeline

    pipe, launch = GenRefocusPipeline.from_options(load, checked), ProcessSplit.from_launch()
    split = launch.world_size > 1
    mine = launch.split_items(list(zip(files, targets))) if many and split else list(zip(files, targets))
    written = [str(save_image(request.run(pipe, load_image(f, name=str(f)), load.resolved_device(),
                                          launch if split and not many else None).image, t)) for f, t in mine]
    if many and split:
        written = launch.gather_items(written)
    if launch.is_main:
        print("\n".join(written))
    return 0


def _cmd_dp_refocus(args) -> int:
    import numpy as np

    from .io import load_dp_pair
    from .optics.dp_disparity import disparity_to_rgb
    from .pipelines.dual_pixel import DPOptions, DualPixelPipeline

    pair = args.pair if args.pair is not None else args.input
    if args.pair is not None and args.input is not None:
        raise InputError("pair", "give the 2-frame file once: as the argument or with --input")
    if (pair is None) == (args.left is None and args.right is None):
        raise InputError("pair", "give one 2-frame file (GIF/TIFF) or --left and --right")
    if bool(args.left) != bool(args.right):
        raise InputError("--right" if args.left else "--left", "--left and --right go together (the two views)")
    for path, flag, extra in ((args.output, "--output", None), (args.aif_output, "--aif-output", None),
                              (args.disparity_output, "--disparity-output", {**IMAGE_FORMATS, ".npy": "npy"})):
        if path:
            check_output_path(path, name=flag, suffixes=extra)
    left, right = load_dp_pair(pair) if pair else load_dp_pair(args.left, args.right)
    focus = _focus(args.focus).check(left.shape[-2:], _flag(args.focus))
    options = DPOptions(axis=args.axis, tile=check_int("--tile", args.tile, 0), fill_disparity=not args.no_fill_disparity,
                        reuse_capture=not args.render_from_aif)
    models = dict(method=args.method, allow_download=args.allow_download,
                  sam_model=args.sam_model if focus.kind in ("point", "box") else None,
                  text_model=args.text_model if focus.kind == "text" else None)
    DualPixelPipeline.check_sources(args.checkpoint, **models)
    pipe = DualPixelPipeline.from_pretrained(args.checkpoint, options=options, **models)
    out = pipe(left, right, focus=focus)
    print(f"dual-pixel split: {out.meta['axis']}")
    print(save_image(out.image, args.output))
    if args.aif_output:
        print(save_image(out.aif, args.aif_output))
    if args.disparity_output:
        if Path(args.disparity_output).suffix.lower() == ".npy":
            from .data.manifest import atomic_save_npy

            print(atomic_save_npy(Path(args.disparity_output), out.disparity[0, 0].numpy().astype(np.float32)))
        else:
            print(save_image(disparity_to_rgb(out.disparity), args.disparity_output))
    return 0


def _cmd_app(args) -> int:
    from .app import AppOptions

    require("gradio", "app", "the web app")
    from .app_ui import serve

    return serve(AppOptions.from_args(args), host=args.host, port=args.port, share=args.share)


# ------------------------------------------------------------------------------------- parser
def _physical_options(p) -> None:
    """The options ``render`` and ``focus-pull`` share: the depth source, K, aperture, gamma, mode, device."""
    src = p.add_mutually_exclusive_group()
    src.add_argument("--depth", help="metric depth .npy/.pfm (m): K is then in px per 1/m")
    src.add_argument("--disparity", help="disparity .npy/.pfm (used as given) or PNG (relative: min–max normalised, "
                                         "so K is the largest CoC between the nearest and farthest point)")
    src.add_argument("--depth-model", default="depth-anything/Depth-Anything-V2-Small-hf",
                     help="estimate a relative disparity with this model when no map is given (folder or Hub id)")
    p.add_argument("--allow-download", action="store_true", help="let a missing depth model download")
    p.add_argument("--png-8bit", action="store_true", help="read a 16-bit disparity PNG as 8 bit (BokehMe's read)")
    p.add_argument("--K", type=float, default=DEFAULT_K, help="bokeh level: CoC radius (px) per unit of disparity")
    p.add_argument("--aperture", default="disk", help="disk | polygon:N[:ROT] | heart | star[:N] | PATH.png")
    p.add_argument("--gamma", default="4", help="linearization exponent or 'srgb' (4: BokehMe's)")
    p.add_argument("--mode", default=DEFAULT_RENDER_MODE, choices=RENDER_MODES,
                   help="renderer (bokehme/scatter: BokehMe-compatible, no occlusion)")
    p.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: the CPU)")


_OFFICIAL_FOCUS = (("--point", "point"), ("--box", "box"), ("--mask", "mask"))


def _generative_options(g, name: str) -> None:
    g.add_argument("image", nargs="?", help="a photo, or a folder (split across accelerate processes)")
    g.add_argument("--input", default=None, help=argparse.SUPPRESS)
    g.add_argument("-o", "--output", required=True, help="output image, or a folder when the input is one")
    g.add_argument("--model", default=FLUX_ID, help="FLUX.1-dev folder or Hub id")
    g.add_argument("--lora-dir", default=None, help="folder of the Genfocus LoRA files ($GENREFOCUS_LORA_DIR or ./weights)")
    g.add_argument("--prompt-cache", default=None, help="safetensors of cached prompt embeddings (no T5/CLIP)")
    g.add_argument("--allow-download", action="store_true", help="let missing Hub models download")
    g.add_argument("--steps", type=int, default=28, help="sampling steps")
    g.add_argument("--long-side", "--long_side", dest="long_side", type=int, default=None,
                   help="resize the long side first (then floor to multiples of 16 by a centre crop); 0 or unset: keep")
    g.add_argument("--disable-tiling", "--disable_tiling", dest="disable_tiling", action="store_true",
                   help="never tile (the official rule tiles from 1024 tokens)")
    g.add_argument("--compat", action="store_true", help="the official Genfocus code's behaviour and seeds")
    g.add_argument("--seed", type=int, default=None, help="noise seed (default 42; not with --compat)")
    g.add_argument("--deblur-layout", choices=["one_condition", "two_conditions"], default="one_condition",
                   help="layout of deblurNet.safetensors: the current release or the first (before 2026-03-11)")
    g.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: cuda when present)")
    g.add_argument("--dtype", choices=["bf16", "fp16", "fp32"], default=None, help="default bf16 on a GPU, fp32 on the CPU")
    g.add_argument("--attention", choices=["fused", "loop"], default=None,
                   help="fused (default) or the official per-branch loop (default with --compat)")
    g.add_argument("--fast", action="store_true", help="condition KV cache (LoRAs trained with independent conditions)")
    g.add_argument("--tile-batch", type=int, default=None, help="tiles per transformer call (default 1)")
    g.add_argument("--quantize", choices=["int8", "fp8"], default=None, help="torchao weight quantization")
    g.add_argument("--offload", action="store_true", help="model CPU offload (diffusers)")
    g.add_argument("--vae-tiling", action="store_true", help="tiled VAE decode (large images)")
    g.add_argument("--compile", action="store_true", help="torch.compile the transformer blocks")
    if name != "bokeh":
        g.add_argument("--pre-deblur-input", "--pre_deblur_input", dest="pre_deblur_input", default=None,
                       help="pre-deblurred image (the pre-deblur LoRA)")
    if name == "deblur":
        g.add_argument("--backend", choices=["flux", "jdrl"], default="flux",
                       help="flux: DeblurNet on FLUX.1-dev (GPU); jdrl: the JDRL model on the CPU (no FLUX)")
        g.add_argument("--checkpoint", default=None, help="JDRL model folder (--backend jdrl; default the shipped one)")
        return
    _add_focus(g, _OFFICIAL_FOCUS)
    g.add_argument("--depth", help="metric depth .npy/.pfm (m); else --depth-model")
    g.add_argument("--K", "--k_value", dest="K", type=float, default=DEFAULT_K,
                   help="bokeh level: CoC px per 1/m at the working size (the official bokeh CLI used 15)")
    g.add_argument("--aperture", default=None, help="aperture shape (needs a shape LoRA)")
    g.add_argument("--depth-model", default=None, help="Depth Pro (metric) or Depth Anything (relative, read with the "
                                                       "nearest point at 1 m) folder or Hub id")
    g.add_argument("--sam-model", default=None, help="SAM folder or Hub id: turn a point or box focus into a mask")
    g.add_argument("--text-model", default="google/owlv2-base-patch16-ensemble", help="OWLv2 for a text: focus")


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog="genrefocus", description="Refocus one photo: a virtual camera.")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="refocus scikit-image's motorcycle (no downloads) and write a PNG grid")
    d.add_argument("-o", "--output", default="genrefocus_demo.png", help="the PNG grid to write")
    d.add_argument("--mode", default=DEFAULT_RENDER_MODE, choices=RENDER_MODES, help="renderer")
    d.set_defaults(func=_cmd_demo)

    r = sub.add_parser("render", help="refocus a photo (or a folder) with the physical renderer")
    r.add_argument("image", help="a photo, a folder of photos or a quoted glob pattern (then -o is a folder and "
                                 "--depth/--disparity folders of maps named like the photos)")
    _add_focus(r, (("--point", "point"), ("--box", "box"), ("--mask", "mask"), ("--focus-disparity", "disparity"),
                   ("--focus-region", "region")), help_text=SPEC_HELP + " (default: the image centre)")
    _physical_options(r)
    r.add_argument("--format", choices=["png", "jpg"], default="png", help="output format with a folder of photos")
    r.add_argument("-o", "--output", required=True, help="output image (.png, .jpg, .tif, .webp) or folder")
    r.set_defaults(func=_cmd_render)

    fp = sub.add_parser("focus-pull", help="rack-focus animation (.gif / .mp4) from one photo, physical renderer")
    fp.add_argument("image", help="the photo")
    _add_focus(fp, (("--from", "spec"),), required=True, help_text="the first frame's focus: " + SPEC_HELP)
    _add_focus(fp, (("--to", "spec"),), required=True, dest="focus_end", flag="--focus-end",
               help_text="the last frame's focus (same forms)")
    _physical_options(fp)
    fp.add_argument("--K-end", type=float, default=None, help="K of the last frame (default: --K throughout)")
    fp.add_argument("--frames", type=int, default=48, help="number of frames")
    fp.add_argument("--fps", type=float, default=24.0, help="frames per second")
    fp.add_argument("--ease", choices=["smooth", "linear"], default="smooth", help="focus motion: smoothstep or linear")
    fp.add_argument("--batch", type=int, default=4, help="frames rendered per batch")
    fp.add_argument("-o", "--output", required=True, help="animation file: .gif, or .mp4 (needs PyAV)")
    fp.set_defaults(func=_cmd_focus_pull)

    for name, helptext in (("deblur", "all-in-focus image with DeblurNet (FLUX.1-dev + LoRA), or JDRL on the CPU"),
                           ("bokeh", "new depth of field from an all-in-focus image with BokehNet"),
                           ("refocus", "deblur → depth → bokeh in one go (the Genfocus demo)")):
        g = sub.add_parser(name, help=helptext)
        _generative_options(g, name)
        g.set_defaults(func=_cmd_generative)

    dp = sub.add_parser("dp-refocus", help="refocus a dual-pixel capture (DPDeblurNet, shipped; or the classical "
                                           "baseline)")
    dp.add_argument("pair", nargs="?", help="one 2-frame file (GIF/TIFF: frames 0 and 1 are the views)")
    dp.add_argument("--input", dest="input", default=None, help=argparse.SUPPRESS)
    dp.add_argument("--left", help="left view (with --right), instead of a 2-frame file")
    dp.add_argument("--right", help="right view")
    _add_focus(dp, _OFFICIAL_FOCUS + (("--text", "text"),), help_text=SPEC_HELP + " (default: the image centre)")
    dp.add_argument("--checkpoint", default=None, help="a dual-pixel model folder, DPDeblurNet or UiD "
                                                       "(default: the shipped DPDeblurNet)")
    dp.add_argument("--method", choices=["learned", "classical"], default="learned",
                    help="the learned model, or the classical baseline (SGBM → Wiener deconvolution → layered render)")
    dp.add_argument("--axis", choices=["horizontal", "vertical", "auto"], default="auto",
                    help="DP split: horizontal (Canon DSLR), vertical (Google Pixel) or auto (decided by SGBM)")
    dp.add_argument("--tile", type=int, default=320, help="tile side in px for the learned model (0: whole image)")
    dp.add_argument("--no-fill-disparity", action="store_true",
                    help="keep the learned disparity on textureless regions (default: filled from their surroundings)")
    dp.add_argument("--render-from-aif", action="store_true",
                    help="blur the all-in-focus estimate everywhere (default: the photo itself wherever the new focus "
                         "needs more blur than it has)")
    dp.add_argument("--sam-model", default=None, help="SAM folder or Hub id: turn a point or box focus into a mask")
    dp.add_argument("--text-model", "--owlv2-model", dest="text_model", default="google/owlv2-base-patch16-ensemble",
                    help="OWLv2 for a text: focus")
    dp.add_argument("--allow-download", action="store_true", help="let missing Hub models download")
    dp.add_argument("--aif-output", default=None, help="also write the all-in-focus image here")
    dp.add_argument("--disparity-output", default=None,
                    help="also write the signed DP disparity: .npy (px, float32) or an image (red in front, blue behind)")
    dp.add_argument("-o", "--output", required=True, help="the refocused image")
    dp.set_defaults(func=_cmd_dp_refocus)

    from .app import add_app_arguments

    a = sub.add_parser("app", help="the web app (Gradio) on 127.0.0.1: click to focus, K, aperture, focus pull")
    add_app_arguments(a)
    a.set_defaults(func=_cmd_app)
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    return run_main("genrefocus", build_parser(), lambda args: args.func(args), argv)


if __name__ == "__main__":  # pragma: no cover
    import sys

    sys.exit(main())
