"""Refocusing with the physical renderer: disparity → focus plane → signed CoC → bokeh render.

:class:`PhysicalRefocusPipeline` takes a photo and its depth (metres) or disparity, or estimates a
relative disparity with a depth model (Depth Anything V2 Small by default, loaded on first use). How a
map's units set the meaning of K is the same everywhere (the CLI, the app, Python):

* metric depth (``depth=``, m) → disparity ``1/depth`` in 1/m, K in px per 1/m;
* a float disparity (``.npy`` / ``.pfm``) → used as given;
* a relative map (a disparity PNG, a depth model's estimate) → min–max normalised to [0, 1] (1 = the
  nearest point), so K is the largest CoC radius (px) between the nearest and the farthest point.
"""

from __future__ import annotations

import threading
import warnings
from typing import Optional, Union

import torch

from ..errors import InputError
from ..io import as_image
from ..optics.apertures import Aperture, parse_aperture
from ..optics.defocus import (DEFAULT_K, depth_to_disparity, disparity_range_problem, resize_map, signed_coc,
                              validate_disparity, validate_k)
from ..optics.render import DEFAULT_MODE, Gamma, cap_coc, check_gamma, check_mode, render_bokeh
from ..optics.focus import Focus, prompt_focus
from .result import FocusPullResult, RefocusResult

EASES = ("smooth", "linear")
#: renderers whose pipeline refines the map's edges unless told otherwise
EDGE_REFINED_MODES = ("layered", "fast")


class PhysicalRefocusPipeline:
    """Refocus a photo with the physical renderer (no learned weights in the render).

    Args:
        mode: renderer (:data:`~genrefocus.optics.render.MODES`; default ``"layered"``).
        gamma: linearization (BokehMe's 4.0, or ``"srgb"``).
        device: where to render (default: the image's device).
        depth_estimator: a callable ``image → relative disparity`` or an object with
            ``estimate(image) → DepthEstimate`` (:mod:`genrefocus.perception`), used when neither depth
            nor disparity is given; or None.
        depth_model: a depth model folder or Hub id loaded on first use instead (checked by
            :meth:`check_depth_model`); ``allow_download`` lets a Hub id download.
        sam, text_detector: optional prompt models (:func:`~genrefocus.optics.focus.prompt_focus`).
        refine_edges: clean the map's occlusion edges with the photo before rendering
            (:func:`~genrefocus.optics.depth_refine.refine_disparity`: speckles removed, soft edges snapped
            to the photo's); default on for the ``layered`` and ``fast`` renderers, off for ``bokehme`` and
            ``scatter`` (kept comparable with their reference implementations).
    """

    def __init__(self, mode: str = DEFAULT_MODE, gamma: Gamma = 4.0, device: Union[str, torch.device, None] = None,
                 depth_estimator=None, depth_model: Optional[str] = None, allow_download: bool = False, sam=None,
                 text_detector=None, refine_edges: Optional[bool] = None):
        self.mode, self.gamma, self.device = check_mode(mode), check_gamma(gamma), device
        if refine_edges is not None and not isinstance(refine_edges, bool):
            raise InputError("refine_edges", f"must be True, False or None, got {refine_edges!r}")
        self.refine_edges = self.mode in EDGE_REFINED_MODES if refine_edges is None else refine_edges
        self.depth_estimator, self.depth_model, self.allow_download = depth_estimator, depth_model, allow_download
        self.sam, self.text_detector = sam, text_detector
        self._lock = threading.Lock()

    @classmethod
    def from_pretrained(cls, depth_model: Optional[str] = None, **kwargs) -> "PhysicalRefocusPipeline":
        """A pipeline that estimates depth with ``depth_model`` (default Depth Anything V2 Small) when no
        map is given; the model's source is checked now (a missing model fails at once, naming what to
        download) and the weights load on first use."""
        from ..perception import DEPTH_ANYTHING_ID

        pipe = cls(depth_model=depth_model or DEPTH_ANYTHING_ID, **kwargs)
        pipe.check_depth_model()
        return pipe

    # ------------------------------------------------------------------ depth
    def check_depth_model(self, what: str = "depth model", instead: str = "a depth (metres) or disparity map") -> None:
        """Raise :class:`~genrefocus.errors.MissingWeightsError` (what to download, or give ``instead``) when
        the depth model cannot be loaded without surprises; nothing to check when an estimator is attached or
        none is set."""
        if self.depth_estimator is None and self.depth_model is not None:
            from ..errors import MissingWeightsError, require
            from ..hub import weights_source

            require("transformers", "depth", f"estimating depth (no {instead} given)")
            try:
                weights_source(self.depth_model, what, self.allow_download)
            except MissingWeightsError as exc:
                raise MissingWeightsError(f"{exc} — or give {instead} yourself") from None

    def _estimator(self):
        with self._lock:
            if self.depth_estimator is None:
                if self.depth_model is None:
                    raise InputError("depth", "no depth given and no depth model set: give depth= (metres) or "
                                              "disparity=, or use PhysicalRefocusPipeline.from_pretrained()")
                from ..hub import weights_source
                from ..perception import load_depth_estimator

                kw = weights_source(self.depth_model, "depth model", self.allow_download)
                self.depth_estimator = load_depth_estimator(self.depth_model, device=self.device, **kw)
            return self.depth_estimator

    def disparity_of(self, image, depth=None, disparity=None) -> tuple:
        """``(disparity (1|B, 1, H, W) at the image's size, units)``: ``1/depth`` (``"1/m"``), the given
        disparity (``"given"``), or the depth model's estimate (``"relative"``, or ``"1/m"`` for a metric
        model). A map of another size is resized bilinearly (with a warning); a map whose values are nearly
        all equal is warned about."""
        image = as_image(image)
        if depth is not None and disparity is not None:
            raise InputError("depth", "give depth or disparity, not both")
        if depth is not None:
            disp, units, what = depth_to_disparity(depth), "1/m", "depth"
        elif disparity is not None:
            disp, units, what = validate_disparity(disparity), "given", "disparity"
        else:
            est = self._estimator()
            with torch.no_grad():
                device = self.device or image.device
                if hasattr(est, "estimate"):
                    e = est.estimate(image.to(device))
                    disp, units = e.disparity, ("1/m" if e.metric else "relative")
                else:
                    disp, units = est(image.to(device)), "relative"
            disp, what = disp.float().cpu(), "estimated disparity"
        if tuple(disp.shape[-2:]) != tuple(image.shape[-2:]):
            warnings.warn(f"{what} is {tuple(disp.shape[-2:])}, image is {tuple(image.shape[-2:])}: resizing it "
                          "bilinearly", stacklevel=3)
            disp = resize_map(disp, image.shape[-2:])
        problem = disparity_range_problem(disp)
        if problem:
            warnings.warn(f"{what}: {problem}", stacklevel=3)
        return disp, units

    def _render_map(self, x: torch.Tensor, disp: torch.Tensor) -> torch.Tensor:
        """The map the renderer uses: ``disp`` with its edges refined when :attr:`refine_edges` is on."""
        if not self.refine_edges:
            return disp
        from ..optics.depth_refine import refine_disparity

        d = disp.to(x.device, torch.float32)
        if d.shape[0] != x.shape[0]:
            d = d.expand(x.shape[0], -1, -1, -1)
        return refine_disparity(d, x.float()).to(disp.dtype)

    # ------------------------------------------------------------------ rendering
    def __call__(self, image, *, depth=None, disparity=None, focus=None, K: float = DEFAULT_K,
                 aperture: Union[Aperture, str, None] = None, flip_front: Optional[bool] = None,
                 progress: bool = False, **render_kwargs) -> RefocusResult:
        """Refocus ``image`` (a path, PIL, NumPy or ``(B, 3, H, W)`` tensor in [0, 1]).

        Args:
            depth: metric depth (m) or ``disparity`` (any units, larger = nearer), any size; neither:
                the depth model estimates a relative disparity.
            focus: a :class:`~genrefocus.optics.focus.Focus` or what :meth:`Focus.coerce` takes
                (``(x, y)``, a box, a mask, ``"near"``, ``"d=0.3"``); None: the image centre.
            K: bokeh level, CoC radius (px) per unit of disparity.
            aperture: :class:`Aperture` or a spec (``disk``, ``polygon:6``, ``heart``, ``star``, a path).
            flip_front: rotate the aperture 180° in front of the focal plane (default: as the renderer).
        """
        # 1. every input, before any model runs
        x = self._image(image)
        focus = Focus.coerce(focus).check(x.shape[-2:])
        K = validate_k(K)
        aperture = parse_aperture(aperture)
        # 2. disparity (given or estimated), 3. focus plane (prompted when a text / SAM model is attached)
        disp, units = self.disparity_of(x, depth, disparity)
        disp = self._render_map(x, disp)
        focus = prompt_focus(focus, x, self.sam, self.text_detector)
        d_f = focus.focus_disparity(disp)
        # 4. signed CoC (px) and 5. render
        coc = cap_coc(signed_coc(disp, K, d_f).to(x.device), x.shape[-2:])  # wrong units: refused before the render
        out = render_bokeh(x, coc, mode=self.mode, gamma=self.gamma, aperture=aperture, flip_front=flip_front,
                           progress=progress, **render_kwargs)
        meta = {"mode": self.mode, "gamma": self.gamma, "disparity_units": units, "focus": focus,
                "aperture": aperture.name, "refine_edges": self.refine_edges}
        return RefocusResult(image=out, aif=x, disparity=disp, depth=None if depth is None else 1.0 / disp.clamp_min(1e-12),
                             coc=coc, focus_disparity=d_f, K=K, meta=meta)

    def focus_pull(self, image, *, depth=None, disparity=None, focus=None, focus_end=None, frames: int = 48,
                   K: float = DEFAULT_K, K_end: Optional[float] = None, aperture: Union[Aperture, str, None] = None,
                   ease: str = "smooth", batch: int = 4, progress: bool = True) -> FocusPullResult:
        """A rack-focus animation from one photo: the focal plane moves from ``focus`` to ``focus_end``
        (any :class:`Focus` forms) over ``frames`` frames — linearly in disparity (a focus ring turns
        linearly in 1/distance), eased with smoothstep (``ease="smooth"``) or not (``"linear"``); K goes
        from ``K`` to ``K_end`` (default: ``K`` throughout). Frames are rendered ``batch`` at a time."""
        from tqdm.auto import tqdm

        x = self._image(image)
        if x.shape[0] != 1:
            raise InputError("image", "a focus pull takes one image")
        start = Focus.coerce(focus, "focus").check(x.shape[-2:], "focus")
        end = Focus.coerce(focus_end, "focus_end").check(x.shape[-2:], "focus_end")
        if not (isinstance(frames, int) and not isinstance(frames, bool) and 2 <= frames <= 1000):
            raise InputError("frames", f"must be an integer in [2, 1000], got {frames!r}")
        if not (isinstance(batch, int) and not isinstance(batch, bool) and batch >= 1):
            raise InputError("batch", f"must be a positive integer, got {batch!r}")
        if ease not in EASES:
            raise InputError("ease", f"must be 'smooth' or 'linear', got {ease!r}")
        K0 = validate_k(K)
        K1 = K0 if K_end is None else validate_k(K_end)
        aperture = parse_aperture(aperture)
        disp, _ = self.disparity_of(x, depth, disparity)
        disp = self._render_map(x, disp)
        d0 = prompt_focus(start, x, self.sam, self.text_detector).focus_disparity(disp, name="focus")
        d1 = prompt_focus(end, x, self.sam, self.text_detector).focus_disparity(disp, name="focus_end")
        t = torch.linspace(0.0, 1.0, frames, dtype=torch.float64)
        if ease == "smooth":
            t = t * t * (3 - 2 * t)
        focus_d = [d0 + (d1 - d0) * float(u) for u in t]
        ks = [K0 + (K1 - K0) * float(u) for u in t]
        out = []
        disp = disp.to(x.device)
        for i in tqdm(range(0, frames, batch), desc="focus pull", unit="batch", disable=not progress):
            n = min(batch, frames - i)
            coc = torch.cat([signed_coc(disp, ks[i + j], focus_d[i + j]) for j in range(n)])
            out.append(render_bokeh(x.expand(n, -1, -1, -1).contiguous(), coc, mode=self.mode, gamma=self.gamma,
                                    aperture=aperture))
        return FocusPullResult(frames=torch.cat(out), focus_disparity=focus_d, K=ks, disparity=disp)

    def _image(self, image) -> torch.Tensor:
        x = as_image(image)
        return x.to(self.device) if self.device is not None else x


__all__ = ["EASES", "EDGE_REFINED_MODES", "PhysicalRefocusPipeline"]
