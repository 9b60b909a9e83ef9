"""LoRA training samples: JSONL manifests or on-the-fly synthetic bokeh, cropped identically per sample.

Manifest records (paths relative to the manifest's folder; a manifest is read on demand, not held in
memory — :class:`ManifestRecords` —, and may be a glob of several, e.g. the shards of a distributed build):

* deblur / pre_deblur: ``{"input": blurry, "target": sharp, "pre_deblur": optional}``
* bokeh / shape: ``{"aif": ..., "target": ..., "depth": metres .npy, "K": px·m,
  "focus_disparity": 1/m (or "D_focus": m), "aperture": spec (shape task)}``
* synthetic (``data.synthetic``): ``{"aif": ..., "depth": ...}``; K, focus and aperture are drawn
  per sample and the target is rendered with the physical renderer.

Every sample is a dict with ``target`` ``(3, h, w)`` and ``images`` — the condition images by role
(``blurry``, ``pre_deblurred``, ``aif``, ``defocus_map``, ``aperture``; see
:data:`genrefocus.models.tasks.TASKS`, which decides order, deltas and preprocessing) — all cropped
with one random window of ``resolution`` px (multiples of 16).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from ..errors import InputError
from ..io import load_depth, load_image
from ..models.tasks import aperture_condition
from ..optics.apertures import parse_aperture
from ..optics.defocus import defocus_condition, depth_to_disparity, signed_coc
from ..optics.render import DEFAULT_MODE, render_bokeh


class ManifestRecords(Sequence):
    """The records of a JSONL manifest, read on demand: one pass keeps each line's byte offset (8 bytes per
    record, not the records), ``records[i]`` reads and parses line ``i``, relative paths made absolute
    against the manifest's folder. ``path`` may be a glob (``parts/shard-*.jsonl``): the files in sorted
    order, one after the other — a set built in shards trains as it lies."""

    def __init__(self, path):
        import glob
        from array import array

        pattern = str(path)
        files = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
        if not files or not all(Path(f).is_file() for f in files):
            raise InputError("data.manifest", f"{pattern!r} does not exist")
        self.files, self._file, self._offset = [Path(f) for f in files], array("l"), array("q")
        for k, f in enumerate(self.files):
            with open(f, "rb") as fh:
                pos = 0
                for n, line in enumerate(fh, 1):
                    if line.strip():
                        try:
                            json.loads(line)
                        except json.JSONDecodeError as exc:
                            raise InputError(str(f), f"line {n} is not JSON ({exc})") from None
                        self._file.append(k)
                        self._offset.append(pos)
                    pos += len(line)
        if not len(self._offset):
            raise InputError(pattern, "manifest has no records")

    def __len__(self) -> int:
        return len(self._offset)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        f = self.files[self._file[i]]
        with open(f, "rb") as fh:
            fh.seek(self._offset[i])
            rec = json.loads(fh.readline())
        if isinstance(rec, dict):
            for k in ("input", "target", "pre_deblur", "aif", "depth"):
                if isinstance(rec.get(k), str) and not Path(rec[k]).is_absolute():
                    rec[k] = str(f.parent / rec[k])
        return rec


def read_manifest(path) -> ManifestRecords:
    """Records of a JSONL manifest (or a glob of them) with paths made absolute, read on demand."""
    return ManifestRecords(path)


#: fields every record of a task's manifest needs (besides the optional ``pre_deblur`` and ``aperture``)
_DEBLUR_FIELDS = ("input", "target")
_BOKEH_FIELDS = ("aif", "target", "depth", "K")
_FILE_FIELDS = ("input", "target", "pre_deblur", "aif", "depth")


def check_manifest(path, task: str, synthetic: bool = False, max_listed: int = 3) -> list:
    """Every record's problems for training ``task`` (empty when all are usable): missing fields (a bokeh
    record needs ``aif``, ``target``, ``depth``, ``K`` and ``focus_disparity`` or ``D_focus``; a deblur one
    ``input`` and ``target``; a synthetic recipe only ``aif`` and ``depth``), numbers that are not finite
    (K ≥ 0), and files that do not exist — reported as a few examples and a count, before any model loads."""
    import math

    try:
        records = read_manifest(path)
    except InputError as exc:
        return [str(exc)]
    deblur = task in ("deblur", "pre_deblur", "deblur_two_conditions")
    need = ("aif", "depth") if synthetic else (_DEBLUR_FIELDS if deblur else _BOKEH_FIELDS)
    problems = []
    for n, rec in enumerate(records, 1):
        if not isinstance(rec, dict):
            problems.append(f"record {n}: not a JSON object")
            continue
        missing = [k for k in need if k not in rec]
        if not (synthetic or deblur) and "focus_disparity" not in rec and "D_focus" not in rec:
            missing.append("focus_disparity (or D_focus)")
        if missing:
            problems.append(f"record {n}: no {', '.join(missing)}")
            continue
        for k in ("K", "focus_disparity", "D_focus"):
            if k in rec and not synthetic:
                try:
                    v = float(rec[k])
                except (TypeError, ValueError):
                    v = float("nan")
                if not math.isfinite(v) or v < 0 or (k == "D_focus" and v == 0):
                    problems.append(f"record {n}: {k} must be a finite number ≥ 0, got {rec[k]!r}")
        for k in _FILE_FIELDS:
            if isinstance(rec.get(k), str) and not Path(rec[k]).is_file():
                problems.append(f"record {n}: {k} file {rec[k]!r} does not exist")
    if len(problems) > max_listed:
        problems = problems[:max_listed] + [f"… {len(problems) - max_listed} more problems in {str(path)!r}"]
    return [f"{str(path)!r} " + p if not p.startswith("…") else p for p in problems]


def _crop_box(h: int, w: int, res: int, rng: np.random.Generator):
    ch, cw = min(res, h) // 16 * 16, min(res, w) // 16 * 16
    if ch < 16 or cw < 16:
        raise InputError("sample", f"{w}×{h} is smaller than 16 px")
    y0 = int(rng.integers(0, h - ch + 1))
    x0 = int(rng.integers(0, w - cw + 1))
    return y0, x0, ch, cw


def _crop(x: torch.Tensor, box) -> torch.Tensor:
    y0, x0, ch, cw = box
    return x[..., y0:y0 + ch, x0:x0 + cw]


class RefocusDataset:
    """Samples for one task from a manifest or the synthetic recipe (see module doc)."""

    def __init__(self, task: str, data: dict, resolution: int = 512, adapter: Optional[str] = None):
        self.task, self.res = task, int(resolution)
        self.synthetic = data.get("synthetic")
        manifest = (self.synthetic or {}).get("manifest") if self.synthetic else data.get("manifest")
        if manifest is None:
            raise InputError("data", "need data.manifest or data.synthetic.manifest")
        self.records = read_manifest(manifest)
        self.adapter = adapter

    def __len__(self) -> int:
        return len(self.records)

    def sample(self, index: int, rng: np.random.Generator) -> dict:
        rec = self.records[index]
        if self.task in ("deblur", "pre_deblur", "deblur_two_conditions"):
            return self._deblur(rec, rng)
        return self._bokeh(rec, rng)

    def _deblur(self, rec, rng):
        blurry, target = load_image(rec["input"])[0], load_image(rec["target"])[0]
        if blurry.shape != target.shape:
            raise InputError(rec["input"], f"size {tuple(blurry.shape)} differs from its target {tuple(target.shape)}")
        pre = load_image(rec["pre_deblur"])[0] if (self.task != "deblur" and rec.get("pre_deblur")) else None
        if pre is not None and pre.shape != blurry.shape:
            raise InputError(rec["pre_deblur"], f"size {tuple(pre.shape)} differs from its input {tuple(blurry.shape)}")
        box = _crop_box(*blurry.shape[-2:], self.res, rng)
        images = {"blurry": _crop(blurry, box)}
        if pre is not None:
            images["pre_deblurred"] = _crop(pre, box)
        return {"target": _crop(target, box), "images": images}

    def _bokeh(self, rec, rng):
        aif = load_image(rec["aif"])[0]
        depth = load_depth(rec["depth"])
        disp = depth_to_disparity(depth)
        if tuple(disp.shape[-2:]) != tuple(aif.shape[-2:]):
            disp = torch.nn.functional.interpolate(disp, size=aif.shape[-2:], mode="bilinear", align_corners=False)
        box = _crop_box(*aif.shape[-2:], self.res, rng)
        aperture = rec.get("aperture")
        if self.synthetic:
            lo, hi = self.synthetic.get("k_range", [5.0, 40.0])
            K = float(rng.uniform(lo, hi))
            y, x = int(rng.integers(0, disp.shape[-2])), int(rng.integers(0, disp.shape[-1]))
            d_f = float(disp[0, 0, y, x])
            choices = self.synthetic.get("apertures", ["disk"])
            aperture = choices[int(rng.integers(0, len(choices)))]
            coc = signed_coc(disp, K, d_f)
            target = render_bokeh(aif[None], coc, mode=self.synthetic.get("renderer", DEFAULT_MODE),
                                  aperture=aperture)[0]
        else:
            target = load_image(rec["target"])[0]
            K = float(rec["K"])
            d_f = float(rec["focus_disparity"]) if "focus_disparity" in rec else 1.0 / float(rec["D_focus"])
            coc = signed_coc(disp, K, d_f)
        images = {"aif": _crop(aif, box), "defocus_map": _crop(defocus_condition(coc)[0], box)}
        if self.task == "shape":
            images["aperture"] = aperture_condition(parse_aperture(aperture or "disk"), box[2:])[0]
        return {"target": _crop(target, box), "images": images}
