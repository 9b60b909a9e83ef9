"""Readers for the public datasets' on-disk layouts (docs/design.md §5) and plain image folders.

Each reader yields records ``{"id", "source", ...paths...}`` in a deterministic order; files are not
opened here (the builders validate them and log failures per item).

* DPDD ``dd_dp_dataset_canon/{train,val,test}_{c,l,r}/{source,target}`` — pairs by sorted order
  (:func:`dpdd_dual_pixel` joins the three views of a capture for DP training)
* RealDOF ``{source,target}`` — pairs by sorted order
* SDD (JDRL's dataset, paper 004) ``[<split>/]{blur,gt}/<name>`` — pairs by file name
* LFDOF ``input/<scene>/<k>.png`` + ``ground_truth/<scene>.png``
* RealBokeh_3MP ``{split}/in/<id>_f22.JPG``, ``gt/<id>/<id>_f<av>.JPG``, ``metadata/<id>.json``
* EBB! ``{train,test}/{original,bokeh}/<i>.jpg``
* HCI 4-D LF ``<cat>/<scene>/input_Cam000..080.png`` + ``parameters.cfg`` + disparity PFM
* a folder of images (recursive)
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Iterator, Union

from ..errors import InputError

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp"}
PathLike = Union[str, Path]


def _images(folder: Path) -> list:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTS) if folder.is_dir() else []


def _need(folder: Path, what: str) -> Path:
    if not folder.is_dir():
        raise InputError(str(folder), f"missing folder ({what})")
    return folder


def image_folder(root: PathLike) -> Iterator[dict]:
    """Every image below ``root`` (recursive, sorted); id = relative path without extension."""
    root = _need(Path(root), "image folder")
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.suffix.lower() in IMAGE_EXTS:
            rid = str(p.relative_to(root).with_suffix("")).replace("/", "__")
            yield {"id": rid, "source": "folder", "image": str(p)}


def _pairs(src: Path, tgt: Path, name: str, prefix: str) -> Iterator[dict]:
    a, b = _images(_need(src, f"{name} source")), _images(_need(tgt, f"{name} target"))
    if len(a) != len(b):
        raise InputError(str(src.parent), f"{name}: {len(a)} source vs {len(b)} target images")
    for s, t in zip(a, b):
        yield {"id": f"{prefix}{s.stem}", "source": name, "input": str(s), "target": str(t)}


def dpdd(root: PathLike, split: str = "test", view: str = "c") -> Iterator[dict]:
    """DPDD pairs (16-bit PNG, 1680×1120) of ``split`` for view ``c`` (combined), ``l`` or ``r``."""
    base = Path(root)
    if (base / "dd_dp_dataset_canon").is_dir():
        base = base / "dd_dp_dataset_canon"
    d = base / f"{split}_{view}"
    yield from _pairs(d / "source", d / "target", "DPDD", f"dpdd_{split}_{view}_")


def dpdd_dual_pixel(root: PathLike, split: str = "train") -> Iterator[dict]:
    """DPDD dual-pixel captures of ``split``: ``left`` / ``right`` (``{split}_l``/``_r`` sources),
    ``blurry`` (``{split}_c`` source, the combined image) and ``aif`` (``{split}_c`` target), matched
    by sorted order."""
    comb, lft, rgt = (list(dpdd(root, split, v)) for v in ("c", "l", "r"))
    if not (len(comb) == len(lft) == len(rgt)):
        raise InputError(str(root), f"DPDD {split}: {len(comb)} combined, {len(lft)} left, {len(rgt)} right images")
    for a, b, d in zip(comb, lft, rgt):
        yield {"id": f"dpdd_{split}_dp_{Path(a['input']).stem}", "source": "DPDD", "left": b["input"],
               "right": d["input"], "blurry": a["input"], "aif": a["target"]}


def realdof(root: PathLike) -> Iterator[dict]:
    """RealDOF test pairs ``source``/``target``."""
    r = Path(root)
    yield from _pairs(r / "source", r / "target", "RealDOF", "realdof_")


def sdd(root: PathLike, split: str = None) -> Iterator[dict]:
    """SDD pairs (the JDRL authors' layout: ``train_patches/`` and ``test/``, each ``blur/`` + ``gt/``
    with the same file names) under ``root/split`` (or ``root`` itself)."""
    base = Path(root) / split if split else Path(root)
    blur, gt = _need(base / "blur", "SDD blur"), _need(base / "gt", "SDD gt")
    targets = {p.name: p for p in _images(gt)}
    for s in _images(blur):
        if s.name not in targets:
            raise InputError(str(s), "SDD: no gt/ image of the same name")
        yield {"id": f"sdd_{s.stem}", "source": "SDD", "input": str(s), "target": str(targets[s.name])}


def lfdof(root: PathLike) -> Iterator[dict]:
    """LFDOF: every defocused ``input/<scene>/<k>.png`` with its ``ground_truth/<scene>.png`` (RGBA →
    RGB when read)."""
    r = Path(root)
    gt_dir = _need(r / "ground_truth", "LFDOF ground_truth")
    for scene in sorted(p for p in _need(r / "input", "LFDOF input").iterdir() if p.is_dir()):
        gt = next((p for p in _images(gt_dir) if p.stem == scene.name), None)
        if gt is None:
            raise InputError(str(scene), f"LFDOF: no ground_truth/{scene.name}.png")
        for img in _images(scene):
            yield {"id": f"lfdof_{scene.name}_{img.stem}", "source": "LFDOF", "target": str(img), "aif": str(gt)}


def realbokeh(root: PathLike, split: str = "train") -> Iterator[dict]:
    """RealBokeh_3MP: the f/22 image (AIF-like) with each wide-aperture ``gt/<id>/<id>_f<av>.JPG``
    and its metadata JSON."""
    r = Path(root) / split
    for f in _images(_need(r / "in", "RealBokeh in")):
        m = re.match(r"(.+)_f22$", f.stem)
        if not m:
            continue
        sid = m.group(1)
        meta_p = r / "metadata" / f"{sid}.json"
        meta, meta_error = {}, None
        if meta_p.is_file():  # a broken metadata file is this item's problem, not the whole build's
            try:
                meta = json.loads(meta_p.read_text())
            except (json.JSONDecodeError, UnicodeDecodeError, OSError) as exc:
                meta, meta_error = None, f"{meta_p}: {exc}"
        for g in _images(r / "gt" / sid):
            av = re.search(r"_f([\d.]+)$", g.stem)
            rec = {"id": f"realbokeh_{split}_{g.stem}", "source": "RealBokeh_3MP", "aif": str(f), "target": str(g),
                   "f_number": float(av.group(1)) if av else None, "metadata": meta}
            if meta_error:
                rec["metadata_error"] = meta_error
            yield rec


def ebb(root: PathLike, split: str = "train") -> Iterator[dict]:
    """EBB!: ``original/<i>.jpg`` (wide depth of field) with ``bokeh/<i>.jpg``."""
    r = Path(root) / split
    bokeh = {p.stem: p for p in _images(_need(r / "bokeh", "EBB! bokeh"))}
    for o in _images(_need(r / "original", "EBB! original")):
        if o.stem in bokeh:
            yield {"id": f"ebb_{split}_{o.stem}", "source": "EBB", "aif": str(o), "target": str(bokeh[o.stem])}


def hci(root: PathLike) -> Iterator[dict]:
    """HCI 4-D light-field scenes ``<category>/<scene>/`` holding ``input_Cam000.png``."""
    r = _need(Path(root), "HCI root")
    for cam in sorted(r.glob("*/*/input_Cam000.png")):
        scene = cam.parent
        yield {"id": f"hci_{scene.parent.name}_{scene.name}", "source": "HCI", "scene": str(scene)}


def unique_ids(items: list) -> list:
    """Records with distinct ids: where several share one (``coffee.png`` / ``coffee.jpg``, or
    ``a/b__c.png`` / ``a__b/c.png``), each gets ``-`` and 8 hex digits of its file path's hash, so
    no item overwrites another's outputs. Unique ids are left as they are."""
    import hashlib
    from collections import Counter

    counts = Counter(r["id"] for r in items)
    out = []
    for r in items:
        if counts[r["id"]] > 1:
            key = next(str(r[k]) for k in ("image", "input", "target", "aif", "scene", "left") if r.get(k))
            r = {**r, "id": f"{r['id']}-{hashlib.sha1(key.encode()).hexdigest()[:8]}"}
        out.append(r)
    if len({r["id"] for r in out}) != len(out):  # the same file listed twice
        raise InputError("--input", "the same file is listed twice")
    return out


SPLITS = {"dpdd": ("train", "val", "test")}  # the others: any sub-folder name (missing folders are reported)
SPLIT_SOURCES = ("dpdd", "realbokeh", "ebb", "sdd")


def read_items(source: str, root: PathLike, split: str = None) -> list:
    """The records of ``source`` under ``root`` (``split`` for dpdd / realbokeh / ebb), ids made unique."""
    if source not in READERS:
        raise InputError("--source", f"unknown source {source!r}; use one of {', '.join(sorted(READERS))}")
    kw = {}
    if split is not None:
        if source not in SPLIT_SOURCES:
            raise InputError("--split", f"the {source} source has no splits")
        if source in SPLITS and split not in SPLITS[source]:
            raise InputError("--split", f"{split!r}: {source} has {', '.join(SPLITS[source])}")
        kw["split"] = split
    if not Path(root).exists():
        raise InputError("--input", f"{str(root)!r} does not exist")
    return unique_ids(list(READERS[source](root, **kw)))


READERS = {"folder": image_folder, "dpdd": dpdd, "realdof": realdof, "sdd": sdd, "lfdof": lfdof, "realbokeh": realbokeh,
           "ebb": ebb, "hci": hci}
