"""``genrefocus app``: the browser front end of the pipelines (Gradio), on 127.0.0.1 unless told otherwise.

* :class:`RefocusSession` — what each control does, as plain calls into the pipelines the CLI uses
  (:class:`~genrefocus.pipelines.PhysicalRefocusPipeline` with the same map units and K,
  :class:`~genrefocus.pipelines.DualPixelPipeline` for a dual-pixel pair,
  :class:`~genrefocus.pipelines.GenRefocusPipeline` for the generative tab). Tested without a browser.
* :func:`genrefocus.app_ui.build_app` — the Gradio layout and event wiring: click on the photo to focus, K / gamma sliders,
  aperture, renderer; the result, the depth map and the CoC map with a legend measured on the render; the
  PNG download; a focus-pull tab; a generative tab when FLUX.1-dev and the LoRA files are found (else what
  to download). The last problem stays in the status line with what to do in the app.
"""

from __future__ import annotations

import os
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .errors import InputError, MissingDependencyError, MissingWeightsError
from .hub import download_command
from .io import load_depth, load_disparity, load_dp_pair, load_image, save_animation, save_image, to_uint8
from .optics.apertures import parse_aperture
from .optics.defocus import DEFAULT_K, validate_k
from .parsing import DEFAULT_RENDER_MODE, RENDER_MODES, check_int
from .perception import DEPTH_ANYTHING_ID

#: built-in aperture choices ("image" = the uploaded file; any ``parse_aperture`` spec works)
APERTURES = ("disk", "polygon:5", "polygon:6", "polygon:8", "heart", "star", "image")
FLUX_ID = "black-forest-labs/FLUX.1-dev"
DEBOUNCE_S = 0.4  # a K typed digit by digit renders once, after the last digit


@dataclass(frozen=True)
class AppOptions:
    """How the app finds its models and sizes its work: ``depth_model`` for photos without a map;
    ``max_side`` downscales longer photos for interactive use (0 = never); ``flux_model`` / ``lora_dir``
    (generative tab); ``dp_checkpoint`` (a dual-pixel model folder, default the shipped DPDeblurNet);
    ``generative_depth_model`` (metric depth for the generative tab); ``out_dir`` (default a temp folder)."""

    depth_model: str = DEPTH_ANYTHING_ID
    allow_download: bool = False
    max_side: int = 2048
    device: Optional[str] = None
    flux_model: str = FLUX_ID
    lora_dir: Optional[Path] = None
    dp_checkpoint: Optional[Path] = None
    generative_depth_model: Optional[str] = None
    out_dir: Optional[Path] = None

    @classmethod
    def from_args(cls, args) -> "AppOptions":
        from .io import check_output_dir

        check_int("--port", args.port, 0, 65535)
        if args.max_side != 0:
            check_int("--max-side", args.max_side, 64, 20000)
        if args.dp_checkpoint and not Path(args.dp_checkpoint).is_dir():
            raise InputError("--dp-checkpoint", f"{args.dp_checkpoint!r} is not a folder")
        return cls(depth_model=args.depth_model, allow_download=args.allow_download, max_side=args.max_side,
                   device=args.device, flux_model=args.model, lora_dir=Path(args.lora_dir) if args.lora_dir else None,
                   dp_checkpoint=Path(args.dp_checkpoint) if args.dp_checkpoint else None,
                   generative_depth_model=args.generative_depth_model,
                   out_dir=check_output_dir(args.out_dir, "--out-dir") if args.out_dir else None)


def add_app_arguments(a) -> None:
    a.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1: this machine only)")
    a.add_argument("--port", type=int, default=7860, help="port (0: any free port)")
    a.add_argument("--share", action="store_true", help="also make a public Gradio share link")
    a.add_argument("--depth-model", default=DEPTH_ANYTHING_ID, help="depth model for photos uploaded without a map")
    a.add_argument("--allow-download", action="store_true", help="let missing Hub models download")
    a.add_argument("--max-side", type=int, default=2048, help="downscale longer photos for interactive use (0: never)")
    a.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: cpu for the physical path)")
    a.add_argument("--model", default=FLUX_ID, help="FLUX.1-dev folder or Hub id (generative tab)")
    a.add_argument("--lora-dir", default=None, help="folder of the Genfocus LoRA files (generative tab)")
    a.add_argument("--generative-depth-model", default=None, help="Depth Pro or Depth Anything folder or Hub id: "
                                                                  "depth for the generative tab (else upload metres)")
    a.add_argument("--dp-checkpoint", default=None, help="dual-pixel model folder (default: the shipped DPDeblurNet)")
    a.add_argument("--out-dir", default=None, help="where results are written (default: a temporary folder)")


@dataclass
class Scene:
    """A loaded photo: ``image`` ``(1, 3, H, W)``, the ``disparity`` every render uses (as the pipeline
    computes it from the map: 1/m for depth, as given for a float disparity, [0, 1] for a PNG, an
    estimate or a dual-pixel pair), metric ``depth_m`` when the user gave metres, and its source."""

    image: torch.Tensor
    disparity: torch.Tensor
    source: str
    depth_m: Optional[torch.Tensor] = None
    note: str = ""


@dataclass
class Rendered:
    """One render: the result, depth and CoC views (uint8 HWC), the CoC legend, the PNG for download."""

    image: np.ndarray
    depth_view: np.ndarray
    coc_view: np.ndarray
    png: Path
    summary: str
    legend: str = ""


@dataclass
class RefocusSession:
    """The app's calls into the pipelines (no Gradio here). Models load once, lazily, thread-safe."""

    options: AppOptions = field(default_factory=AppOptions)
    generative: Optional[object] = None  # a ready GenRefocusPipeline (tests, notebooks) or None

    def __post_init__(self):
        from .pipelines.physical import PhysicalRefocusPipeline

        self._models, self._lock, self._count = {}, threading.Lock(), 0
        self.out_dir = Path(self.options.out_dir or tempfile.mkdtemp(prefix="genrefocus_app_"))
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.physical = PhysicalRefocusPipeline(device=self.options.device, depth_model=self.options.depth_model,
                                                allow_download=self.options.allow_download)
        self.latest: dict = {}  # per browser session: the newest K asked for (debounce)

    def depth_model_problem(self) -> Optional[str]:
        """None when photos without a map can get an estimated depth, else why not and what to do."""
        try:
            from .errors import require

            require("transformers", "depth", "estimating depth")
            self.physical.check_depth_model()
        except (MissingWeightsError, MissingDependencyError, InputError) as exc:
            return (f"No depth model ({exc}). Upload a depth or disparity map with the photo (Depth), or restart "
                    f"the app with --depth-model DIR after `{download_command(DEPTH_ANYTHING_ID)}`.")
        return None

    def load(self, photo: Optional[str], depth_map: Optional[str] = None, map_kind: str = "disparity",
             dp_pair: Optional[str] = None) -> Scene:
        """Read the inputs into a :class:`Scene`: a DP pair wins (the dual-pixel model's all-in-focus image;
        its disparity min–max normalised, a relative map), then an uploaded map (``map_kind`` ``disparity``
        — .npy/.pfm as given, PNG relative — or ``depth``, metres), else the depth model on the photo."""
        if dp_pair:
            left, right = load_dp_pair(dp_pair)
            note = self._fit_note(left)
            out = self._dual_pixel().all_in_focus(self._fit(left), self._fit(right))
            d = out.disparity
            rel = (d - d.min()) / (d.max() - d.min()).clamp_min(1e-12)
            return Scene(out.aif, rel, f"dual-pixel pair (the DP model's all-in-focus image and disparity; split "
                                       f"{out.meta['axis']})", note=note)
        if not photo:
            raise InputError("photo", "upload a photo first")
        image = load_image(photo, name="photo")
        note, image = self._fit_note(image), self._fit(image)
        if map_kind not in ("disparity", "depth"):
            raise InputError("map kind", f"must be 'disparity' or 'depth', got {map_kind!r}")
        if depth_map and map_kind == "depth":
            depth = load_depth(depth_map, name="depth map")
            disp, _ = self.physical.disparity_of(image, depth=depth)
            return Scene(image, disp, "uploaded depth (m)", 1.0 / disp.clamp_min(1e-12), note)
        if depth_map:
            disp, _ = self.physical.disparity_of(image, disparity=load_disparity(depth_map, name="disparity map"))
            return Scene(image, disp, "uploaded disparity", note=note)
        problem = self.depth_model_problem()
        if problem:
            raise MissingWeightsError(problem)
        disp, units = self.physical.disparity_of(image)
        return Scene(image, disp, f"estimated ({self.options.depth_model}, {units})", note=note)

    def _fit(self, image: torch.Tensor) -> torch.Tensor:
        s, (H, W) = self.options.max_side, image.shape[-2:]
        if not s or max(H, W) <= s:
            return image
        size = (max(16, round(H * s / max(H, W))), max(16, round(W * s / max(H, W))))
        return F.interpolate(image, size=size, mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)

    def _fit_note(self, image: torch.Tensor) -> str:
        (H, W), s = image.shape[-2:], self.options.max_side
        return f"downscaled from {W}×{H} to a {s}-px long side for interactive use (--max-side)" \
            if s and max(H, W) > s else ""

    def _dual_pixel(self):
        from .pipelines.dual_pixel import DualPixelPipeline

        with self._lock:
            if "dp" not in self._models:
                self._models["dp"] = DualPixelPipeline.from_pretrained(self.options.dp_checkpoint)
            return self._models["dp"]

    # ----------------------------------------------------------------------------- rendering
    def render(self, scene: Scene, focus: Sequence[float], K: float = DEFAULT_K, gamma: float = 4.0,
               aperture: str = "disk", aperture_image: Optional[str] = None,
               mode: str = DEFAULT_RENDER_MODE) -> Rendered:
        """The physical render of ``scene`` focused at pixel ``focus`` (x, y), as ``genrefocus render``."""
        pipe = self._pipe(mode, gamma)
        with torch.no_grad():
            out = pipe(scene.image, disparity=scene.disparity, focus=_point(focus, scene), K=K,
                       aperture=self._aperture(aperture, aperture_image))
        view, legend = coc_view(out.coc)
        summary = (f"rendered · focus ({focus[0]:.0f}, {focus[1]:.0f}) at disparity {out.focus_disparity:.3f} · "
                   f"K={out.K:g} · gamma={pipe.gamma:g} · {out.meta['aperture']} · {mode} · depth: {scene.source}")
        return Rendered(to_uint8(out.image), depth_view(scene.disparity), view, self._write(out.image, "refocused"),
                        summary, legend)

    def focus_pull(self, scene: Scene, start: Sequence[float], end: Sequence[float], frames: int = 24,
                   K: float = DEFAULT_K, K_end: Optional[float] = None, gamma: float = 4.0,
                   aperture: str = "disk", aperture_image: Optional[str] = None, mode: str = DEFAULT_RENDER_MODE,
                   fps: float = 12.0, fmt: str = "gif") -> Path:
        """A rack-focus animation from ``start`` to ``end`` (x, y), as ``genrefocus focus-pull``."""
        if fmt not in ("gif", "mp4"):
            raise InputError("format", f"must be gif or mp4, got {fmt!r}")
        with torch.no_grad():
            out = self._pipe(mode, gamma).focus_pull(
                scene.image, disparity=scene.disparity, focus=_point(start, scene, "pull start"),
                focus_end=_point(end, scene, "pull end"), frames=int(frames), K=K, K_end=K_end,
                aperture=self._aperture(aperture, aperture_image), progress=False)
        self._count += 1
        return save_animation(out.frames, self.out_dir / f"focus_pull_{self._count:03d}.{fmt}", fps=fps)

    def generative_refocus(self, scene: Scene, focus: Sequence[float], K: float = DEFAULT_K, steps: int = 28,
                           seed: int = 42) -> Path:
        """DeblurNet → BokehNet at ``focus``, as ``genrefocus refocus``: metric depth when the user gave
        metres, else the pipeline's depth estimator."""
        pipe = self._generative()
        if scene.depth_m is None and getattr(pipe, "depth_estimator", None) is None:
            raise MissingWeightsError("generative refocus needs metric depth: upload a depth map in metres (map kind "
                                      "'depth'), or restart the app with --generative-depth-model DIR (Depth Pro, or a "
                                      "Depth Anything folder)")
        with torch.no_grad():
            out = pipe.refocus(scene.image, focus=_point(focus, scene), K=validate_k(K), depth=scene.depth_m,
                               num_inference_steps=int(steps), generator=torch.Generator("cpu").manual_seed(int(seed)))
        return self._write(out.image, "generative")

    def _generative(self):
        if self.generative is not None:
            return self.generative
        status = generative_status(self.options)
        if status is not None:
            raise MissingWeightsError(status)
        from .pipelines.generative import GenRefocusPipeline

        with self._lock:
            if "gen" not in self._models:
                self._models["gen"] = GenRefocusPipeline.from_options(_load_options(self.options))
            return self._models["gen"]

    def _pipe(self, mode: str, gamma: float):
        from .pipelines.physical import PhysicalRefocusPipeline

        return PhysicalRefocusPipeline(mode=mode, gamma=float(gamma), device=self.options.device)

    @staticmethod
    def _aperture(aperture: str, aperture_image: Optional[str]):
        if aperture == "image":
            if not aperture_image:
                raise InputError("aperture image", "choose 'image' only after uploading an aperture image")
            return parse_aperture(str(aperture_image))
        return parse_aperture(aperture)

    def _write(self, image: torch.Tensor, stem: str) -> Path:
        self._count += 1
        return save_image(image, self.out_dir / f"{stem}_{self._count:03d}.png")


# --------------------------------------------------------------------------------- views
def depth_view(disparity: torch.Tensor) -> np.ndarray:
    """Disparity ``(1, 1, H, W)`` → a magma-coloured uint8 ``(H, W, 3)`` (bright = near)."""
    from matplotlib import colormaps

    d = disparity[0, 0].float()
    d = (d - d.min()) / (d.max() - d.min()).clamp_min(1e-12)
    return (colormaps["magma"](d.numpy())[..., :3] * 255 + 0.5).astype(np.uint8)


def coc_view(coc: torch.Tensor) -> tuple:
    """Signed CoC ``(1, 1, H, W)`` px → ``(uint8 (H, W, 3), legend)``: green where sharp (|CoC| < 1 px), red in
    front of the focal plane, blue behind — from a dim 35 % at 1 px to full at the render's largest |CoC| (√
    scale), so a blurred pixel never reads as sharp; the legend states the measured extremes."""
    c = coc[0, 0].float()
    a = c.abs()
    peak = max(float(a.max()), 1.0)
    level = 0.35 + 0.65 * ((a - 1).clamp(min=0) / max(peak - 1, 1e-6)).sqrt()
    sharp = (1.5 - a).clamp(0, 1)  # 1 below 0.5 px, fading out by 1.5 px
    rgb = torch.stack([level * (c > 0) * (1 - sharp), sharp, level * (c < 0) * (1 - sharp)])
    front, behind = float(c.clamp(min=0).max()), float((-c).clamp(min=0).max())
    legend = (f"CoC — green: sharp (|CoC| < 1 px, {float((a < 1).float().mean()):.0%} of the photo) · red: in front, up "
              f"to {front:.0f} px · blue: behind, up to {behind:.0f} px (brighter: blurrier)")
    return to_uint8(rgb[None]), legend


def _load_options(options: AppOptions):
    from .pipelines.options import GenerativeLoadOptions

    return GenerativeLoadOptions(model=options.flux_model, lora_dir=str(options.lora_dir) if options.lora_dir else None,
                                 device=options.device, depth_model=options.generative_depth_model,
                                 allow_download=options.allow_download)


def generative_status(options: AppOptions) -> Optional[str]:
    """None when the generative tab can load (diffusers, FLUX.1-dev, the Genfocus LoRA files), else what to
    install or download."""
    try:
        from .errors import require

        require("diffusers", "gpu", "the generative tab")
        _load_options(options).check()
        return None
    except (MissingWeightsError, InputError) as exc:
        from .hub import login_command

        lora_dir = options.lora_dir or Path(os.environ.get("GENREFOCUS_LORA_DIR", "weights"))
        return ("Generative refocusing (DeblurNet + BokehNet on FLUX.1-dev, a GPU with ≥ 24 GB) is off: "
                f"{exc}. To turn it on: `{login_command()}`, `{download_command(FLUX_ID, local_dir='./FLUX.1-dev')}`, "
                f"`{download_command('nycu-cplab/Genfocus-Model', ('deblurNet.safetensors', 'bokehNet.safetensors'), lora_dir)}`"
                ", then restart the app with --model ./FLUX.1-dev --lora-dir " + str(lora_dir) + ".")


def _point(focus, scene: Scene, name: str = "focus") -> tuple:
    if focus is None:
        raise InputError(name, "click on the photo to choose it")
    from .optics.focus import Focus

    return Focus.point(float(focus[0]), float(focus[1])).check(scene.image.shape[-2:], name).value


__all__ = ["AppOptions", "RefocusSession", "Rendered", "Scene", "add_app_arguments", "coc_view",
           "depth_view", "generative_status", "DEBOUNCE_S"]
