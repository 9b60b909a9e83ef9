"""``genrefocus-data``: build training / evaluation sets with resumable JSONL manifests.

    genrefocus-data synthetic --source folder --input aif_photos/ --depth-dir depth/ --out data/syn
    genrefocus-data itw --input bokeh_photos/ --aif-dir aif/ --depth-dir depth/ --out data/itw
    genrefocus-data calibrate --source lfdof --input LFDOF/ --depth-dir depth/ --out data/lfdof
    genrefocus-data filter-sharp --source realbokeh --input RealBokeh_3MP/ --top 3000 --out data/sharp
    genrefocus-data pointlight --input night/ --out data/shape --apertures disk,heart,star
    genrefocus-data synthetic --input photos/ --depth-dir depth/ --out /shared/syn --distributor ray --ray-address auto

Items are processed in resumable shards (:mod:`genrefocus.data.distribute`), locally or on Ray.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from ..entry import ArgumentParser, run_main
from ..errors import InputError
from ..parsing import DEFAULT_RENDER_MODE, RENDER_MODES, parse_floats
from .distribute import DEFAULT_SHARD_SIZE, DISTRIBUTORS


def _items(args) -> list:
    from . import readers

    items = readers.read_items(args.source, args.input, args.split)
    return items[: args.limit] if args.limit else items


def _check(args) -> dict:
    """Every option of the command checked before any item is processed; returns parsed values."""
    from ..optics.apertures import parse_aperture
    from ..optics.defocus import MAX_K

    def at_least(name, value, low):
        if value is not None and value < low:
            raise InputError(f"--{name.replace('_', '-')}", f"must be ≥ {low}, got {value}")

    at_least("limit", args.limit, 1)
    at_least("workers", args.workers, 1)
    at_least("shard_size", args.shard_size, 1)
    at_least("shards", args.shards, 0)
    for name in ("variants", "top", "min_lights", "max_side"):
        at_least(name, getattr(args, name, None), {"min_lights": 0, "max_side": 16}.get(name, 1))
    parsed = {}
    if hasattr(args, "k_range"):
        lo, hi = parse_floats(args.k_range, 2, "--k-range")
        if not (0 <= lo < hi <= MAX_K):
            raise InputError("--k-range", f"need 0 ≤ K_min < K_max ≤ {MAX_K:g}, got {args.k_range!r}")
        parsed["k_range"] = (lo, hi)
    if hasattr(args, "apertures"):
        names = [a.strip() for a in args.apertures.split(",")]
        if not all(names):
            raise InputError("--apertures", f"empty name in {args.apertures!r}")
        for a in names:
            parse_aperture(a)
        parsed["apertures"] = names
    if getattr(args, "threshold", None) is not None and not (math.isfinite(args.threshold) and
                                                             -1.0 <= args.threshold <= 1.0):
        raise InputError("--threshold", f"an SSIM threshold in [-1, 1], got {args.threshold}")
    if getattr(args, "jdrl", None) and getattr(args, "flux", None):
        raise InputError("--jdrl", "give --jdrl (CPU) or --flux (DeblurNet), not both")
    if getattr(args, "jdrl", None):
        from ..models.jdrl import DEFAULT_CHECKPOINT

        args.jdrl = str(DEFAULT_CHECKPOINT) if args.jdrl == "shipped" else args.jdrl
        if not (Path(args.jdrl) / "config.json").is_file():
            raise InputError("--jdrl", f"{args.jdrl!r} is not a JDRL checkpoint folder (no config.json)")
    for name in ("depth_dir", "mask_dir", "aif_dir"):
        folder = getattr(args, name, None)
        if folder and not Path(folder).is_dir():
            raise InputError(f"--{name.replace('_', '-')}", f"{folder!r} is not a folder")
    from ..io import check_output_dir

    check_output_dir(args.out, "--out")
    return parsed


def _check_models(args) -> dict:
    """Where each requested model comes from (checked before any work; no download unless allowed)."""
    from ..hub import weights_source

    kw = {}
    for name, marker in (("depth_model", "config.json"), ("birefnet", "config.json"), ("flux", "model_index.json")):
        value = getattr(args, name, None)
        if value:
            kw[name] = weights_source(value, f"--{name.replace('_', '-')}", args.allow_download, marker=marker)
    if getattr(args, "flux", None):  # DeblurNet: the generative pipeline's own loading options, checked now
        from ..errors import require
        from ..pipelines.options import GenerativeLoadOptions

        require("diffusers", "gpu", "genrefocus-data itw --flux (DeblurNet on FLUX.1-dev)")
        load = GenerativeLoadOptions(model=args.flux, lora_dir=args.lora_dir, adapters=("deblur",),
                                     prompt_cache=args.prompt_cache, allow_download=args.allow_download)
        kw["flux"] = (load, load.check())
    return kw


def _sources(args, out: Path, models: dict):
    from .builders import Sources

    depth_estimator = segmenter = None
    if getattr(args, "depth_model", None):
        from ..perception import DepthPro

        depth_estimator = DepthPro.from_pretrained(args.depth_model, **models["depth_model"])
    if getattr(args, "birefnet", None):
        from ..perception import BiRefNetSegmenter

        segmenter = BiRefNetSegmenter.from_pretrained(args.birefnet, trust_remote_code=args.trust_remote_code)
    deblur = None
    if getattr(args, "flux", None):  # DeblurNet for photos without a given AIF image
        from ..pipelines.generative import GenRefocusPipeline

        pipe = GenRefocusPipeline.from_options(*models["flux"])
        pipe.set_progress_bar_config(disable=True)
        deblur = lambda photo: pipe.deblur(photo).image  # noqa: E731
    elif getattr(args, "jdrl", None):  # the JDRL model on the CPU, no FLUX
        from ..models.jdrl import JDRLDeblur

        deblur = JDRLDeblur.from_pretrained(args.jdrl).deblur
    return Sources(depth_dir=getattr(args, "depth_dir", None), mask_dir=getattr(args, "mask_dir", None),
                   aif_dir=getattr(args, "aif_dir", None), depth_estimator=depth_estimator, segmenter=segmenter,
                   deblur=deblur, cache_dir=out)


@dataclass(frozen=True)
class BuildSpec:
    """Everything a worker needs to build the per-item function of a command (picklable: sent to Ray
    workers, which load the models once each)."""

    command: str
    out: str
    options: dict
    parsed: dict
    models: dict


def make_process(spec: BuildSpec):
    """The per-item function of ``spec``'s command, its models loaded (once per worker)."""
    from . import builders

    args, out, parsed = argparse.Namespace(**spec.options), Path(spec.out), spec.parsed
    cmd = spec.command
    if cmd == "synthetic":
        return builders.synthetic(out, _sources(args, out, spec.models), parsed["k_range"], parsed["apertures"],
                                  args.renderer, args.variants, args.seed)
    if cmd == "itw":
        return builders.itw(out, _sources(args, out, spec.models))
    if cmd == "calibrate":
        return builders.calibrate(out, _sources(args, out, spec.models), parsed["k_range"], args.threshold,
                                  args.max_side)
    if cmd == "filter-sharp":
        return builders.sharpness_score()
    return builders.pointlight(out, parsed["apertures"], parsed["k_range"], args.min_lights, args.variants, args.seed)


def run(args) -> int:
    import functools
    import sys

    from .distribute import ShardedBuild, distributor
    from .manifest import ManifestBuilder, OutputLock, write_shards

    # 1. options, items and model sources, before any work
    parsed = _check(args)
    out = Path(args.out)
    items = _items(args)
    if not items:
        raise InputError("--input", f"no items found for source {args.source!r} in {args.input!r}")
    models = _check_models(args)
    cmd = args.command
    dist = distributor(args.distributor, args.workers, args.ray_address,
                       gpu_stage=bool(getattr(args, "flux", None) or getattr(args, "depth_model", None)))
    if args.distributor == "ray":
        from ..errors import require

        require("ray", "cluster", "--distributor ray")
    # 2. the build, one driver per output folder at a time
    with OutputLock(out):
        name = "scores" if cmd == "filter-sharp" else "manifest"
        build = ShardedBuild(out, items, args.shard_size, name=name)
        build.check_plan()
        spec = BuildSpec(cmd, str(out), {k: v for k, v in vars(args).items() if k != "func"}, parsed, models)
        counts = dist.run(build, functools.partial(make_process, spec), desc=cmd)
        records = build.merge()
        if cmd == "filter-sharp":  # keep the top N by Laplacian variance
            records = sorted(records, key=lambda r: (-r["lv"], r["id"]))[: args.top]
            ManifestBuilder(out, name="manifest").finalize(sorted(records, key=lambda r: r["id"]))
        if args.shards:
            write_shards(records, out / "shards", per_shard=args.shards)
    lost = counts.get("lost_shards", 0)
    print(f"{cmd}: {len(records)} records in {out / 'manifest.jsonl'} (new {counts['ok']}, already done "
          f"{counts['done_before']}, skipped {counts['skipped']}, failed {counts['failed']}; reasons in "
          f"{out / 'errors.jsonl'})")
    if lost:
        print(f"genrefocus-data: error: {lost} shard(s) lost with their workers; run the same command again to "
              "finish them (finished items are kept)", file=sys.stderr)
        return 1
    if not counts["ok"] and not counts["done_before"] and (counts["failed"] or counts["skipped"]):
        print(f"genrefocus-data: error: no item gave a record (failed {counts['failed']}, skipped "
              f"{counts['skipped']}); the reasons are in {out / 'errors.jsonl'}", file=sys.stderr)
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    from .readers import READERS

    p = ArgumentParser(prog="genrefocus-data", description="Build datasets with JSONL manifests.")
    sub = p.add_subparsers(dest="command", required=True)
    for name, helptext in (("synthetic", "AIF + depth → random K / focus / aperture → rendered pairs"),
                           ("itw", "real bokeh photos + EXIF → K by the thin-lens model"),
                           ("calibrate", "paired real data → K by simulator-in-the-loop SSIM search"),
                           ("filter-sharp", "rank by Laplacian variance, keep the top N"),
                           ("pointlight", "point-light-rich images through shaped apertures")):
        s = sub.add_parser(name, help=helptext)
        s.add_argument("--source", default="folder", choices=sorted(READERS))
        s.add_argument("--input", required=True, help="dataset root or image folder")
        s.add_argument("--split", default=None, help="split for dpdd / realbokeh / ebb")
        s.add_argument("--out", required=True)
        s.add_argument("--workers", type=int, default=None,
                       help="parallel workers: threads (local, default 1) or Ray actors (default: one per CPU)")
        s.add_argument("--distributor", default="local", choices=DISTRIBUTORS,
                       help="where the shards run: this process, or a Ray cluster")
        s.add_argument("--ray-address", default=None, help="Ray cluster: auto, HOST:PORT (default: a local instance)")
        s.add_argument("--shard-size", type=int, default=DEFAULT_SHARD_SIZE,
                       help="items per shard (the unit of work and of resumption; fixed by a build's first run)")
        s.add_argument("--seed", type=int, default=0)
        s.add_argument("--limit", type=int, default=None, help="first N items only")
        s.add_argument("--shards", type=int, default=0, help="also write webdataset tar shards of N samples")
        s.add_argument("--allow-download", action="store_true", help="let missing Hub models download")
        if name in ("synthetic", "itw", "calibrate"):
            s.add_argument("--depth-dir", help="metric depth <id>.npy per item")
            s.add_argument("--depth-model", help="Depth Pro folder / hub id when no depth file exists")
        if name in ("itw", "calibrate"):
            s.add_argument("--mask-dir", help="in-focus masks <id>.png (manual masks override the model)")
            s.add_argument("--birefnet", help="BiRefNet folder / hub id for in-focus masks")
            s.add_argument("--trust-remote-code", action="store_true", help="allow BiRefNet's Hub code to run")
        if name == "itw":
            s.add_argument("--aif-dir", help="all-in-focus images <id>.png (else DeblurNet with --flux, or --jdrl)")
            s.add_argument("--jdrl", nargs="?", const="shipped", default=None, metavar="FOLDER",
                           help="run the JDRL deblurring model (CPU, no FLUX) for photos without an AIF image; "
                                "no FOLDER: the checkpoint genrefocus ships")
            s.add_argument("--flux", help="FLUX.1-dev folder: run DeblurNet for photos without an AIF image")
            s.add_argument("--lora-dir", help="folder with deblurNet.safetensors")
            s.add_argument("--prompt-cache", help="cached prompt embeddings (no T5/CLIP)")
        if name in ("synthetic", "calibrate", "pointlight"):
            s.add_argument("--k-range", default={"calibrate": "0,100", "pointlight": "10,30"}.get(name, "5,40"))
        if name in ("synthetic", "pointlight"):
            s.add_argument("--apertures", default="disk" if name == "synthetic" else "disk,polygon:6,heart,star")
            s.add_argument("--variants", type=int, default=1)
        if name == "synthetic":
            s.add_argument("--renderer", default=DEFAULT_RENDER_MODE, choices=RENDER_MODES)
        if name == "calibrate":
            s.add_argument("--threshold", type=float, default=0.8)
            s.add_argument("--max-side", type=int, default=512)
        if name == "filter-sharp":
            s.add_argument("--top", type=int, required=True)
        if name == "pointlight":
            s.add_argument("--min-lights", type=int, default=20)
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    return run_main("genrefocus-data", build_parser(), run, argv)


if __name__ == "__main__":  # pragma: no cover
    import sys

    sys.exit(main())
