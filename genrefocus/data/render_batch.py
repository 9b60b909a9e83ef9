"""The physical renderer over many photos: one output per image, a resumable manifest, a per-file error
log, a lock against two runs on one folder (the dataset builders' machinery, :mod:`.manifest`)."""

from __future__ import annotations

import glob
from pathlib import Path
from typing import Optional

import torch

from ..errors import InputError
from ..io import READ_SUFFIXES, check_output_dir, load_depth, load_disparity, load_image, save_image
from ..optics.focus import Focus
from .manifest import ManifestBuilder, OutputLock
from .readers import unique_ids

MAP_SUFFIXES = (".npy", ".pfm", ".png")


def batch_inputs(spec: str, name: str = "image") -> Optional[list]:
    """The images of a folder or a glob pattern (sorted), or None when ``spec`` is one file."""
    if any(ch in spec for ch in "*?["):
        files = sorted(Path(f) for f in glob.glob(spec, recursive=True) if Path(f).suffix.lower() in READ_SUFFIXES)
        if not files:
            raise InputError(name, f"the pattern {spec!r} matches no image")
        return files
    p = Path(spec)
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in READ_SUFFIXES)
        if not files:
            raise InputError(name, f"folder {spec!r} holds no images ({', '.join(READ_SUFFIXES)})")
        return files
    return None


def input_files(spec: str, output: str, name: str = "--input") -> tuple:
    """``(files, outputs, many)`` of a command on a photo or a folder / glob of photos: every photo read
    once (every check of the image contract), every output path checked (one file, or ``<stem>.png`` in the
    ``output`` folder)."""
    from ..io import check_output_path, read_image_array

    files = batch_inputs(spec, name) or [Path(spec)]
    many = len(files) > 1 or Path(spec).is_dir() or any(ch in spec for ch in "*?[")
    for f in files:
        read_image_array(f, name=str(f))
    outputs = [Path(output) / f"{f.stem}.png" for f in files] if many else [Path(output)]
    for t in outputs:
        check_output_path(t, name="--output")
    return files, outputs, many


def check_batch(out_dir, focus: Focus, maps_folder: Optional[str], map_flag: str) -> tuple:
    """Check a batch's options before any work: ``(output folder, {stem: map file} or None)``. The focus
    must apply to every image (a point, a region or a disparity value — not a per-image mask or box)."""
    if Path(str(out_dir)).suffix.lower() in READ_SUFFIXES:
        raise InputError("--output", f"{str(out_dir)!r}: a folder or pattern of images renders into a folder; "
                                     "give a folder name")
    out = check_output_dir(out_dir, "--output")
    if focus.kind in ("mask", "box", "text"):
        raise InputError("--focus", f"a {focus.kind} is per image; with a folder use a point, near/middle/far or d=VALUE")
    if maps_folder is None:
        return out, None
    if not Path(maps_folder).is_dir():
        raise InputError(map_flag, f"with a folder of images, give a folder of maps named like them, got {maps_folder!r}")
    return out, {f.stem: f for f in sorted(Path(maps_folder).iterdir()) if f.suffix.lower() in MAP_SUFFIXES}


def render_folder(pipe, files: list, out_dir: Path, *, focus: Focus, K: float, aperture=None,
                  maps: Optional[dict] = None, map_kind: str = "depth", png_8bit: bool = False,
                  fmt: str = "png") -> dict:
    """Render every file with ``pipe`` (a :class:`~genrefocus.pipelines.physical.PhysicalRefocusPipeline`;
    its depth model estimates the maps that ``maps`` — ``{stem: path}`` of ``map_kind`` ``depth`` or
    ``disparity`` — does not give) into ``out_dir/<id>.<fmt>``, resumably: the manifest ``render.jsonl``
    lists what is done, a re-run renders only the rest, failures go to ``errors.jsonl``. Returns the
    counts ``{"ok", "failed", "done_before"}``."""
    items = unique_ids([{"id": f.stem, "image": str(f)} for f in files])

    def process(item):
        image = load_image(item["image"], name="image")
        kw = {}
        if maps is not None:
            stem = Path(item["image"]).stem
            if stem not in maps:
                raise InputError("depth", f"no map named {stem}{'/'.join(MAP_SUFFIXES)}")
            kw = ({"depth": load_depth(maps[stem])} if map_kind == "depth" else
                  {"disparity": load_disparity(maps[stem], png_8bit=png_8bit)})
        with torch.no_grad():
            out = pipe(image, focus=focus, K=K, aperture=aperture, **kw)
        path = save_image(out.image, out_dir / f"{item['id']}.{fmt}")
        return [{"id": item["id"], "image": item["image"], "output": path.name, "K": out.K,
                 "focus_disparity": out.focus_disparity}]

    with OutputLock(out_dir):
        return ManifestBuilder(out_dir, name="render").run(items, process, desc="render")


__all__ = ["batch_inputs", "check_batch", "input_files", "render_folder"]
