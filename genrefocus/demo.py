"""The no-download demo: refocus scikit-image's Middlebury motorcycle (real photo, real disparity)
at several focus planes, bokeh levels and aperture shapes with the physical renderer, as one grid."""

from __future__ import annotations

from pathlib import Path

import torch
from tqdm.auto import tqdm

from .data.samples import motorcycle
from .io import atomic_write
from .optics.defocus import depth_regions
from .optics.render import DEFAULT_MODE, render_bokeh
from .optics.focus import Focus
from .pipelines.physical import PhysicalRefocusPipeline

KS = (0.0, 15.0, 30.0, 45.0)
APERTURES = ("disk", "polygon:6", "heart", "star")


def run_demo(output: str | Path = "genrefocus_demo.png", mode: str = DEFAULT_MODE) -> Path:
    """Render the demo grid and write it as PNG: focus on each depth region of the disparity map
    (:func:`~genrefocus.optics.defocus.depth_regions`) × K, the aperture shapes on the photo's own
    background highlights, and on point lights."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    image, disp = motorcycle()
    pipe = PhysicalRefocusPipeline(mode=mode)
    regions = depth_regions(disp, 3)  # near (the motorcycle), middle (the floor), far (the wall)
    jobs = [(r, k) for r in regions for k in KS]
    tiles = []
    for r, k in tqdm(jobs, desc="demo renders", unit="image"):
        out = pipe(image, disparity=disp, K=k, focus=Focus.disparity(r.disparity), flip_front=True)
        tiles.append((f"focus: {r.name} (d={r.disparity:.2f}), K={k:g}", out.image, r.point))
    # the aperture shapes on the photo itself: focus on the motorcycle, zoom on the brightest
    # highlights of the defocused background (this scene has no point lights, so they are faint;
    # the point lights below show them clearly)
    y0, x0 = _highlight_crop(image, regions[-1].mask, 200)
    for ap in APERTURES:
        out = pipe(image, disparity=disp, K=60.0, focus=Focus.disparity(regions[0].disparity), aperture=ap)
        tiles.append((f"focus near, K=60, {ap}: background zoom", out.image[..., y0:y0 + 200, x0:x0 + 200], None))
    # Aperture shapes are easiest to see on point lights: Hubble deep field, uniform 10 px defocus.
    from skimage import data

    stars = torch.from_numpy(data.hubble_deep_field()[300:600, 300:600].astype("float32") / 255.0)
    stars = stars.permute(2, 0, 1)[None].contiguous()
    for ap in APERTURES:
        out = render_bokeh(stars, torch.full((1, 1, 300, 300), -10.0), mode=mode, aperture=ap)  # behind focus
        tiles.append((f"point lights, CoC 10 px, {ap}", out, None))
    cols = len(KS)
    rows = -(-len(tiles) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows))
    for ax in axes.ravel():
        ax.axis("off")
    for ax, (title, img, pt) in zip(axes.ravel(), tiles):
        ax.imshow(img[0].permute(1, 2, 0).clamp(0, 1).numpy())
        if pt is not None:
            ax.plot(*pt, marker="+", color="yellow", markersize=10, mew=2)
        ax.set_title(title, fontsize=9)
    fig.suptitle(f"genrefocus physical renderer ({mode}) on Middlebury 'motorcycle' with GT disparity "
                 "(+ marks the focus region, focus = its median disparity; K in px per unit normalized disparity)", fontsize=10)
    fig.tight_layout()
    output = atomic_write(Path(output), lambda tmp: fig.savefig(tmp, dpi=80, format="png"))
    plt.close(fig)
    return output.resolve()


def _highlight_crop(image: torch.Tensor, region, size: int) -> tuple:
    """Top-left corner ``(y, x)`` of the ``size``-px square centred on the brightest isolated
    highlight (9-px mean minus 61-px mean of linear luminance) inside ``region`` ``(H, W)`` bool."""
    import numpy as np
    from scipy import ndimage

    lum = (image[0].mean(0) ** 4).numpy()
    score = np.where(region, ndimage.uniform_filter(lum, 9) - ndimage.uniform_filter(lum, 61), -np.inf)
    y, x = np.unravel_index(int(np.argmax(score)), score.shape)
    H, W = lum.shape
    return min(max(0, y - size // 2), H - size), min(max(0, x - size // 2), W - size)


if __name__ == "__main__":  # pragma: no cover
    torch.set_grad_enabled(False)
    print(run_demo())
