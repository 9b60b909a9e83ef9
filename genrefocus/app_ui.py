"""The Gradio layout and event wiring of ``genrefocus app`` around a :class:`~genrefocus.app.RefocusSession`.

Every handler returns the status line as its last output: a problem (bad input, missing weights) is shown
there, and stays there, with what to do in the app — not as a toast that fades.
"""

import functools
import os
import socket
import time
from typing import Optional, Sequence

import numpy as np
import torch

from .app import DEBOUNCE_S, APERTURES, AppOptions, RefocusSession, depth_view, generative_status
from .errors import InputError, MissingWeightsError
from .io import to_uint8
from .optics.defocus import DEFAULT_K
from .parsing import DEFAULT_RENDER_MODE, RENDER_MODES


def mark_focus(image: torch.Tensor, points: Sequence[Optional[Sequence[float]]]) -> np.ndarray:
    """The photo as uint8 with a crosshair at each given point (yellow, then cyan, magenta)."""
    arr = to_uint8(image).copy()
    H, W = arr.shape[:2]
    r = max(6, round(0.02 * max(H, W)))
    for pt, colour in zip(points, ((255, 230, 0), (0, 230, 255), (255, 0, 200))):
        if pt is not None:
            x, y = int(round(pt[0])), int(round(pt[1]))
            for dy in (-1, 0, 1):
                arr[min(max(y + dy, 0), H - 1), max(x - r, 0):min(x + r + 1, W)] = colour
                arr[max(y - r, 0):min(y + r + 1, H), min(max(x + dy, 0), W - 1)] = colour
    return arr


def note_latest(session: RefocusSession, key: str, value) -> None:
    """Record ``value`` as the newest asked for under ``key`` (an unqueued event, at once)."""
    session.latest[key] = value


def still_latest(session: RefocusSession, key: str, value) -> bool:
    """After :data:`DEBOUNCE_S`, whether ``value`` is still the newest under ``key`` (a K typed as "8",
    "80" renders 80 only)."""
    time.sleep(DEBOUNCE_S)
    return session.latest.get(key, value) == value


def build_app(session: RefocusSession = None):
    """The Gradio Blocks of ``genrefocus app`` around ``session`` (a new one with default options)."""
    import gradio as gr

    session = session or RefocusSession()

    gen_missing = None if session.generative is not None else generative_status(session.options)
    depth_problem = session.depth_model_problem()

    def guarded(fn, n_outputs: int):
        """Problems become the status line (``⚠ …``); the other outputs keep their values."""
        @functools.wraps(fn)  # Gradio reads the signature: gr.Request / gr.SelectData parameters are injected
        def wrapped(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except (InputError, MissingWeightsError) as exc:
                return (*[gr.update()] * (n_outputs - 1), f"⚠ {exc}")
        return wrapped

    def on_inputs(photo, depth_map, map_kind, dp_pair):
        if not photo and not dp_pair:
            return None, None, None, None, "Upload a photo (or a dual-pixel pair) to start."
        scene = session.load(photo, depth_map, map_kind, dp_pair)
        H, W = scene.image.shape[-2:]
        focus = (W / 2.0, H / 2.0)
        note = f"{W}×{H} · depth: {scene.source}" + (f" · {scene.note}" if scene.note else "")
        return scene, focus, mark_focus(scene.image, [focus]), depth_view(scene.disparity), note

    def on_render(scene, focus, K, gamma, aperture, aperture_image, mode, request: gr.Request = None):
        if scene is None:
            return gr.update(), gr.update(), gr.update(), gr.update(), gr.update()
        key = getattr(request, "session_hash", "") or ""
        if not still_latest(session, key, float(K)):  # a newer K is on its way: render that one
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        r = session.render(scene, focus, K, gamma, aperture, aperture_image, mode)
        return (r.image, r.depth_view, gr.update(value=r.coc_view, label=r.legend),
                gr.update(value=str(r.png), interactive=True), r.summary)

    def on_k(K, request: gr.Request = None):
        note_latest(session, getattr(request, "session_hash", "") or "", float(K))

    def on_click(scene, target, focus, start, end, evt: gr.SelectData):
        if scene is None:
            return focus, start, end, None
        pt = (float(evt.index[0]), float(evt.index[1]))
        focus, start, end = (pt if target == "focus" else focus, pt if target == "pull start" else start,
                             pt if target == "pull end" else end)
        return focus, start, end, mark_focus(scene.image, [focus, start, end])

    def on_pull(scene, start, end, frames, K, K_end, gamma, aperture, aperture_image, mode, fmt):
        if scene is None:
            raise InputError("photo", "upload a photo first")
        if start is None or end is None:
            raise InputError("focus pull", "set its start and end: choose 'pull start' / 'pull end' and click")
        path = session.focus_pull(scene, start, end, int(frames), K, K_end, gamma, aperture, aperture_image,
                                  mode, fmt=fmt)
        return (str(path) if fmt == "gif" else None), str(path), f"focus pull written: {path.name}"

    def on_generative(scene, focus, K, steps, seed):
        if scene is None:
            raise InputError("photo", "upload a photo first")
        path = session.generative_refocus(scene, focus, K, int(steps), int(seed))
        return str(path), f"generative refocus written: {path.name}"

    def follow_k(K, touched):
        return gr.skip() if touched else K

    with gr.Blocks(title="genrefocus", analytics_enabled=False) as app:
        scene, focus = gr.State(None), gr.State(None)
        start, end, k_end_touched = gr.State(None), gr.State(None), gr.State(False)
        gr.Markdown("## genrefocus — refocus one photo\nUpload a photo, click on it to choose what is sharp, "
                    "then set the bokeh strength K and the aperture.")
        with gr.Row():
            with gr.Column(scale=1, min_width=280):
                photo = gr.File(label="Photo", file_types=["image", ".heic", ".heif"], type="filepath", elem_id="photo")
                depth_label = "Depth (optional)" if depth_problem is None else \
                    "Depth (required: no depth model found — upload a map)"
                with gr.Accordion(depth_label, open=depth_problem is not None, elem_id="depth-accordion"):
                    depth_map = gr.File(label="Depth or disparity map (.npy, .pfm, .png)", type="filepath",
                                        elem_id="depth-map")
                    map_kind = gr.Radio(["disparity", "depth"], value="disparity", elem_id="map-kind",
                                        label="The map holds", info="disparity: larger = nearer (.npy/.pfm as given, "
                                        "PNG normalised to [0, 1]); depth: metres (.npy/.pfm)")
                    dp_pair = gr.File(label="…or a dual-pixel pair (2-frame GIF/TIFF)", type="filepath",
                                      elem_id="dp-pair")
                K = gr.Slider(0, 100, value=DEFAULT_K, step=1, label="K (bokeh strength: CoC px per unit of disparity)",
                              elem_id="k-slider")
                gamma = gr.Slider(0.1, 10, value=4, step=0.1, label="gamma (highlight boost)", elem_id="gamma-slider")
                with gr.Row():
                    aperture = gr.Dropdown(list(APERTURES), value="disk", label="Aperture", elem_id="aperture")
                    mode = gr.Dropdown(list(RENDER_MODES), value=DEFAULT_RENDER_MODE, label="Renderer", elem_id="mode")
                with gr.Accordion("Aperture image", open=False):
                    aperture_image = gr.File(label="A grey image of the aperture (choose 'image' above)",
                                             file_types=["image"], type="filepath", elem_id="aperture-image")
                target = gr.Radio(["focus", "pull start", "pull end"], value="focus", label="A click sets",
                                  elem_id="click-target")
            with gr.Column(scale=3):
                with gr.Row():
                    picker = gr.Image(label="Photo — click to focus", interactive=False, type="numpy",
                                      elem_id="picker", format="png")
                    result = gr.Image(label="Refocused", interactive=False, type="numpy", format="png", elem_id="result")
                status = gr.Markdown(depth_problem and f"⚠ {depth_problem}" or "Upload a photo to start.",
                                     elem_id="status")
                download = gr.DownloadButton("Download PNG", interactive=False, elem_id="download")
                with gr.Row():
                    depth_out = gr.Image(label="Depth (bright = near)", interactive=False, elem_id="depth-view")
                    coc_out = gr.Image(label="CoC (red: in front, blue: behind, green: sharp)", interactive=False,
                                       elem_id="coc-view")
        with gr.Tabs():
            with gr.Tab("Focus pull"):
                gr.Markdown("Set 'A click sets' to *pull start* and click on the photo, then *pull end* and click; "
                            "then render. K goes from the slider's value to 'K at the end' (which follows K until you "
                            "move it).")
                with gr.Row():
                    frames = gr.Slider(2, 96, value=24, step=1, label="frames")
                    K_end = gr.Slider(0, 100, value=DEFAULT_K, step=1, label="K at the end", elem_id="k-end-slider")
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
                    gen_out = gr.Image(label="Generative result", interactive=False, type="filepath", format="png",
                                       elem_id="generative-result")
                    gen_btn.click(guarded(on_generative, 2), [scene, focus, K, steps, seed], [gen_out, status])
                else:
                    gr.Markdown(gen_missing, elem_id="generative-missing")

        render_in = [scene, focus, K, gamma, aperture, aperture_image, mode]
        render_out = [result, depth_out, coc_out, download, status]
        for comp in (photo, depth_map, map_kind, dp_pair):
            comp.change(guarded(on_inputs, 5), [photo, depth_map, map_kind, dp_pair],
                        [scene, focus, picker, depth_out, status], trigger_mode="always_last") \
                .then(guarded(on_render, 5), render_in, render_out)
        picker.select(on_click, [scene, target, focus, start, end], [focus, start, end, picker]) \
            .then(guarded(on_render, 5), render_in, render_out)
        K.change(on_k, [K], None, queue=False)
        K.change(follow_k, [K, k_end_touched], K_end, queue=False)
        K_end.input(lambda: True, None, k_end_touched, queue=False)
        for comp in (K, gamma, aperture, aperture_image, mode):
            comp.change(guarded(on_render, 5), render_in, render_out, trigger_mode="always_last")
        pull_btn.click(guarded(on_pull, 3),
                       [scene, start, end, frames, K, K_end, gamma, aperture, aperture_image, mode, fmt],
                       [pull_view, pull_file, status])
    return app


def serve(options: AppOptions, host: str = "127.0.0.1", port: int = 7860, share: bool = False) -> int:
    """Build the app and serve it (blocking); port 0 picks a free one."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    if port == 0:
        with socket.socket() as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
    session = RefocusSession(options)
    app = build_app(session)
    app.queue(default_concurrency_limit=1)
    print(f"genrefocus app on http://{host}:{port}" + (" (and a public share link)" if share else ""), flush=True)
    app.launch(server_name=host, server_port=port, share=share, allowed_paths=[str(session.out_dir)],
               show_error=True, inbrowser=False)
    return 0


__all__ = ["build_app", "mark_focus", "note_latest", "serve", "still_latest"]
