"""Sharp photos for synthetic training pairs: scikit-image's photos (no download), as a pool of random
crops (random scale, window, flips, quarter turns and colour gain). A crop is scaled with Lanczos-3, as a
photo is downsized: the triangle filter of the bilinear resize used before kept 0.54 of its fine detail (variance of the
Laplacian, median of 60 crops), and a model trained toward such a "sharp" truth learns to smooth."""

from __future__ import annotations

import math

import numpy as np
import torch

from ..io import resize_image

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "cat", "brick", "grass", "gravel", "camera", "page",
          "text", "coins", "moon", "motorcycle")



def photo_array(name: str) -> np.ndarray:
    """scikit-image photo ``name`` as ``(H, W, 3)`` float32 in [0, 1] (grey photos repeated)."""
    from skimage import data

    img = data.stereo_motorcycle()[0] if name == "motorcycle" else getattr(data, name)()
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, -1)
    return img[..., :3].astype(np.float32) / 255.0


class PhotoPool:
    """The sharp photos, loaded once, as ``(3, H, W)`` tensors: scikit-image's photos ``names``, or the
    given ``images`` (e.g. held-out photos for an evaluation)."""

    def __init__(self, names=PHOTOS, images=None):
        self.images = ([img.float().contiguous() for img in images] if images is not None else
                       [torch.from_numpy(photo_array(n)).permute(2, 0, 1).contiguous() for n in names])

    def crop(self, rng: np.random.Generator, size: int) -> torch.Tensor:
        img = self.images[int(rng.integers(len(self.images)))]
        H, W = img.shape[-2:]
        scale = float(rng.uniform(max(size / min(H, W), 0.35), 1.0))
        # the source window that maps to `size` px after scaling, resized with antialiased Lanczos-3
        sh, sw = min(H, math.ceil(size / scale)), min(W, math.ceil(size / scale))
        y0, x0 = int(rng.integers(0, H - sh + 1)), int(rng.integers(0, W - sw + 1))
        x = resize_image(img[None, :, y0:y0 + sh, x0:x0 + sw], (size, size))[0]
        if rng.random() < 0.5:
            x = x.flip(-1)
        if rng.random() < 0.5:
            x = x.flip(-2)
        x = x.rot90(int(rng.integers(4)), dims=(-2, -1))
        gain = torch.from_numpy(rng.uniform(0.8, 1.15, size=3).astype(np.float32)).view(3, 1, 1)
        return (x * gain).clamp(0, 1)


def held_out_pool() -> PhotoPool:
    """Photos no trainer uses (scikit-image's Hubble deep field, immunohistochemistry, retina): held-out
    pairs for evaluations in distribution."""
    from skimage import data

    held_out = [data.hubble_deep_field()[:400, :400], data.immunohistochemistry(), data.retina()[::4, ::4]]
    return PhotoPool(images=[torch.from_numpy(np.asarray(i)[..., :3].astype(np.float32) / 255).permute(2, 0, 1)
                             for i in held_out])


__all__ = ["PHOTOS", "PhotoPool", "held_out_pool", "photo_array"]
