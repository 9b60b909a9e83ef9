"""Dataset builders (docs/design.md §5): synthetic, in-the-wild (EXIF K), calibrated real pairs,
sharpness filtering and point-light shape data. Each returns a ``process(item) -> [records]``
function for :class:`~genrefocus.data.manifest.ManifestBuilder`.

Record fields: ``id``, ``item``, ``route``, image paths (``aif``, ``target``, ``input``, ``depth``),
``K`` (px·m at the stored resolution), ``focus_disparity`` (1/m), ``D_focus`` (m), ``aperture``,
``provenance`` and, for calibrated pairs, ``calibration_ssim``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..io import load_depth, load_image, load_mask, save_image
from ..metrics.calibration import calibrate_k
from ..optics.defocus import depth_to_disparity, signed_coc
from ..optics.exif_k import focus_distance_from_mask, k_from_exif, read_exif
from ..optics.focus_measure import sharpness_mask, variance_of_laplacian
from ..optics.render import DEFAULT_MODE, render_bokeh
from .manifest import SkipItem, atomic_save_npy, item_rng


def item_image(item: dict) -> str:
    """The primary image of a reader record (folder image, AIF, or target)."""
    for k in ("image", "aif", "target", "input"):
        if item.get(k):
            return item[k]
    raise SkipItem("record has no image path")


def _names(item: dict) -> list:
    """The names a side file of ``item`` may have: its id, then its image's file stem (``coffee.png`` and
    ``coffee.jpg`` get distinct ids — ``coffee-<hash>`` — but both find ``coffee.npy``)."""
    names = [item["id"]]
    try:
        names.append(Path(item_image(item)).stem)
    except SkipItem:
        pass
    return list(dict.fromkeys(names))


def _find(folder: Optional[str], item: dict, exts: Sequence[str]) -> Optional[Path]:
    if not folder:
        return None
    for name in _names(item):
        for e in exts:
            p = Path(folder) / f"{name}{e}"
            if p.is_file():
                return p
    return None


def _wanted(item: dict, ext: str) -> str:
    return " or ".join(f"{n}{ext}" for n in _names(item))


@dataclass
class Sources:
    """Where depth, masks and AIF images come from: given folders (a file named by the item's id or its
    image's file stem) first,
    then models (``depth_estimator(image) -> depth m``, ``segmenter(image) -> mask``,
    ``deblur(image) -> aif``), then the model-free fallback where one exists (sharpness mask)."""

    depth_dir: Optional[str] = None
    mask_dir: Optional[str] = None
    aif_dir: Optional[str] = None
    depth_estimator: Optional[Callable] = None
    segmenter: Optional[Callable] = None
    deblur: Optional[Callable] = None
    cache_dir: Optional[Path] = None

    def depth(self, item: dict, image: torch.Tensor) -> tuple:
        p = _find(self.depth_dir, item, (".npy", ".pfm"))
        if p is not None:
            d = load_depth(p)
            if tuple(d.shape[-2:]) != tuple(image.shape[-2:]):
                d = F.interpolate(d, size=image.shape[-2:], mode="bilinear", align_corners=False)
            return d, str(p)
        if self.depth_estimator is None:
            raise SkipItem(f"no depth for {item['id']!r}: give --depth-dir with {_wanted(item, '.npy')} or "
                           "--depth-model")
        d = self.depth_estimator(image)
        path = atomic_save_npy(self.cache_dir / "depth" / f"{item['id']}.npy", d[0, 0].cpu().numpy().astype(np.float32))
        return d, str(path)

    def mask(self, item: dict, image: torch.Tensor) -> torch.Tensor:
        p = _find(self.mask_dir, item, (".png", ".jpg"))
        if p is not None:
            m = load_mask(p).float()
            return F.interpolate(m, size=image.shape[-2:], mode="nearest") > 0.5
        return self.segmenter(image) if self.segmenter is not None else sharpness_mask(image)

    def aif(self, item: dict, photo: torch.Tensor) -> tuple:
        p = _find(self.aif_dir, item, (".png", ".jpg", ".jpeg", ".JPG"))
        if p is not None:
            return load_image(p), str(p)
        if self.deblur is None:
            raise SkipItem(f"no AIF for {item['id']!r}: give --aif-dir (with {_wanted(item, '.png')}), --flux "
                           "(DeblurNet) or --jdrl")
        a = self.deblur(photo)
        path = save_image(a, self.cache_dir / "aif" / f"{item['id']}.png")
        return a, str(path)


def synthetic(out: Path, sources: Sources, k_range=(5.0, 40.0), apertures=("disk",), renderer: str = DEFAULT_MODE,
              variants: int = 1, seed: int = 0, gamma=4.0):
    """AIF + depth → random K, focus plane (a random pixel's disparity) and aperture → rendered target."""
    def process(item):
        image = load_image(item_image(item), name=item["id"])
        depth, depth_path = sources.depth(item, image)
        disp = depth_to_disparity(depth)
        rng = item_rng(seed, item["id"])
        recs = []
        for v in range(variants):
            K = float(rng.uniform(*k_range))
            y, x = int(rng.integers(0, disp.shape[-2])), int(rng.integers(0, disp.shape[-1]))
            d_f = float(disp[0, 0, y, x])
            ap = apertures[int(rng.integers(0, len(apertures)))]
            target = render_bokeh(image, signed_coc(disp, K, d_f), mode=renderer, aperture=ap, gamma=gamma)
            tp = save_image(target, out / "images" / f"{item['id']}_v{v}.png")
            recs.append({"id": f"{item['id']}_v{v}", "route": "synthetic", "aif": item_image(item),
                         "depth": depth_path, "target": str(tp), "K": K, "focus_disparity": d_f,
                         "D_focus": (1.0 / d_f) if d_f > 0 else None, "focus_pixel": [x, y], "aperture": ap,
                         "provenance": {"source": item.get("source"), "renderer": renderer, "seed": seed}})
        return recs
    return process


def itw(out: Path, sources: Sources):
    """Real bokeh photo + EXIF → AIF → depth → in-focus mask → D_focus (median depth in the mask,
    Eq. 4) → K by the thin-lens model (Eq. 3) at the photo's resolution."""
    def process(item):
        path = item_image(item)
        photo = load_image(path, name=item["id"])
        exif = read_exif(path)
        if "FNumber" not in exif or "FocalLength" not in exif:
            raise SkipItem(f"cannot estimate K: EXIF lacks {'FNumber' if 'FNumber' not in exif else 'FocalLength'}")
        aif, aif_path = sources.aif(item, photo)
        depth, depth_path = sources.depth(item, aif)
        mask = sources.mask(item, photo)
        d_focus = focus_distance_from_mask(depth[0, 0].cpu().numpy(), mask[0, 0].cpu().numpy())
        est = k_from_exif(exif, d_focus, working_long_edge_px=max(photo.shape[-2:]),
                          image_size_wh=(photo.shape[-1], photo.shape[-2]))
        if not est.ok:
            raise SkipItem(est.reason)
        return [{"id": item["id"], "route": "itw", "target": path, "aif": aif_path, "depth": depth_path,
                 "K": est.K, "D_focus": d_focus, "focus_disparity": 1.0 / d_focus,
                 "exif": {"f_mm": est.focal_length_mm, "F": est.f_number, "sensor_mm": est.sensor_width_mm,
                          "sensor_source": est.sensor_source, "pixel_ratio": est.pixel_ratio},
                 "provenance": {"source": item.get("source", "folder")}}]
    return process


def calibrate(out: Path, sources: Sources, k_range=(0.0, 100.0), threshold: float = 0.8, max_side: int = 512,
              gamma=4.0):
    """Paired AIF/target → D_focus from the in-focus mask (a manual mask file overrides) → K* by
    SSIM search (at most ``max_side`` px, K reported at full resolution) → kept if SSIM ≥ threshold."""
    def process(item):
        aif = load_image(item["aif"], name=f"{item['id']} aif")
        target = load_image(item["target"], name=f"{item['id']} target")
        if target.shape != aif.shape:
            target = F.interpolate(target, size=aif.shape[-2:], mode="bilinear", align_corners=False)
        depth, depth_path = sources.depth(item, aif)
        mask = sources.mask(item, target)
        d_focus = focus_distance_from_mask(depth[0, 0].cpu().numpy(), mask[0, 0].cpu().numpy())
        if d_focus is None:
            raise SkipItem("empty in-focus mask")
        s = min(1.0, max_side / max(aif.shape[-2:]))
        size = (max(16, round(aif.shape[-2] * s)), max(16, round(aif.shape[-1] * s)))
        small = lambda x: F.interpolate(x, size=size, mode="area") if s < 1 else x  # noqa: E731
        disp = depth_to_disparity(small(depth))
        cal = calibrate_k(small(aif), disp, 1.0 / d_focus, small(target),
                          k_range=(k_range[0] * s, k_range[1] * s), threshold=threshold, gamma=gamma)
        if not cal.accepted:
            raise SkipItem(f"calibration SSIM {cal.ssim:.3f} < threshold {threshold}")
        return [{"id": item["id"], "route": "calibrated", "aif": item["aif"], "target": item["target"],
                 "depth": depth_path, "K": cal.K / s, "D_focus": d_focus, "focus_disparity": 1.0 / d_focus,
                 "calibration_ssim": cal.ssim, "provenance": {"source": item.get("source")}}]
    return process


def sharpness_score():
    """Variance of the Laplacian of an image (for ``filter-sharp``)."""
    def process(item):
        img = load_image(item_image(item), name=item["id"])
        return [{"id": item["id"], "image": item_image(item), "lv": float(variance_of_laplacian(img)[0]),
                 "route": "filter-sharp", "provenance": {"source": item.get("source")}}]
    return process


def count_point_lights(image: torch.Tensor, threshold: float = 0.5, max_area: int = 64) -> int:
    """Bright, small connected blobs in the luma (point lights)."""
    from scipy import ndimage

    luma = (image[0, :3] * torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1)).sum(0).numpy()
    labels, n = ndimage.label(luma > threshold)
    if n == 0:
        return 0
    areas = ndimage.sum(np.ones_like(luma), labels, index=np.arange(1, n + 1))
    return int(((areas >= 1) & (areas <= max_area)).sum())


def pointlight(out: Path, apertures=("disk", "polygon:6", "heart", "star"), k_range=(10.0, 30.0),
               min_lights: int = 20, variants: int = 1, seed: int = 0, gamma=4.0):
    """Point-light-rich images through shaped apertures (flat scene, uniform defocus)."""
    def process(item):
        img = load_image(item_image(item), name=item["id"])
        n = count_point_lights(img)
        if n < min_lights:
            raise SkipItem(f"{n} point lights < {min_lights}")
        rng = item_rng(seed, item["id"])
        depth_path = atomic_save_npy(out / "depth" / f"{item['id']}.npy",
                                     np.full(img.shape[-2:], 2.0, np.float32))
        recs = []
        for ap in apertures:
            for v in range(variants):
                K = float(rng.uniform(*k_range))
                coc = signed_coc(torch.full((1, 1, *img.shape[-2:]), 0.5), K, 1.0)  # behind the focal plane
                target = render_bokeh(img, coc, aperture=ap, gamma=gamma)
                safe = ap.replace(":", "-").replace("/", "_")
                tp = save_image(target, out / "images" / f"{item['id']}_{safe}_v{v}.png")
                recs.append({"id": f"{item['id']}_{safe}_v{v}", "route": "pointlight", "aif": item_image(item),
                             "depth": str(depth_path), "target": str(tp), "K": K, "focus_disparity": 1.0,
                             "D_focus": 1.0, "aperture": ap, "point_lights": n,
                             "provenance": {"source": item.get("source"), "seed": seed}})
        return recs
    return process


__all__ = ["Sources", "synthetic", "itw", "calibrate", "sharpness_score", "pointlight", "count_point_lights",
           "item_image"]
