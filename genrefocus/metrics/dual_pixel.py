"""Evaluations of a dual-pixel refocus model (docs/design.md §7).

* :func:`scene_lab_refocus` — exact scene-lab DP pairs captured focused on the background, refocused
  to the foreground layer; PSNR against the exact render for the model's own refocus, for the
  physical (layered) renderer driven by the model's own AIF and disparity (``c = d / 0.849``, focus
  at the mean disparity in the mask), and for the unchanged input.
* :func:`dp_validation` — the real Canon validation scenes (``canon_XX.gif`` pairs with
  ``canon_res_XX.gif``: blurry input, DPDNet's result, all-in-focus ground truth): PSNR / SSIM of
  each method's all-in-focus image, the top 50 label rows left out; ``single=True`` scores
  single-image deblurring (JDRL) on the same scenes, optionally with the warped protocol.
* :func:`fit_block_radii`, :func:`relation_blocks`, :func:`kernel_shape_fit` — the real capture's blur per block
  (radius, disparity per radius, which PSF family fits); :func:`resynthesize_capture` — its synthetic twin;
* :func:`dp_sign_consistency` — on a real DP capture: the model's disparity against OpenCV SGBM
  (model-free), sign agreement where ``|SGBM| ≥ 1 px``, and ``|d|`` in the sharpest / blurriest 20 %.
"""

from __future__ import annotations

import numpy as np
import torch

from ..optics.dp_disparity import HALF_DISK_DISPARITY, sgbm_disparity, sign_agreement
from ..optics.focus_measure import checkerboard_energy, laplacian, local_variance_of_laplacian, variance_of_laplacian
from ..optics.render import render_bokeh
from ..optics.scene_lab import make_scene
from .fidelity import psnr


def scene_lab_refocus(model, n: int = 8, size: int = 64, seed: int = 100, k_range=(3.0, 6.0),
                      return_images: bool = False, variants=None):
    """Rows ``{"K", "model_psnr", "physical_psnr", "input_psnr"}`` (dB) for ``n`` random two-layer scenes
    (background 6 m, foreground 1.2 m), plus the image rows ``[input, target, model, physical]`` when
    ``return_images``. ``model`` is the model's own ``refocus(left, right, mask)``; ``physical`` the
    layered renderer on the model's AIF with the CoC ``(d − d_f)/0.849`` (the exact pairs' hard split).
    ``variants`` ``{name: kwargs}`` (default ``{"model": {}}``) scores ``model.refocus(..., **kwargs)`` per
    name as ``"{name}_psnr"`` on the same exact pairs (images in that order; ``physical`` from the first)."""
    variants = variants or {"model": {}}
    rows, images = [], []
    p = next(model.parameters())
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        sc = make_scene((size, size), depths_m=(6.0, 1.2), seed=seed + i, textures=("brick", "coffee"))
        K = float(rng.uniform(*k_range))
        left, right = sc.dual_pixel(K, sc.planes[0].disparity)        # captured focused on the background
        target = sc.render(K, sc.planes[1].disparity)                  # exact: focused on the foreground
        mask = (sc.depth() == sc.planes[1].depth_m).float()
        with torch.no_grad():
            outs = {name: model.refocus(left.to(p), right.to(p), mask.to(p), **kw) for name, kw in variants.items()}
        refocused = {name: o["refocused"].float().cpu().clamp(0, 1) for name, o in outs.items()}
        first = next(iter(outs.values()))
        aif, disp = first["aif"].float().cpu().clamp(0, 1), first["disparity"].float().cpu()
        d_f = float((disp * mask).sum() / mask.sum())
        phys = render_bokeh(aif, (disp - d_f) / HALF_DISK_DISPARITY, mode="layered")
        blurry = (left + right) / 2
        rows.append({"K": K, **{f"{name}_psnr": float(psnr(x, target)[0]) for name, x in refocused.items()},
                     "physical_psnr": float(psnr(phys, target)[0]), "input_psnr": float(psnr(blurry, target)[0])})
        images.append([blurry, target, *refocused.values(), phys])
    return (rows, images) if return_images else rows


def synthetic_gain_curve(models: dict, photos, cocs=(2, 4, 6, 8, 10, 14, 20), n: int = 8, size: int = 128,
                         softness: float = 0.75, seed: int = 5, nsrs=(1e-3, 3e-3, 1e-2, 3e-2)) -> list:
    """In-distribution strength of dual-pixel deblurring models, by blur size: ``n`` one-plane pairs per CoC
    radius (crops of ``photos``, a :class:`~genrefocus.data.photos.PhotoPool` of photos no model trained on;
    flat-disk DP views of split ``softness`` — 0.75 gives a real Canon DSLR's 0.34 px of disparity per px
    of blur radius —, sensor noise), scored against the all-in-focus crop: PSNR (dB) of the mean of the two
    views (``input``), of each model's ``all_in_focus`` (``{name: model}``), and of the **Wiener
    deconvolution with the true kernel** (the disk of that radius, in linear light, with a gradient prior;
    the best of ``nsrs`` per radius — an oracle a blind model can only approach). One row per radius."""
    from ..optics.apertures import Disk
    from ..optics.dp_classical import wiener_deconvolve
    from ..optics.dp_synthesis import sensor_noise, synthesize_dp
    from ..optics.render import from_linear, to_linear

    rng, rows = np.random.default_rng(seed), []
    for c in cocs:
        scores = {k: [] for k in ("input", "wiener", *models)}
        for i in range(n):
            aif = photos.crop(rng, size)[None]
            left, right = synthesize_dp(aif, torch.full((1, 1, size, size), float(c) * (1 if i % 2 else -1)), softness)
            g = torch.Generator().manual_seed(i)
            left, right = sensor_noise(left, 5e-4, 0.003, g), sensor_noise(right, 5e-4, 0.003, g)
            mean = (left + right) / 2
            scores["input"].append(float(psnr(mean, aif)[0]))
            lin, k = to_linear(mean, "srgb"), Disk().kernel(float(c))
            scores["wiener"].append(max(float(psnr(from_linear(wiener_deconvolve(lin, k, s).clamp(0, 1), "srgb"), aif)[0])
                                        for s in nsrs))
            for name, model in models.items():
                with torch.no_grad():
                    scores[name].append(float(psnr(model.all_in_focus(left, right)["aif"], aif)[0]))
        rows.append({"coc": c, **{k: float(np.mean(v)) for k, v in scores.items()}})
    return rows


def dp_sign_consistency(model, left: torch.Tensor, right: torch.Tensor, max_disp: int = 8) -> dict:
    """Disparity of ``model`` on a DP pair ``(1, 3, H, W)`` (sides multiples of 2^(stages−1)) compared
    with SGBM; returns the numbers and the two maps (``"disparity"``, ``"sgbm"``)."""
    p = next(model.parameters())
    with torch.no_grad():
        disp = model.disparity_features(left.to(p), right.to(p))[1].float().cpu()
    ref, valid = sgbm_disparity(left, right, max_disp=max_disp)
    lv = local_variance_of_laplacian((left + right) / 2)
    sharp, blur = lv > lv.quantile(0.8), lv < lv.quantile(0.2)
    return {"sign_agreement": sign_agreement(disp, ref, valid),
            "abs_disp_sharp": float(disp[sharp].abs().mean()), "abs_disp_blurry": float(disp[blur].abs().mean()),
            "sgbm_abs_sharp": float(ref[sharp & valid].abs().mean()),
            "sgbm_abs_blurry": float(ref[blur & valid].abs().mean()),
            "disparity": disp, "sgbm": torch.where(valid, ref, torch.zeros_like(ref))}


def blur_disparity_relation(data_dir, scenes=range(6), patch: int = 48, top: int = 50, min_texture: float = 2e-4) -> dict:
    """What a real DP camera's disparity says about its blur, measured on the validation scenes (never
    trained on): :func:`relation_blocks` of each ``canon_XX`` pair with its ``canon_res_XX`` capture and
    f/22 ground truth, rows ``top:``. Returns ``{"disparity_px", "radius_px", "scene"}`` arrays — their
    ratio is the camera's ``f`` (DP disparity per CoC radius), which the synthesis assumes (0.60 for a flat
    disk with τ = 0.3)."""
    from pathlib import Path

    from ..io import load_frames

    out = {"disparity_px": [], "radius_px": [], "scene": []}
    for i in scenes:
        blurry, _, gt = load_frames(Path(data_dir) / f"canon_res_{i:02d}.gif", n=3)
        left, right = load_frames(Path(data_dir) / f"canon_{i:02d}.gif", n=2)
        d, r = relation_blocks(*(t[..., top:, :] for t in (left, right, blurry, gt)), patch, min_texture)
        out["disparity_px"] += d
        out["radius_px"] += r
        out["scene"] += [i] * len(d)
    return {k: np.asarray(v) for k, v in out.items()}


def relation_slope(disparity_px, radius_px, min_radius: float = 0.0) -> float:
    """Least-squares slope through the origin of ``|d|`` over ``r`` (arrays from
    :func:`relation_blocks` / :func:`blur_disparity_relation`), blocks with ``r ≥ min_radius`` only: the
    DP disparity per blur radius."""
    d, r = np.asarray(disparity_px, float), np.asarray(radius_px, float)
    keep = r >= min_radius
    return float((d[keep] * r[keep]).sum() / (r[keep] ** 2).sum())


def _blocks(t: torch.Tensor, patch: int) -> torch.Tensor:
    """``(H, W)`` → ``(H // patch, W // patch, patch²)``: the whole blocks of ``t``, flattened."""
    nby, nbx = t.shape[-2] // patch, t.shape[-1] // patch
    return t[:nby * patch, :nbx * patch].reshape(nby, patch, nbx, patch).permute(0, 2, 1, 3).reshape(nby, nbx, -1)


def block_errors(image: torch.Tensor, truth: torch.Tensor, patch: int = 48) -> torch.Tensor:
    """Mean squared error of ``image`` against ``truth`` (both ``(1, C, H, W)``) per whole ``patch``-px block:
    ``(H // patch, W // patch)`` — the blocks of :func:`fit_block_radii`, to score by blur size."""
    return _blocks(((image.float() - truth.float()) ** 2).mean(1)[0], patch).mean(-1)


def fit_block_radii(blurry: torch.Tensor, sharp: torch.Tensor, patch: int = 48,
                    radii=tuple(np.arange(0.0, 12.01, 0.5)), kernel=None) -> tuple:
    """Per ``patch``-px block, the blur radius ``r`` (px, from ``radii``) that best turns ``sharp`` into
    ``blurry`` (both ``(1, 3, H, W)`` sRGB, least squares on the grey level in linear light, where blur is a
    convolution). ``kernel(r) → (k, k)`` tensor (sum 1) is the PSF family tried — default the flat disk
    (:class:`~genrefocus.optics.apertures.Disk`). Returns ``(radius (nby, nbx), error (nby, nbx), base (nby,
    nbx))``: the best radius, its mean squared error and the error of ``sharp`` itself."""
    from ..optics.apertures import Disk
    from ..optics.fftconv import fft_convolve
    from ..optics.render import to_linear

    kernel = kernel or (lambda r: Disk().kernel(r))
    b, g = to_linear(blurry, "srgb").mean(1, keepdim=True), to_linear(sharp, "srgb").mean(1, keepdim=True)
    err = torch.stack([_blocks(((fft_convolve(g, kernel(float(r)), padding="replicate") if r >= 0.5 else g)
                                - b)[0, 0] ** 2, patch).mean(-1) for r in radii])
    best, idx = err.min(0)
    return torch.tensor(np.asarray(radii, np.float32))[idx], best, _blocks(((g - b)[0, 0]) ** 2, patch).mean(-1)


def relation_blocks(left, right, blurry, sharp, patch: int = 48, min_texture: float = 2e-4,
                    radii=tuple(np.arange(0.0, 12.01, 0.5))) -> tuple:
    """Per ``patch``-px block of a DP pair ``left``, ``right`` ``(1, 3, H, W)`` with its combined capture
    ``blurry`` and an all-in-focus ``sharp`` of the same scene: the SGBM ``|d|`` (median over valid
    pixels) and the disk radius ``r`` of :func:`fit_block_radii`. Blocks without texture in ``sharp`` (mean
    squared gradient < ``min_texture``) or with < 50 % valid matches are left out. Returns ``(list of |d|,
    list of r)``."""
    from ..optics.render import to_linear

    d, valid = sgbm_disparity(left, right, max_disp=16)
    rad, _, _ = fit_block_radii(blurry, sharp, patch, radii)
    texture, dv, vv = _texture(to_linear(sharp, "srgb"), patch), _blocks(d[0, 0], patch), _blocks(valid[0, 0].float(), patch)
    disp, out_r = [], []
    for y, x in zip(*np.nonzero(((texture >= min_texture) & (vv.mean(-1) >= 0.5)).numpy())):
        disp.append(float(dv[y, x][vv[y, x] > 0].abs().median()))
        out_r.append(float(rad[y, x]))
    return disp, out_r


def _texture(linear: torch.Tensor, patch: int) -> torch.Tensor:
    """Mean squared gradient of the grey level per block ``(nby, nbx)``."""
    gy, gx = torch.gradient(linear.mean(1)[0])
    return _blocks(gx ** 2 + gy ** 2, patch).mean(-1)


def kernel_shape_fit(data_dir, kernels: dict, scenes=range(6), patch: int = 48, top: int = 50,
                     min_texture: float = 2e-4, min_radius: float = 2.0) -> dict:
    """Which PSF family explains the real Canon blur best: for each ``{name: kernel(r)}`` and each textured
    block of the validation captures whose best disk radius is ≥ ``min_radius`` px,
    :func:`fit_block_radii`'s residual. Returns ``{name: {"mse_ratio": Σ residual / Σ residual of the
    first kernel, "wins": fraction of blocks where it beats the first kernel}}`` and ``"blocks"``."""
    from pathlib import Path

    from ..io import load_frames
    from ..optics.render import to_linear

    errs, ref_r = {k: [] for k in kernels}, []
    for i in scenes:
        blurry, _, gt = (t[..., top:, :] for t in load_frames(Path(data_dir) / f"canon_res_{i:02d}.gif", n=3))
        keep = _texture(to_linear(gt, "srgb"), patch) >= min_texture
        for name, k in kernels.items():
            r, e, base = fit_block_radii(blurry, gt, patch, kernel=k)
            errs[name].append(torch.minimum(e, base)[keep].numpy())
            if name == next(iter(kernels)):
                ref_r.append(r[keep].numpy())
    sel = np.concatenate(ref_r) >= min_radius
    e = {k: np.concatenate(v)[sel] for k, v in errs.items()}
    first = e[next(iter(kernels))]
    return {"blocks": int(sel.sum()),
            **{k: {"mse_ratio": float(v.sum() / first.sum()), "wins": float(np.mean(v < first))} for k, v in e.items()}}


def _block_signs(left, right, patch: int) -> torch.Tensor:
    """Per block ``(nby, nbx)``, ±1: the sign of SGBM's median disparity over its matched pixels; blocks
    with fewer than 20 % matched pixels (image borders, flat areas) take the sign of the nearest block that has them."""
    from scipy import ndimage

    d, valid = sgbm_disparity(left, right, max_disp=16)
    dv, vv = _blocks(d[0, 0], patch), _blocks(valid[0, 0], patch)
    med = torch.tensor([[float(dv[y, x][vv[y, x]].median()) if vv[y, x].float().mean() >= 0.2 else float("nan")
                         for x in range(dv.shape[1])] for y in range(dv.shape[0])])
    known = ~torch.isnan(med)
    if not bool(known.any()):
        return torch.ones_like(med)
    iy, ix = ndimage.distance_transform_edt(~known.numpy(), return_distances=False, return_indices=True)
    return torch.where(med[torch.from_numpy(iy), torch.from_numpy(ix)] < 0, -1.0, 1.0)


def resynthesize_capture(left, right, blurry, sharp, patch: int = 48, softness: float = 0.75, seed: int = 0) -> dict:
    """A synthetic twin of a real DP capture: the all-in-focus ``sharp`` ``(1, 3, H, W)`` of the scene
    blurred by :func:`~genrefocus.optics.dp_synthesis.synthesize_dp` with the real capture's blur — per
    ``patch``-px block the disk radius of :func:`fit_block_radii` (``blurry`` against ``sharp``), its sign
    from SGBM's disparity of the real ``left``, ``right``, bilinear between block centres —, split
    ``softness`` (0.75: the real Canon's 0.34 px of disparity per px of radius), mild sensor noise and a
    GIF palette as the real views. Real content and real blur sizes through the synthesis: a model that
    deblurs this twin better than the real pair is limited by the synthesis gap, one that does equally
    badly by its own strength. Returns ``{"left", "right", "coc", "block_radius"}``: ``coc`` ``(1, 1, H, W)``
    signed px, ``block_radius`` ``(nby, nbx)`` the fitted radius of each block."""
    import torch.nn.functional as F

    from ..optics.dp_synthesis import gif_palette, sensor_noise, synthesize_dp

    H, W = sharp.shape[-2:]
    rad, _, _ = fit_block_radii(blurry, sharp, patch)
    coc = (rad * _block_signs(left, right, patch))[None, None]
    nby, nbx = rad.shape
    coc = F.interpolate(coc, size=(nby * patch, nbx * patch), mode="bilinear", align_corners=False)
    coc = F.pad(coc, (0, W - nbx * patch, 0, H - nby * patch), mode="replicate")
    sl, sr = synthesize_dp(sharp, coc, softness=softness, gamma="srgb")
    g = torch.Generator().manual_seed(seed)
    sl, sr = sensor_noise(sl, 1e-3, 0.003, g), sensor_noise(sr, 1e-3, 0.003, g)
    return {"left": gif_palette(sl), "right": gif_palette(sr), "coc": coc, "block_radius": rad}


def canon_scores(outs: dict, gt: torch.Tensor, top: int = 50, align=None, with_ssim: bool = True) -> dict:
    """PSNR / SSIM of each image in ``outs`` against ``gt``, rows ``top:``, and its ``detail``: the variance of
    its Laplacian over that of ``outs["input"]`` (> 1: sharper than the input; the ground truth's own ratio is
    ``row["gt"]["detail"]``), and its ``grid``: its :func:`~genrefocus.optics.focus_measure.checkerboard_energy`
    over the input's (the pixel-scale pattern; the truth's own ratio beside it, ``row["gt"]["grid"]``, says how
    much of it a real sharp frame holds). With ``align(pred, gt) →
    gt moved onto pred`` (JDRL's warped protocol, paper 004 §4: Î vs I_S^w) also ``psnr_w`` /
    ``ssim_w`` — a real pair is itself slightly misaligned. ``with_ssim=False`` skips SSIM (PSNR only)."""
    from .fidelity import ssim

    row = {}
    ref = outs.get("input")
    lv_in = float(variance_of_laplacian(ref[..., top:, :])[0]) if ref is not None else None
    cb_in = float(checkerboard_energy(ref[..., top:, :])[0]) if ref is not None else None
    for n, x in list(outs.items()) + [("gt", gt)]:
        a, b = x[..., top:, :], gt[..., top:, :]
        detail = float(variance_of_laplacian(a)[0]) / lv_in if lv_in else float("nan")
        grid = float(checkerboard_energy(a)[0]) / cb_in if cb_in else float("nan")
        if n == "gt":
            row["gt"] = {"detail": detail, "grid": grid}
            continue
        row[n] = {"psnr": float(psnr(a, b)[0]), "detail": detail, "grid": grid}
        if with_ssim:
            row[n]["ssim"] = float(ssim(a, b)[0])
        if align is not None:
            bw = align(x, gt)[..., top:, :]
            row[n]["psnr_w"] = float(psnr(a, bw)[0])
            if with_ssim:
                row[n]["ssim_w"] = float(ssim(a, bw)[0])
    return row


def detail_by_focus(scenes: list, edges=(1.2, 2.0, 4.0), tile: int = 32, top: int = 50) -> dict:
    """Where each image's fine detail goes, by how defocused each part of the frame is.

    ``scenes``: one ``{name: (1, C, H, W)}`` per scene, each with ``"input"`` and ``"gt"`` (rows ``top:``
    are used). Every frame is cut into ``tile``-px tiles; a tile's *energy* is the mean square of the
    luma's 4-neighbour Laplacian (:func:`~genrefocus.optics.focus_measure.laplacian`); each tile is binned by
    the truth's own ratio (its energy over the input's: about 1 where the input is in focus, well over 1 where
    it is defocused) at ``edges``. Returns ``{"bins": [(lo, hi), …], "share": [the input's energy in each
    bin over its total], name: [Σ energy of the image / Σ energy of the input, per bin]}``, pooled over
    the scenes (a bin with no tiles gives ``nan``)."""
    if not scenes or any("input" not in s or "gt" not in s for s in scenes):
        raise ValueError("detail_by_focus: every scene needs 'input' and 'gt' images")
    bounds = [0.0, *edges, float("inf")]
    if any(b <= a for a, b in zip(bounds, bounds[1:])):
        raise ValueError(f"detail_by_focus: edges must be positive and increasing, got {edges}")
    bins = list(zip(bounds[:-1], bounds[1:]))
    names = list(scenes[0])
    sums = {n: np.zeros(len(bins)) for n in names}

    def energy(x):
        return torch.nn.functional.avg_pool2d(laplacian(x[..., top:, :].float()) ** 2, tile)[0, 0].flatten()

    for images in scenes:
        e = {n: energy(images[n]) for n in names}
        ratio = e["gt"] / e["input"].clamp_min(1e-12)
        for k, (lo, hi) in enumerate(bins):
            sel = (ratio >= lo) & (ratio < hi)
            for n in names:
                sums[n][k] += float(e[n][sel].sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        out = {n: (sums[n] / sums["input"]).tolist() for n in names}
    return {"bins": bins, "share": (sums["input"] / sums["input"].sum()).tolist(), **out}


def grid_ratios(photo: torch.Tensor, methods: dict) -> dict:
    """``{name: checkerboard energy of fn(photo) over the photo's}`` for ``methods`` ``{name: fn(x) → image}``
    on ``photo`` ``(1, 3, H, W)`` in [0, 1] (outputs clamped to [0, 1]): the pixel-scale grid each method draws
    (:func:`~genrefocus.optics.focus_measure.checkerboard_energy`; about 1: none added)."""
    g0 = float(checkerboard_energy(photo)[0])
    with torch.no_grad():
        return {n: float(checkerboard_energy(fn(photo).clamp(0, 1))[0]) / g0 for n, fn in methods.items()}


def delivered_scores(photos: dict, models: dict) -> dict:
    """How models treat real photos stored as the shared Canon frames are.

    ``photos``: ``{name: (1, 3, H, W)}`` in [0, 1], as they are; ``models``: ``{name: obj with .deblur(x)}``.
    Returns ``{"detail": {photo: {model or "clean": ratio}}, "grid": {photo: {model: ratio}}}``: *detail* —
    each photo halved (Lanczos) and stored through a 256-colour palette with Floyd–Steinberg dithering, the
    variance of the Laplacian of each model's output over that frame's ("clean": the halved photo before the
    palette, what a model that removed only the dither would score); *grid* — the
    :func:`~genrefocus.optics.focus_measure.checkerboard_energy` of each model's output over the photo's, on
    the photo as it is (a user's file; :func:`grid_ratios`)."""
    from ..io import resize_image
    from ..optics.dp_synthesis import gif_palette

    detail, grid = {}, {}
    for name, x in photos.items():
        clean = resize_image(x, (x.shape[-2] // 2, x.shape[-1] // 2)).clamp(0, 1)
        frame = gif_palette(clean, dither=True)
        v0 = float(variance_of_laplacian(frame)[0])
        detail[name] = {"clean": float(variance_of_laplacian(clean)[0]) / v0,
                        **{n: float(variance_of_laplacian(m.deblur(frame))[0]) / v0 for n, m in models.items()}}
        grid[name] = grid_ratios(x, {n: m.deblur for n, m in models.items()})
    return {"detail": detail, "grid": grid}


def dp_validation(data_dir, methods: dict, scenes=range(6), top: int = 50, single: bool = False,
                  align=None, with_ssim: bool = True) -> tuple:
    """Score all-in-focus / deblurring methods on the real validation scenes in ``data_dir``.

    ``methods``: ``{name: fn(left, right) → aif (1, 3, H, W)}``, or with ``single=True``
    ``{name: fn(blurry) → sharp}`` on the single blurry image (frame 0 of ``canon_res``); the rows also
    hold ``input`` (that frame) and ``dpdnet`` (frame 1), all against frame 2 (f/22 ground truth), rows
    ``top:`` (:func:`canon_scores`, ``align`` for the warped protocol). Returns ``(rows, images)``: per
    scene ``{"scene", <name>: {"psnr", "ssim"[, "psnr_w", "ssim_w"]}}`` and the images
    ``{name: (1, 3, H, W)}`` incl. ``"gt"``."""
    from pathlib import Path

    from ..io import load_frames

    rows, images = [], []
    for i in scenes:
        blurry, dpdnet, gt = load_frames(Path(data_dir) / f"canon_res_{i:02d}.gif", n=3)
        args = (blurry,) if single else load_frames(Path(data_dir) / f"canon_{i:02d}.gif", n=2)
        outs = {"input": blurry, **{n: fn(*args).float().cpu().clamp(0, 1) for n, fn in methods.items()},
                "dpdnet": dpdnet}
        rows.append({"scene": f"canon_{i:02d}", **canon_scores(outs, gt, top, align, with_ssim)})
        images.append({**outs, "gt": gt})
    return rows, images
