"""Small training sets and a saved tiny FLUX for the training tests."""

import json

import numpy as np
import torch

from genrefocus.io import save_image
from genrefocus.optics import render_bokeh, signed_coc
from tiny_flux import POOLED_DIM, TEXT_DIM, TEXT_LEN, tiny_pipeline


def saved_tiny_model(folder, **transformer_kw):
    """A tiny FLUX saved like FLUX.1-dev (transformer/, vae/, scheduler/) plus a prompt cache with ""."""
    pipe = tiny_pipeline(**transformer_kw)
    g = torch.Generator().manual_seed(5)
    pipe.cache_prompt("", torch.randn(1, TEXT_LEN, TEXT_DIM, generator=g), torch.randn(1, POOLED_DIM, generator=g))
    pipe.save_pretrained(folder / "flux")
    pipe.save_prompt_cache(folder / "prompts.safetensors")
    return folder / "flux", folder / "prompts.safetensors"


def photo_set(folder, n=4, size=64, task="bokeh"):
    """n scikit-image photos with smooth depth maps; bokeh targets rendered physically, or blurred
    inputs for deblur. Returns the manifest path."""
    from conftest import photo

    folder.mkdir(parents=True, exist_ok=True)
    names = ["astronaut", "coffee", "chelsea", "rocket", "cat", "immunohistochemistry"][:n]
    lines = []
    for i, name in enumerate(names):
        img = photo(name, (size, size))
        yy = torch.linspace(1.0, 4.0, size).view(size, 1).expand(size, size)
        depth = yy.numpy().astype(np.float32)
        np.save(folder / f"{i}_depth.npy", depth)
        save_image(img, folder / f"{i}_aif.png")
        disp = 1.0 / torch.from_numpy(depth)[None, None]
        if task == "bokeh":
            K, df = 12.0 + 2 * i, float(disp[0, 0, size // 2, size // 2])
            save_image(render_bokeh(img, signed_coc(disp, K, df)), folder / f"{i}_bokeh.png")
            lines.append({"aif": f"{i}_aif.png", "target": f"{i}_bokeh.png", "depth": f"{i}_depth.npy", "K": K,
                          "focus_disparity": df})
        else:
            save_image(render_bokeh(img, torch.full((1, 1, size, size), 3.0)), folder / f"{i}_blurry.png")
            lines.append({"input": f"{i}_blurry.png", "target": f"{i}_aif.png"})
    (folder / "manifest.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    return folder / "manifest.jsonl"
