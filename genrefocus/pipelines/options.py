"""How the generative pipeline samples: one frozen options object, built once and passed down.

:class:`SamplerOptions` replaces the single ``compat`` switch: every behaviour that differs between
the official Genfocus code (commit 54752a1) and our default is one named field.
``SamplerOptions.compat()`` sets all of them to the official behaviour; ``SamplerOptions()`` is our
default; any field can be set on its own (``SamplerOptions(attention="loop")``,
``SamplerOptions.compat(tile_batch=4)``). Nothing below the pipeline reads a ``compat`` flag: the tiler, the attention and the encoder
get the individual settings.

What ``compat`` guarantees: with the same weights, inputs and official seeds, the official scripts'
condition images, VAE samples, initial noise, per-step velocities, final latents and final image,
to ≤ 1e-5 in float32 (tests/test_official_equivalence.py, fixture recorded from the official code).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Optional, Union

from ..errors import InputError
from .distributed import ProcessSplit


_CHOICES = {"attention": ("fused", "loop"), "tile_ids": ("offset", "official"),
            "tile_order": ("row-major", "official"), "blend_dtype": ("float32", "latent"),
            "crop_mapping": ("exact", "official"), "output_size": ("original", "working")}


@dataclass(frozen=True)
class SamplerOptions:
    """Sampling settings (official value → ``compat()``; ours → default).

    Attributes:
        attention: ``"fused"`` one masked attention call per layer over all branches (ours) or
            ``"loop"`` the official per-query-branch loop. Equal to float rounding.
        tiling: ``"auto"`` (official rule: ≥ 1024 tokens and min side ≥ 512 px), True or False.
        tile_ids: ``"offset"`` each branch of a tile keeps its own ids (tile grid + the condition's
            delta: tiled equals untiled on one tile) or ``"official"`` every branch of every tile
            uses the ids of a fixed 32×32 grid (condition deltas dropped).
        tile_order: ``"row-major"`` or ``"official"`` (columns in the outer loop, the order of the
            official ``np.meshgrid``); only changes the float summation order of the blend.
        blend_dtype: ``"float32"`` or ``"latent"`` (the official code accumulates the blend in the
            latents' dtype, bf16 on GPU).
        tile_batch: tiles per transformer call (the official code: 1).
        independent_conditions: conditions attend only to themselves (needs LoRAs trained so;
            their metadata says ``independent_conditions=true``); enables the condition KV cache.
        kv_cache: with independent conditions, compute the conditions' keys/values once per image
            (tile batch) and reuse them at every step.
        resize_8bit: resize inputs as the official scripts do (PIL Lanczos on the 8-bit image);
            else PIL Lanczos per channel in float (keeps 16-bit precision).
        handoff_8bit: ``refocus`` hands the AIF to BokehNet as an 8-bit image (the official demo).
        official_seeds: draw the initial noise and the VAE samples as the official scripts do
            (deblur: one stream seeded 42; bokeh: noise from a generator seeded 1234, VAE samples
            from a stream seeded 42); user generators are then refused.
        decode_in_model_dtype: map the decoded image to [0, 1] in the model dtype (official; bf16 on
            GPU) instead of float32.
        crop_mapping: how a focus point, box, mask or depth map given in the photo's pixels reaches
            a ``long_side``-cropped working image: ``"exact"`` through the resize and the centre
            crop; ``"official"`` scaled by working / original size (the crop ignored).
        output_size: ``"original"`` returns results at the input's size (the working size when
            ``long_side`` cropped it); ``"working"`` at the model's size, as the official scripts save.
        tile_split: split the tiles of each step across the processes of this
            :class:`~genrefocus.pipelines.distributed.ProcessSplit` (None: this process runs every
            tile). Never together with splitting images across the same processes.
    """

    attention: str = "fused"
    tiling: Union[bool, str] = "auto"
    tile_ids: str = "offset"
    tile_order: str = "row-major"
    blend_dtype: str = "float32"
    tile_batch: int = 1
    independent_conditions: bool = False
    kv_cache: bool = True
    resize_8bit: bool = False
    handoff_8bit: bool = False
    official_seeds: bool = False
    decode_in_model_dtype: bool = False
    crop_mapping: str = "exact"
    output_size: str = "original"
    tile_split: Optional[ProcessSplit] = None

    def __post_init__(self):
        for name, allowed in _CHOICES.items():
            if getattr(self, name) not in allowed:
                raise InputError(name, f"{getattr(self, name)!r}; use one of {', '.join(allowed)}")
        if self.tiling not in ("auto", True, False):
            raise InputError("tiling", f"{self.tiling!r}; use 'auto', True or False")
        if not isinstance(self.tile_batch, int) or isinstance(self.tile_batch, bool) or self.tile_batch < 1:
            raise InputError("tile_batch", f"must be an integer ≥ 1, got {self.tile_batch!r}")
        if self.tile_split is not None and not isinstance(self.tile_split, ProcessSplit):
            raise InputError("tile_split", f"expected a ProcessSplit, got {type(self.tile_split).__name__}")

    @classmethod
    def compat(cls, **overrides) -> "SamplerOptions":
        """The official Genfocus behaviour (commit 54752a1), with optional overrides."""
        official = dict(attention="loop", tile_ids="official", tile_order="official", blend_dtype="latent",
                        tile_batch=1, independent_conditions=False, resize_8bit=True, handoff_8bit=True,
                        official_seeds=True, decode_in_model_dtype=True, crop_mapping="official",
                        output_size="working")
        official.update(overrides)
        return cls(**official)

    def replace(self, **changes) -> "SamplerOptions":
        """A copy with ``changes`` (the object itself never changes)."""
        return dataclasses.replace(self, **changes)


def resolve_options(options: Optional[SamplerOptions] = None, compat: bool = False) -> SamplerOptions:
    """``options`` as given, ``SamplerOptions.compat()`` for ``compat=True``, else the defaults."""
    if options is not None and compat:
        raise InputError("compat", "give either options=SamplerOptions(...) or compat=True, not both")
    if options is not None:
        if not isinstance(options, SamplerOptions):
            raise InputError("options", f"expected SamplerOptions, got {type(options).__name__}")
        return options
    return SamplerOptions.compat() if compat else SamplerOptions()


__all__ = ["SamplerOptions", "resolve_options"]
