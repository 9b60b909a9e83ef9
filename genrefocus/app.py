"""``genrefocus app``: the browser front end of the CLI's pipelines (Gradio).

Two layers, so that the app has no refocusing logic of its own:

* :class:`RefocusSession` — what each button does, as plain calls into the library: read the photo
  (and a depth/disparity map, or a dual-pixel pair → the UiD model's all-in-focus image and
  disparity; else the CPU depth model, Depth Anything V2 Small), then
  :class:`~genrefocus.pipelines.physical.PhysicalRefocusPipeline` (render, focus pull) or
  :class:`~genrefocus.pipelines.generative.GenRefocusPipeline` (generative tab). Tested without a
  browser.
* :func:`build_app` — the Gradio layout and event wiring around a session: click on the photo to set
  the focus, K / gamma sliders, aperture (built-in or an uploaded image), renderer; the result, the
  depth map and the CoC map; the PNG download; a focus-pull tab; a generative tab when FLUX.1-dev
  and the Genfocus LoRA files are found (else it says what to download).

The server binds to 127.0.0.1 unless told otherwise and makes no public share link unless asked.
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

from .errors import InputError, MissingWeightsError
from .io import load_depth, load_disparity, load_image, save_animation, save_image, to_uint8
from .optics.apertures import parse_aperture
from .optics.defocus import depth_to_disparity, resize_map, validate_k
from .optics.dp_disparity import disparity_to_rgb
from .parsing import DEFAULT_RENDER_MODE, RENDER_MODES
from .perception import DEPTH_ANYTHING_ID

#: built-in aperture choices of the app (any ``parse_aperture`` spec works; "image" = the uploaded file)
APERTURES = ("disk", "polygon:5", "polygon:6", "polygon:8", "heart", "star", "image")
DEFAULT_K = 30.0
FLUX_ID = "black-forest-labs/FLUX.1-dev"


@dataclass(frozen=True)
class AppOptions:
    """How ``genrefocus app`` finds its models and sizes its work.

    ``depth_model``: the relative depth model used when no map is uploaded. ``max_side``: photos with
    a longer side are downscaled (antialiased) for interactive rendering (0 = never). ``flux_model``,
    ``lora_dir``: the generative tab (shown only when both are found). ``dp_checkpoint``: UiD folder
    (default: the shipped one). ``generative_depth_model``: Depth Pro or Depth Anything for the
    generative tab's depth (else the user uploads metres). ``out_dir``: where results are written (default: a temp folder)."""

    depth_model: str = DEPTH_ANYTHING_ID
    allow_download: bool = False
    max_side: int = 2048
    device: Optional[str] = None
    flux_model: str = FLUX_ID
    lora_dir: Optional[Path] = None
    dp_checkpoint: Optional[Path] = None
    generative_depth_model: Optional[str] = None
    out_dir: Optional[Path] = None


@dataclass
class Scene:
    """A loaded photo: ``image`` ``(1, 3, H, W)``, normalised ``disparity`` ``(1, 1, H, W)`` (1 =
    nearest), metric ``depth_m`` when the user gave metres, and where the depth came from."""

    image: torch.Tensor
    disparity: torch.Tensor
    source: str
    depth_m: Optional[torch.Tensor] = None
    note: str = ""


@dataclass
class Rendered:
    """One render: the result, depth and CoC views (uint8 HWC) and the PNG written for download."""

    image: np.ndarray
    depth_view: np.ndarray
    coc_view: np.ndarray
    png: Path
    summary: str


@dataclass
class RefocusSession:
    """The app's calls into the library (no Gradio here). Models load once, lazily, thread-safe."""

    options: AppOptions = field(default_factory=AppOptions)
    generative: Optional[object] = None  # a ready GenRefocusPipeline (tests, notebooks) or None

    def __post_init__(self):
        self._models: dict = {}
        self._lock = threading.Lock()
        out = self.options.out_dir or Path(tempfile.mkdtemp(prefix="genrefocus_app_"))
        self.out_dir = Path(out)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._count = 0

    # ----------------------------------------------------------------------------- loading
    def load(self, photo: Optional[str], depth_map: Optional[str] = None, map_kind: str = "disparity",
             dp_pair: Optional[str] = None) -> Scene:
        """Read the inputs into a :class:`Scene`: a DP pair wins (UiD all-in-focus + disparity), then an
        uploaded map (``map_kind`` ``disparity`` — .npy/.pfm/.png, larger = nearer — or ``depth`` —
        metres, .npy/.pfm), else the depth model on the photo."""
        if dp_pair:
            from .models.dp_model import load_dp_pair

            left, right = load_dp_pair(dp_pair)
            left, right, note = self._fit(left), self._fit(right), self._fit_note(left)
            out = self._model("uid").all_in_focus(left, right)
            return Scene(out.aif, _normalise(out.disparity),
                         f"dual-pixel pair (the DP model's all-in-focus image and disparity; split {out.axis})", note=note)
        if not photo:
            raise InputError("photo", "upload a photo first")
        image = load_image(photo, name="photo")
        note = self._fit_note(image)
        image = self._fit(image)
        if depth_map:
            size = image.shape[-2:]
            if map_kind == "depth":
                depth = resize_map(load_depth(depth_map, name="depth map"), size)
                return Scene(image, _normalise(depth_to_disparity(depth)), "uploaded depth (m)", depth, note)
            if map_kind != "disparity":
                raise InputError("map kind", f"must be 'disparity' or 'depth', got {map_kind!r}")
            disp = resize_map(load_disparity(depth_map, name="disparity map"), size)
            return Scene(image, _normalise(disp), "uploaded disparity", note=note)
        with torch.no_grad():
            disp = self._model("depth").estimate(image).disparity.cpu()
        return Scene(image, disp, f"estimated ({self.options.depth_model}, relative)", note=note)

    def _fit(self, image: torch.Tensor) -> torch.Tensor:
        s = self.options.max_side
        H, W = image.shape[-2:]
        if not s or max(H, W) <= s:
            return image
        scale = s / max(H, W)
        size = (max(16, round(H * scale)), max(16, round(W * scale)))
        return F.interpolate(image, size=size, mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)

    def _fit_note(self, image: torch.Tensor) -> str:
        H, W = image.shape[-2:]
        s = self.options.max_side
        if s and max(H, W) > s:
            return f"downscaled from {W}×{H} to a {s}-px long side for interactive use (--max-side)"
        return ""

    def _model(self, kind: str):
        with self._lock:
            if kind not in self._models:
                self._models[kind] = self._load_model(kind)
            return self._models[kind]

    def _load_model(self, kind: str):
        from .hub import weights_source

        o = self.options
        if kind == "depth":
            from .perception import DepthAnything

            try:
                kw = weights_source(o.depth_model, "depth model", o.allow_download)
            except MissingWeightsError as exc:
                raise MissingWeightsError(f"{exc} — or upload a depth/disparity map with the photo") from None
            return DepthAnything.from_pretrained(o.depth_model, device=o.device, **kw)
        if kind == "uid":
            from .pipelines.dual_pixel import DPRefocusPipeline

            return DPRefocusPipeline.from_pretrained(o.dp_checkpoint)
        if kind == "generative":
            if self.generative is not None:
                return self.generative
            from .pipelines.generative import GenRefocusPipeline

            status = generative_status(o)
            if status is not None:
                raise MissingWeightsError(status)
            cuda = torch.cuda.is_available() and (o.device or "cuda").startswith("cuda")
            pipe = GenRefocusPipeline.from_pretrained(
                o.flux_model, dtype=torch.bfloat16 if cuda else torch.float32,
                **{f"{k}_lora": p for k, p in _lora_paths(o).items()},
                **weights_source(o.flux_model, "FLUX model", o.allow_download, marker="model_index.json"))
            device = o.device or ("cuda" if cuda else "cpu")
            if o.generative_depth_model:
                from .perception import load_depth_estimator

                pipe.depth_estimator = load_depth_estimator(
                    o.generative_depth_model, metric=True, device=device,
                    **weights_source(o.generative_depth_model, "generative depth model", o.allow_download))
            return pipe.to(device)
        raise KeyError(kind)

    # ----------------------------------------------------------------------------- rendering
    def render(self, scene: Scene, focus: Sequence[float], K: float = DEFAULT_K, gamma: float = 4.0,
               aperture: str = "disk", aperture_image: Optional[str] = None,
               mode: str = DEFAULT_RENDER_MODE) -> Rendered:
        """The physical render of ``scene`` focused at pixel ``focus`` (x, y), as ``genrefocus render``."""
        from .pipelines.physical import PhysicalRefocusPipeline

        K, ap = validate_k(K), self._aperture(aperture, aperture_image)
        pipe = PhysicalRefocusPipeline(mode=_mode(mode), gamma=_gamma(gamma), device=self.options.device)
        with torch.no_grad():
            out = pipe(scene.image, disparity=scene.disparity, K=K, focus_point=_point(focus, scene), aperture=ap)
        png = self._write(out.image, "refocused")
        x, y = focus
        summary = (f"rendered · focus ({x:.0f}, {y:.0f}) at disparity {out.focus_disparity:.3f} · K={K:g} · "
                   f"gamma={gamma:g} · {ap.__class__.__name__.lower()} · {mode} · depth: {scene.source}")
        return Rendered(to_uint8(out.image), depth_view(scene.disparity), coc_view(out.coc, K), png, summary)

    def focus_pull(self, scene: Scene, start: Sequence[float], end: Sequence[float], frames: int = 24,
                   K: float = DEFAULT_K, K_end: Optional[float] = None, gamma: float = 4.0,
                   aperture: str = "disk", aperture_image: Optional[str] = None, mode: str = DEFAULT_RENDER_MODE,
                   fps: float = 12.0, fmt: str = "gif") -> Path:
        """A rack-focus animation file from ``start`` to ``end`` (x, y), as ``genrefocus focus-pull``."""
        from .pipelines.physical import PhysicalRefocusPipeline

        if fmt not in ("gif", "mp4"):
            raise InputError("format", f"must be gif or mp4, got {fmt!r}")
        ap = self._aperture(aperture, aperture_image)
        pipe = PhysicalRefocusPipeline(mode=_mode(mode), gamma=_gamma(gamma), device=self.options.device)
        with torch.no_grad():
            out = pipe.focus_pull(scene.image, disparity=scene.disparity, start=_point(start, scene, "pull start"),
                                  end=_point(end, scene, "pull end"), frames=int(frames), K=K, K_end=K_end,
                                  aperture=ap, progress=False)
        self._count += 1
        return save_animation(out.frames, self.out_dir / f"focus_pull_{self._count:03d}.{fmt}", fps=fps)

    def generative_refocus(self, scene: Scene, focus: Sequence[float], K: float = 20.0, steps: int = 28,
                           seed: int = 42) -> Path:
        """DeblurNet → BokehNet at ``focus``, as ``genrefocus refocus``: metric depth when the user gave
        metres, else the pipeline's depth estimator (Depth Pro, or Depth Anything read with the nearest point at 1 m)."""
        pipe = self._model("generative")
        depth = scene.depth_m
        if depth is None and getattr(pipe, "depth_estimator", None) is None:
            raise MissingWeightsError("generative refocus needs metric depth: upload a depth map in metres "
                                      "(map kind 'depth'), or start the app with --generative-depth-model "
                                      "apple/DepthPro-hf (or a Depth Anything folder)")
        x, y = _point(focus, scene)
        gen = torch.Generator("cpu").manual_seed(int(seed))
        with torch.no_grad():
            out = pipe.refocus(scene.image, focus=(x, y), K=validate_k(K), depth=depth,
                               num_inference_steps=int(steps), generator=gen)
        return self._write(out.image, "generative")

    def _aperture(self, aperture: str, aperture_image: Optional[str]):
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
    """Normalised disparity ``(1, 1, H, W)`` → a magma-coloured uint8 ``(H, W, 3)`` (bright = near)."""
    from matplotlib import colormaps

    d = disparity[0, 0].float()
    d = (d - d.min()) / (d.max() - d.min()).clamp_min(1e-12)
    return (colormaps["magma"](d.numpy())[..., :3] * 255 + 0.5).astype(np.uint8)


def coc_view(coc: torch.Tensor, K: float) -> np.ndarray:
    """Signed CoC ``(1, 1, H, W)`` px → uint8 ``(H, W, 3)``: red in front of the focal plane, blue
    behind, green sharp; full colour at ``K`` px (the largest CoC a normalised map can reach)."""
    return to_uint8(disparity_to_rgb(coc, scale=max(float(K), 1e-6)))


def mark_focus(image: torch.Tensor, points: Sequence[Optional[Sequence[float]]]) -> np.ndarray:
    """The photo as uint8 with a crosshair at each given point (yellow, then cyan, magenta)."""
    arr = to_uint8(image).copy()
    H, W = arr.shape[:2]
    r = max(6, round(0.02 * max(H, W)))
    for pt, colour in zip(points, ((255, 230, 0), (0, 230, 255), (255, 0, 200))):
        if pt is None:
            continue
        x, y = int(round(pt[0])), int(round(pt[1]))
        for dy in (-1, 0, 1):
            arr[min(max(y + dy, 0), H - 1), max(x - r, 0):min(x + r + 1, W)] = colour
            arr[max(y - r, 0):min(y + r + 1, H), min(max(x + dy, 0), W - 1)] = colour
    return arr


def generative_status(options: AppOptions) -> Optional[str]:
    """None when FLUX.1-dev and the Genfocus LoRA files are found, else what to download."""
    from .hub import weights_source

    missing = []
    try:
        weights_source(options.flux_model, "FLUX model", options.allow_download, marker="model_index.json")
    except (MissingWeightsError, InputError):
        missing.append(f"FLUX.1-dev (`huggingface-cli login && huggingface-cli download {FLUX_ID} "
                       f"--local-dir ./FLUX.1-dev`, then start the app with `--model ./FLUX.1-dev`)")
    lora_missing = [p.name for p in _lora_paths(options).values() if not p.is_file()]
    if lora_missing:
        folder = _lora_dir(options)
        missing.append(f"the Genfocus LoRA files {', '.join(lora_missing)} in {folder} "
                       f"(`huggingface-cli download nycu-cplab/Genfocus-Model {' '.join(lora_missing)} "
                       f"--local-dir {folder}`, or `--lora-dir`)")
    if not missing:
        return None
    return "Generative refocusing (DeblurNet + BokehNet on FLUX.1-dev, a GPU with ≥ 24 GB) needs " + \
        " and ".join(missing) + "."


def _lora_dir(options: AppOptions) -> Path:
    from .pipelines.generative import default_lora_dir

    return Path(options.lora_dir) if options.lora_dir else default_lora_dir()


def _lora_paths(options: AppOptions) -> dict:
    from .models.tasks import LORA_FILES

    folder = _lora_dir(options)
    return {k: folder / LORA_FILES[k] for k in ("deblur", "bokeh")}


def _normalise(disp: torch.Tensor) -> torch.Tensor:
    """Min–max to [0, 1] (1 = nearest): the app's K is in px per unit of normalised disparity, the same
    scale whatever the map's source."""
    d = disp.float()
    lo, hi = d.min(), d.max()
    return (d - lo) / (hi - lo) if float(hi - lo) > 0 else torch.zeros_like(d)


def _point(focus, scene: Scene, name: str = "focus") -> tuple:
    if focus is None:
        raise InputError(name, "click on the photo to choose it")
    x, y = float(focus[0]), float(focus[1])
    H, W = scene.image.shape[-2:]
    if not (0 <= x < W and 0 <= y < H):
        raise InputError(name, f"({x:g}, {y:g}) lies outside the {W}×{H} photo")
    return x, y


def _mode(mode: str) -> str:
    if mode not in RENDER_MODES:
        raise InputError("renderer", f"unknown renderer {mode!r}; choose one of {', '.join(RENDER_MODES)}")
    return mode


def _gamma(gamma: float) -> float:
    g = float(gamma)
    if not 1.0 <= g <= 10.0:
        raise InputError("gamma", f"must be in [1, 10], got {g:g}")
    return g


# ------------------------------------------------------------------------------------ Gradio
def build_app(session: Optional[RefocusSession] = None):
    """The Gradio Blocks of ``genrefocus app`` around ``session`` (a new one with default options)."""
    import gradio as gr

    session = session or RefocusSession()
    gen_missing = None if session.generative is not None else generative_status(session.options)

    def guard(fn):
        """Input problems become one-line messages in the UI (gr.Error), bugs keep their traceback."""
        def wrapped(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except (InputError, MissingWeightsError) as exc:
                raise gr.Error(str(exc), print_exception=False) from None
        return wrapped

    @guard
    def on_inputs(photo, depth_map, map_kind, dp_pair):
        if not photo and not dp_pair:
            return None, None, None, None, "Upload a photo (or a dual-pixel pair) to start."
        scene = session.load(photo, depth_map, map_kind, dp_pair)
        H, W = scene.image.shape[-2:]
        focus = (W / 2.0, H / 2.0)
        note = f"{W}×{H} · depth: {scene.source}" + (f" · {scene.note}" if scene.note else "")
        return scene, focus, mark_focus(scene.image, [focus]), depth_view(scene.disparity), note

    @guard
    def on_render(scene, focus, K, gamma, aperture, aperture_image, mode):
        if scene is None:
            return None, None, None, gr.update(value=None, interactive=False), "Upload a photo to start."
        r = session.render(scene, focus, K, gamma, aperture, aperture_image, mode)
        return r.image, r.depth_view, r.coc_view, gr.update(value=str(r.png), interactive=True), r.summary

    def on_click(scene, target, focus, start, end, evt):
        if scene is None:
            return focus, start, end, None
        pt = (float(evt.index[0]), float(evt.index[1]))
        focus, start, end = (pt if target == "focus" else focus, pt if target == "pull start" else start,
                             pt if target == "pull end" else end)
        return focus, start, end, mark_focus(scene.image, [focus, start, end])

    # Gradio passes the click by type hint; set it as an object (this module's annotations are strings)
    on_click.__annotations__["evt"] = gr.SelectData

    @guard
    def on_pull(scene, start, end, frames, K, K_end, gamma, aperture, aperture_image, mode, fmt):
        if scene is None:
            raise InputError("photo", "upload a photo first")
        if start is None or end is None:
            raise InputError("focus pull", "set its start and end: choose 'pull start' / 'pull end' and click")
        path = session.focus_pull(scene, start, end, int(frames), K, K_end, gamma, aperture, aperture_image,
                                  mode, fmt=fmt)
        return (str(path) if fmt == "gif" else None), str(path)

    @guard
    def on_generative(scene, focus, K, steps, seed):
        if scene is None:
            raise InputError("photo", "upload a photo first")
        return str(session.generative_refocus(scene, focus, K, int(steps), int(seed)))

    with gr.Blocks(title="genrefocus", analytics_enabled=False) as app:
        scene, focus = gr.State(None), gr.State(None)
        start, end = gr.State(None), gr.State(None)
        gr.Markdown("## genrefocus — refocus one photo\nUpload a photo, click on it to choose what is sharp, "
                    "then set the bokeh strength K and the aperture.")
        with gr.Row():
            with gr.Column(scale=1, min_width=280):
                photo = gr.File(label="Photo", file_types=["image", ".heic", ".heif"], type="filepath",
                                elem_id="photo")
                with gr.Accordion("Depth (optional)", open=False, elem_id="depth-accordion"):
                    depth_map = gr.File(label="Depth or disparity map (.npy, .pfm, .png)", type="filepath",
                                        elem_id="depth-map")
                    map_kind = gr.Radio(["disparity", "depth"], value="disparity", elem_id="map-kind",
                                        label="The map holds", info="disparity: larger = nearer (any scale); "
                                        "depth: metres (.npy/.pfm)")
                    dp_pair = gr.File(label="…or a dual-pixel pair (2-frame GIF/TIFF)", type="filepath",
                                      elem_id="dp-pair")
                K = gr.Slider(0, 100, value=DEFAULT_K, step=1, label="K (bokeh strength, px)", elem_id="k-slider")
                gamma = gr.Slider(1, 8, value=4, step=0.1, label="gamma (highlight boost)", elem_id="gamma-slider")
                with gr.Row():
                    aperture = gr.Dropdown(list(APERTURES), value="disk", label="Aperture", elem_id="aperture")
                    mode = gr.Dropdown(list(RENDER_MODES), value=DEFAULT_RENDER_MODE, label="Renderer",
                                       elem_id="mode")
                with gr.Accordion("Aperture image", open=False):
                    aperture_image = gr.File(label="A grey image of the aperture (choose 'image' above)",
                                             file_types=["image"], type="filepath", elem_id="aperture-image")
                target = gr.Radio(["focus", "pull start", "pull end"], value="focus", label="A click sets",
                                  elem_id="click-target")
            with gr.Column(scale=3):
                with gr.Row():
                    picker = gr.Image(label="Photo — click to focus", interactive=False, type="numpy",
                                      elem_id="picker", format="png")
                    result = gr.Image(label="Refocused", interactive=False, type="numpy", format="png",
                                      elem_id="result")
                status = gr.Markdown("Upload a photo to start.", elem_id="status")
                download = gr.DownloadButton("Download PNG", interactive=False, elem_id="download")
                with gr.Row():
                    depth_out = gr.Image(label="Depth (bright = near)", interactive=False, elem_id="depth-view")
                    coc_out = gr.Image(label="CoC (red: in front, blue: behind, green: sharp)", interactive=False,
                                       elem_id="coc-view")
        with gr.Tabs():
            with gr.Tab("Focus pull"):
                gr.Markdown("Set 'A click sets' to *pull start* and click on the photo, then *pull end* and click; "
                            "then render. K goes from the slider's value to 'K at the end'.")
                with gr.Row():
                    frames = gr.Slider(2, 96, value=24, step=1, label="frames")
                    K_end = gr.Slider(0, 100, value=DEFAULT_K, step=1, label="K at the end")
                    fmt = gr.Radio(["gif", "mp4"], value="gif", label="format")
                pull_btn = gr.Button("Render focus pull", elem_id="pull-button")
                with gr.Row():
                    pull_view = gr.Image(label="Focus pull", interactive=False, elem_id="pull-view")
                    pull_file = gr.File(label="Animation", interactive=False, elem_id="pull-file")
            with gr.Tab("Generative (FLUX)"):
                if gen_missing is None:
                    gr.Markdown("DeblurNet → BokehNet at the clicked focus point with K from the slider.")
                    with gr.Row():
                        steps = gr.Slider(1, 50, value=28, step=1, label="steps")
                        seed = gr.Number(value=42, precision=0, label="seed")
                    gen_btn = gr.Button("Generative refocus", elem_id="generative-button")
                    gen_out = gr.Image(label="Generative result", interactive=False, type="filepath",
                                       format="png", elem_id="generative-result")
                    gen_btn.click(on_generative, [scene, focus, K, steps, seed], gen_out)
                else:
                    gr.Markdown(gen_missing, elem_id="generative-missing")

        render_in = [scene, focus, K, gamma, aperture, aperture_image, mode]
        render_out = [result, depth_out, coc_out, download, status]
        for comp in (photo, depth_map, map_kind, dp_pair):
            comp.change(on_inputs, [photo, depth_map, map_kind, dp_pair],
                        [scene, focus, picker, depth_out, status], trigger_mode="always_last") \
                .then(on_render, render_in, render_out)
        picker.select(on_click, [scene, target, focus, start, end], [focus, start, end, picker]) \
            .then(on_render, render_in, render_out)
        for comp in (K, gamma, aperture, aperture_image, mode):
            comp.change(on_render, render_in, render_out, trigger_mode="always_last")
        pull_btn.click(on_pull, [scene, start, end, frames, K, K_end, gamma, aperture, aperture_image, mode, fmt],
                       [pull_view, pull_file])
    return app


def launch(options: AppOptions, host: str = "127.0.0.1", port: int = 7860, share: bool = False) -> None:
    """Build the app and serve it (blocking)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    session = RefocusSession(options)
    app = build_app(session)
    app.queue(default_concurrency_limit=1)
    app.launch(server_name=host, server_port=port, share=share, allowed_paths=[str(session.out_dir)],
               show_error=True, inbrowser=False)


__all__ = ["AppOptions", "RefocusSession", "Rendered", "Scene", "build_app", "coc_view", "depth_view",
           "generative_status", "launch", "mark_focus"]
