"""``genrefocus`` command line: ``demo``, ``render``, ``focus-pull`` (physical), ``deblur`` / ``bokeh`` / ``refocus``
(generative), ``dp-refocus`` (dual pixel), ``app``. One vocabulary: the photo is the positional argument, ``--focus``
takes every focus form, ``--K`` is the bokeh level; the official Genfocus flag names stay accepted. A command turns
its arguments into values (scalars checked by argparse with the library's checks, files and focus before any model
loads), calls one pipeline and saves what it returns; problems are one line ``genrefocus: error: ...``, exit 2.
"""

from __future__ import annotations

import argparse
from typing import Optional, Sequence

import torch

from .app import add_app_arguments
from .data.render_batch import batch_inputs, check_batch, input_files, render_folder
from .entry import ArgumentParser, checked, run_main
from .errors import InputError, require
from .io import (IMAGE_FORMATS, check_animation_output, check_output_path, load_depth, load_disparity, load_dp_pair,
                 load_image, read_image_array, save_animation, save_image)
from .optics.apertures import parse_aperture
from .optics.defocus import DEFAULT_K, validate_k
from .optics.dp_disparity import save_disparity
from .optics.focus import SPEC_HELP, Focus
from .optics.render import check_gamma
from .parsing import DEFAULT_RENDER_MODE, RENDER_MODES, TaggedValue, float_arg, int_arg
from .pipelines.options import check_device

FLUX_ID = "black-forest-labs/FLUX.1-dev"
DEPTH_ANYTHING, OWLV2 = "depth-anything/Depth-Anything-V2-Small-hf", "google/owlv2-base-patch16-ensemble"


def _focus(given) -> Focus:
    """The :class:`Focus` of a ``--focus``-like flag (``(kind, text, flag)``), the image centre when none."""
    return Focus.center() if given is None else Focus.from_option(*given)


def _flag(given, default: str = "--focus") -> str:
    return given[2] if given else default


def _maps(args) -> dict:
    """The depth source of a physical command: ``{"depth": …}`` or ``{"disparity": …}`` (empty: estimate)."""
    if args.depth or args.disparity:
        return {"depth": load_depth(args.depth, name="--depth")} if args.depth else \
            {"disparity": load_disparity(args.disparity, png_8bit=args.png_8bit, name="--disparity")}
    return {}


def _physical(args, estimate: bool):
    """The pipeline of ``render`` / ``focus-pull`` (with ``estimate``, the depth model's source checked)."""
    from .entry import no_loading_bars
    from .pipelines.physical import PhysicalRefocusPipeline

    model = args.depth_model if estimate else None
    pipe = PhysicalRefocusPipeline(mode=args.mode, gamma=args.gamma, device=args.device, depth_model=model,
                                   allow_download=args.allow_download, refine_edges=args.refine_edges)
    pipe.check_depth_model("--depth-model", "--depth (metres) or --disparity")
    no_loading_bars()
    return pipe


# ------------------------------------------------------------------------------------- commands
def _cmd_demo(args) -> int:
    from .demo import run_demo

    print(run_demo(check_output_path(args.output, name="--output"), mode=args.mode))
    return 0


def _cmd_render(args) -> int:
    focus, aperture = _focus(args.focus), parse_aperture(args.aperture)
    files = batch_inputs(args.image)
    if files is not None:  # a folder or a pattern: one output per image, resumable
        flag = "--depth" if args.depth else "--disparity"
        out_dir, maps = check_batch(args.output, focus, args.depth or args.disparity, flag)
        counts = render_folder(_physical(args, maps is None), files, out_dir, focus=focus, K=args.K, aperture=aperture,
                               maps=maps, map_kind="depth" if args.depth else "disparity", png_8bit=args.png_8bit,
                               fmt=args.format)
        print(f"{out_dir}: {counts['ok']} rendered, {counts['failed']} failed (errors.jsonl), "
              f"{counts['done_before']} done before")
        return 1 if counts["ok"] + counts["done_before"] == 0 else 0
    check_output_path(args.output, name="--output")
    image = load_image(args.image, name="image")
    focus.check(image.shape[-2:], _flag(args.focus))
    maps = _maps(args)
    with torch.no_grad():
        out = _physical(args, not maps)(image, focus=focus, K=args.K, aperture=aperture, progress=True, **maps)
    (H, W), source = image.shape[-2:], f"estimated with {args.depth_model}" if not maps else next(iter(maps))
    print(f"{save_image(out.image, args.output)}  ({W}×{H}, mode={args.mode}, K={out.K:g}, focus disparity="
          f"{out.focus_disparity:.4g} ({out.meta['disparity_units']}), depth: {source})")
    return 0


def _cmd_focus_pull(args) -> int:
    check_animation_output(args.output, name="--output")
    image = load_image(args.image, name="image")
    start = _focus(args.focus).check(image.shape[-2:], _flag(args.focus))
    end = _focus(args.focus_end).check(image.shape[-2:], _flag(args.focus_end, "--focus-end"))
    aperture, maps = parse_aperture(args.aperture), _maps(args)
    with torch.no_grad():
        out = _physical(args, not maps).focus_pull(image, focus=start, focus_end=end, frames=args.frames, K=args.K,
                                                   K_end=args.K_end, aperture=aperture, ease=args.ease,
                                                   batch=args.batch, **maps)
    H, W = image.shape[-2:]
    print(f"{save_animation(out.frames, args.output, fps=args.fps)}  ({args.frames} frames, {W}×{H}, focus "
          f"disparity {out.focus_disparity[0]:.4g} → {out.focus_disparity[-1]:.4g}, mode={args.mode})")
    return 0


def _inputs(args) -> tuple:  # the photo or folder: the positional argument, or the official --input
    if (args.image is None) == (args.input is None):
        raise InputError("image", "give the photo (or a folder) once: as the argument or with --input")
    return input_files(args.image if args.image is not None else args.input, args.output)


def _cmd_deblur_jdrl(args) -> int:
    """``deblur --backend jdrl``: the JDRL deblurring model on the CPU, no FLUX."""
    from .models.jdrl import JDRLDeblur, check_checkpoint

    files, targets, _ = _inputs(args)
    device = args.device or "cpu"
    folder = check_checkpoint(args.checkpoint, "--checkpoint")
    model = JDRLDeblur.from_pretrained(folder, what="--checkpoint").to(device)
    for f, t in zip(files, targets):
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
    bokeh = args.command != "deblur"
    focus = _focus(args.focus) if bokeh else None
    for size in sizes if bokeh else ():
        focus.check(size, _flag(args.focus))
    request = GenerativeRequest(
        task=args.command, focus=focus, K=args.K if bokeh else DEFAULT_K, aperture=args.aperture if bokeh else None,
        depth=load_depth(args.depth, name="--depth") if bokeh and args.depth else None,
        pre_deblurred=load_image(args.pre_deblur_input, name="--pre_deblur_input")
        if args.command != "bokeh" and args.pre_deblur_input else None, steps=args.steps,
        long_side=args.long_side or None, seed=args.seed, compat=args.compat, attention=args.attention,
        tile_batch=args.tile_batch, tiling=False if args.disable_tiling else None, independent_conditions=args.fast,
    ).check(sizes, args.depth_model if bokeh else None)
    load = GenerativeLoadOptions(
        model=args.model, lora_dir=args.lora_dir, adapters=request.adapters(), deblur_layout=args.deblur_layout,
        prompt_cache=args.prompt_cache, device=args.device, dtype=args.dtype, quantize=args.quantize,
        offload=args.offload, vae_tiling=args.vae_tiling, compile=args.compile, independent_conditions=args.fast,
        depth_model=args.depth_model if bokeh and request.depth is None else None,
        sam_model=args.sam_model if bokeh and focus.kind in ("point", "box") else None,
        text_model=args.text_model if bokeh and focus.kind == "text" else None, allow_download=args.allow_download)
    checked_sources = load.check()
    # 2. the pipeline, then each photo (split across accelerate processes for a folder, else its tiles)
    from .pipelines.generative import GenRefocusPipeline

    pipe, launch = GenRefocusPipeline.from_options(load, checked_sources), ProcessSplit.from_launch()
    split = launch.world_size > 1
    mine = launch.split_items(list(zip(files, targets))) if many and split else list(zip(files, targets))
    written = [str(save_image(request.run(pipe, load_image(f, name=str(f)), load.resolved_device(),
                                          launch if split and not many else None).image, t)) for f, t in mine]
    written = launch.gather_items(written) if many and split else written
    if launch.is_main:
        print("\n".join(written))
    return 0


def _cmd_dp_refocus(args) -> int:
    from .pipelines.dual_pixel import DPOptions, DualPixelPipeline

    pairs = [p for p in (args.pair, args.input) if p is not None]
    if len(pairs) + bool(args.left or args.right) != 1 or bool(args.left) != bool(args.right):
        raise InputError("pair", "give one 2-frame file (GIF/TIFF: the argument or --input), or --left and --right")
    pair = pairs[0] if pairs else None
    for path, flag, extra in ((args.output, "--output", None), (args.aif_output, "--aif-output", None),
                              (args.disparity_output, "--disparity-output", {**IMAGE_FORMATS, ".npy": "npy"})):
        if path:
            check_output_path(path, name=flag, suffixes=extra)
    left, right = load_dp_pair(pair) if pair else load_dp_pair(args.left, args.right)
    focus = _focus(args.focus).check(left.shape[-2:], _flag(args.focus))
    models = dict(method=args.method, allow_download=args.allow_download,
                  sam_model=args.sam_model if focus.kind in ("point", "box") else None,
                  text_model=args.text_model if focus.kind == "text" else None)
    DualPixelPipeline.check_sources(args.checkpoint, **models)
    options = DPOptions(axis=args.axis, tile=args.tile, fill_disparity=not args.no_fill_disparity,
                        reuse_capture=not args.render_from_aif)
    out = DualPixelPipeline.from_pretrained(args.checkpoint, options=options, **models)(left, right, focus=focus)
    print(f"dual-pixel split: {out.meta['axis']}\n{save_image(out.image, args.output)}")
    for path, image in ((args.aif_output, out.aif), (args.disparity_output, None)):
        if path:
            print(save_image(image, path) if image is not None else save_disparity(out.disparity, path))
    return 0


def _cmd_app(args) -> int:
    from .app import AppOptions

    require("gradio", "app", "the web app")
    from .app_ui import serve

    return serve(AppOptions.from_args(args), host=args.host, port=args.port, share=args.share)


def _add_focus(p, aliases=(), required: bool = False, dest: str = "focus", flag: str = "--focus",
               help_text: str = SPEC_HELP) -> None:
    g = p.add_mutually_exclusive_group(required=required)
    g.add_argument(flag, dest=dest, action=TaggedValue, help=f"what is sharp: {help_text}")
    for alias, kind in aliases:  # the official / earlier spellings
        g.add_argument(alias, dest=dest, action=TaggedValue, tag=kind, help=argparse.SUPPRESS)


K_TYPE, DEVICE_TYPE = checked(validate_k), checked(check_device)


def _physical_options(p) -> None:
    """The options ``render`` and ``focus-pull`` share: the depth source, K, aperture, gamma, mode, device."""
    src = p.add_mutually_exclusive_group()
    src.add_argument("--depth", help="metric depth .npy/.pfm (m): K is then in px per 1/m")
    src.add_argument("--disparity", help="disparity .npy/.pfm (as given) or PNG (relative: normalised to [0, 1])")
    src.add_argument("--depth-model", default=DEPTH_ANYTHING, help="the model estimating depth when no map is given")
    p.add_argument("--allow-download", action="store_true", help="let a missing depth model download")
    p.add_argument("--png-8bit", action="store_true", help="read a 16-bit disparity PNG as 8 bit (BokehMe's read)")
    p.add_argument("--K", type=K_TYPE, default=DEFAULT_K, help="bokeh level: CoC radius (px) per unit of disparity")
    p.add_argument("--aperture", default="disk", help="disk | polygon:N[:ROT] | heart | star[:N] | PATH.png")
    p.add_argument("--gamma", type=checked(check_gamma), default=4.0, help="linearization: an exponent, or 'srgb'")
    p.add_argument("--mode", default=DEFAULT_RENDER_MODE, choices=RENDER_MODES, help="renderer")
    p.add_argument("--refine-edges", action=argparse.BooleanOptionalAction, help="snap soft depth edges to the photo")
    p.add_argument("--device", type=DEVICE_TYPE, default=None, help="cpu, cuda or cuda:N (default: the CPU)")


def _generative_options(g, name: str) -> None:
    g.add_argument("image", nargs="?", help="a photo, or a folder (split across accelerate processes)")
    g.add_argument("--input", default=None, help=argparse.SUPPRESS)
    g.add_argument("-o", "--output", required=True, help="output image, or a folder when the input is one")
    g.add_argument("--model", default=FLUX_ID, help="FLUX.1-dev folder or Hub id")
    g.add_argument("--lora-dir", default=None, help="folder of the LoRA files ($GENREFOCUS_LORA_DIR or ./weights)")
    g.add_argument("--prompt-cache", default=None, help="safetensors of cached prompt embeddings (no T5/CLIP)")
    g.add_argument("--allow-download", action="store_true", help="let missing Hub models download")
    g.add_argument("--steps", type=int_arg(1), default=28, help="sampling steps")
    g.add_argument("--long-side", "--long_side", dest="long_side", type=int, help="resize the long side (0: keep)")
    g.add_argument("--disable-tiling", "--disable_tiling", action="store_true", help="never tile")
    g.add_argument("--compat", action="store_true", help="the official Genfocus code's behaviour and seeds")
    g.add_argument("--seed", type=int, default=None, help="noise seed (default 42; not with --compat)")
    g.add_argument("--deblur-layout", choices=["one_condition", "two_conditions"], default="one_condition",
                   help="deblurNet.safetensors: the current release, or the first (before 2026-03-11)")
    g.add_argument("--device", type=DEVICE_TYPE, default=None, help="cpu, cuda or cuda:N (default: cuda when present)")
    g.add_argument("--dtype", choices=["bf16", "fp16", "fp32"], default=None, help="default: bf16 on a GPU, else fp32")
    g.add_argument("--attention", choices=["fused", "loop"], default=None, help="fused, or the official loop")
    g.add_argument("--fast", action="store_true", help="condition KV cache (LoRAs trained with independent conditions)")
    g.add_argument("--tile-batch", type=int_arg(1), default=None, help="tiles per transformer call (default 1)")
    g.add_argument("--quantize", choices=["int8", "fp8"], default=None, help="torchao weight quantization")
    g.add_argument("--offload", action="store_true", help="model CPU offload (diffusers)")
    g.add_argument("--vae-tiling", action="store_true", help="tiled VAE decode (large images)")
    g.add_argument("--compile", action="store_true", help="torch.compile the transformer blocks")
    if name != "bokeh":
        g.add_argument("--pre-deblur-input", "--pre_deblur_input", dest="pre_deblur_input", help="pre-deblurred image")
    if name == "deblur":
        g.add_argument("--backend", choices=["flux", "jdrl"], default="flux", help="DeblurNet, or JDRL on the CPU")
        g.add_argument("--checkpoint", default=None, help="JDRL model folder (--backend jdrl; default: shipped)")
        return
    _add_focus(g, (("--point", "point"), ("--box", "box"), ("--mask", "mask")))
    g.add_argument("--depth", help="metric depth .npy/.pfm (m); else --depth-model")
    g.add_argument("--K", "--k_value", dest="K", type=K_TYPE, default=DEFAULT_K, help="bokeh level: CoC px per 1/m")
    g.add_argument("--aperture", default=None, help="aperture shape (needs a shape LoRA)")
    g.add_argument("--depth-model", default=None, help="Depth Pro (metric) or Depth Anything folder or Hub id")
    _prompt_options(g)


def _prompt_options(p) -> None:
    p.add_argument("--sam-model", default=None, help="SAM folder or Hub id: turn a point or box focus into a mask")
    p.add_argument("--text-model", "--owlv2-model", dest="text_model", default=OWLV2, help="OWLv2 for a text: focus")


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog="genrefocus", description="Refocus one photo: a virtual camera.")
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="refocus scikit-image's motorcycle (no downloads) and write a PNG grid")
    d.add_argument("-o", "--output", default="genrefocus_demo.png", help="the PNG grid to write")
    d.add_argument("--mode", default=DEFAULT_RENDER_MODE, choices=RENDER_MODES, help="renderer")
    d.set_defaults(func=_cmd_demo)

    r = sub.add_parser("render", help="refocus a photo (or a folder) with the physical renderer")
    r.add_argument("image", help="a photo, a folder or a quoted glob (then -o is a folder, maps folders named alike)")
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
    fp.add_argument("--K-end", type=K_TYPE, default=None, help="K of the last frame (default: --K throughout)")
    fp.add_argument("--frames", type=int_arg(2, 1000), default=48, help="number of frames")
    fp.add_argument("--fps", type=float_arg(1, 120), default=24.0, help="frame rate")
    fp.add_argument("--ease", choices=["smooth", "linear"], default="smooth", help="focus motion: smoothstep or linear")
    fp.add_argument("--batch", type=int_arg(1, 64), default=4, help="frames rendered per batch")
    fp.add_argument("-o", "--output", required=True, help="animation file: .gif, or .mp4 (needs PyAV)")
    fp.set_defaults(func=_cmd_focus_pull)

    for name, helptext in (("deblur", "all-in-focus image with DeblurNet (FLUX.1-dev + LoRA), or JDRL on the CPU"),
                           ("bokeh", "new depth of field from an all-in-focus image with BokehNet"),
                           ("refocus", "deblur → depth → bokeh in one go (the Genfocus demo)")):
        _generative_options(g := sub.add_parser(name, help=helptext), name)
        g.set_defaults(func=_cmd_generative)

    dp = sub.add_parser("dp-refocus", help="refocus a dual-pixel capture (the shipped DPDeblurNet, or classical)")
    dp.add_argument("pair", nargs="?", help="one 2-frame file (GIF/TIFF: frames 0 and 1 are the views)")
    dp.add_argument("--input", default=None, help=argparse.SUPPRESS)
    dp.add_argument("--left", help="left view (with --right), instead of a 2-frame file")
    dp.add_argument("--right", help="right view")
    _add_focus(dp, (("--point", "point"), ("--box", "box"), ("--mask", "mask"), ("--text", "text")),
               help_text=SPEC_HELP + " (default: the image centre)")
    dp.add_argument("--checkpoint", default=None, help="a DP model folder (default: the shipped DPDeblurNet)")
    dp.add_argument("--method", choices=["learned", "classical"], default="learned", help="classical: SGBM + Wiener")
    dp.add_argument("--axis", choices=["horizontal", "vertical", "auto"], default="auto", help="the sensor's DP split")
    dp.add_argument("--tile", type=int_arg(0), default=320, help="tile side of the learned model (px; 0: whole)")
    dp.add_argument("--no-fill-disparity", action="store_true", help="keep the disparity on textureless regions")
    dp.add_argument("--render-from-aif", action="store_true", help="blur the AIF everywhere, never reuse the photo")
    _prompt_options(dp)
    dp.add_argument("--allow-download", action="store_true", help="let missing Hub models download")
    dp.add_argument("--aif-output", default=None, help="also write the all-in-focus image here")
    dp.add_argument("--disparity-output", default=None, help="also write the DP disparity: .npy (px) or an image")
    dp.add_argument("-o", "--output", required=True, help="the refocused image")
    dp.set_defaults(func=_cmd_dp_refocus)

    add_app_arguments(a := sub.add_parser("app", help="the web app (Gradio) on 127.0.0.1: click to focus, K, aperture"))
    a.set_defaults(func=_cmd_app)
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    return run_main("genrefocus", build_parser(), lambda args: args.func(args), argv)


if __name__ == "__main__":  # pragma: no cover
    import sys

    sys.exit(main())
