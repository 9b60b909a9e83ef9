"""The no-download demo: refocus scikit-image's Middlebury motorcycle (real photo, real disparity)
at several focus planes, bokeh levels and aperture shapes with the physical renderer, as one grid."""

from __future__ import annotations

from pathlib import Path

import torch
from tqdm.auto import tqdm

from .data.samples import motorcycle
from .pipelines.physical import PhysicalRefocusPipeline

FOCUS_POINTS = {"front wheel": (610, 330), "engine": (390, 300), "background": (300, 40)}
KS = (0.0, 15.0, 30.0, 45.0)
APERTURES = ("disk", "polygon:6", "heart", "star")


def run_demo(output: str | Path = "genrefocus_demo.png", mode: str = "fast") -> Path:
    """Render the demo grid (rows: focus planes × K, then aperture shapes) and write it as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    image, disp = motorcycle()
    pipe = PhysicalRefocusPipeline(mode=mode)
    jobs = [(name, pt, k, "disk") for name, pt in FOCUS_POINTS.items() for k in KS]
    jobs += [("engine", FOCUS_POINTS["engine"], 60.0, ap) for ap in APERTURES]
    tiles = []
    for name, pt, k, ap in tqdm(jobs, desc="demo renders", unit="image"):
        out = pipe(image, disparity=disp, K=k, focus_point=pt, aperture=ap, flip_front=True)
        tiles.append((f"focus: {name}, K={k:g}" + ("" if ap == "disk" else f", {ap}"), out.image, pt))
    # Aperture shapes are easiest to see on point lights: Hubble deep field, uniform 10 px defocus.
    from skimage import data

    stars = torch.from_numpy(data.hubble_deep_field()[300:600, 300:600].astype("float32") / 255.0)
    stars = stars.permute(2, 0, 1)[None].contiguous()
    for ap in APERTURES:
        out = pipe(stars, disparity=torch.ones(1, 1, 300, 300), K=10.0, focus_disparity_value=0.0,
                   aperture=ap)
        tiles.append((f"point lights, CoC 10 px, {ap}", out.image, None))
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
                 "(+ = focus point; K in px per unit normalized disparity)", fontsize=10)
    fig.tight_layout()
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".tmp-{output.name}")
    fig.savefig(tmp, dpi=80, format="png")
    plt.close(fig)
    tmp.replace(output)
    return output.resolve()


if __name__ == "__main__":  # pragma: no cover
    torch.set_grad_enabled(False)
    print(run_demo())
