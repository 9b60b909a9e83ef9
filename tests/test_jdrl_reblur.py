"""JDRL's reblurring pieces (paper 004): Eq. 9 kernels against a direct transcription of the authors'
per-element loop, their symmetry, sum and support; reblurring a point light; Eq. 6 on a constructed
flow; Eq. 13's shape and weighting."""

import json
import math

import numpy as np
import pytest
import torch

from genrefocus.models.jdrl_reblur import SEED_LENGTHS, Reblur, apply_kernels, calibration_mask, isotropic_kernels, pseudo_defocus_map, reblur_with
from genrefocus.models.losses import charbonnier


def _authors_kernel(a: torch.Tensor) -> torch.Tensor:
    """Eq. 9 for one seed vector, element by element as the authors' ``KernelConv._list_core``: value by
    the distance to the centre (floor/ceil interpolation, 0 beyond), then a softmax over all taps."""
    i = a.numel()
    k = 2 * i - 1
    mid = i - 1
    val = torch.zeros(k, k, dtype=torch.float64)
    for y in range(k):
        for x in range(k):
            d = math.sqrt((y - mid) ** 2 + (x - mid) ** 2)
            lo, hi = math.floor(d), math.ceil(d)
            if d > mid:
                val[y, x] = 0.0
            elif lo == hi:
                val[y, x] = abs(a[lo])
            else:
                val[y, x] = (d - lo) * abs(a[lo + 1]) + (hi - d) * abs(a[lo])
    return torch.softmax(val.flatten(), 0).view(k, k)


def test_isotropic_kernels_match_the_authors_construction_and_are_symmetric():
    g = torch.Generator().manual_seed(0)
    seeds = torch.randn(2, sum(SEED_LENGTHS), 3, 4, generator=g, dtype=torch.float64) * 2
    kernels = isotropic_kernels(seeds)
    offset = 0
    for i, ks in zip(SEED_LENGTHS, kernels):
        k = 2 * i - 1
        assert ks.shape == (2, k * k, 3, 4)  # stated support (2i−1)²
        assert torch.allclose(ks.sum(1), torch.ones(2, 3, 4, dtype=torch.float64))
        one = ks[1, :, 2, 3].view(k, k)
        ref = _authors_kernel(seeds[1, offset:offset + i, 2, 3])
        assert torch.allclose(one, ref, atol=1e-12)
        for sym in (one.t(), one.flip(0), one.flip(1), one.rot90(1, (0, 1))):  # radially symmetric
            assert torch.allclose(one, sym, atol=1e-12)
        assert (one > 0).all()
        offset += i


def test_reblurring_a_point_light_with_one_hot_weights_gives_that_kernel():
    H = W = 21
    point = torch.zeros(1, 3, H, W, dtype=torch.float64)
    point[..., 10, 10] = 1.0
    seeds = torch.randn(1, sum(SEED_LENGTHS), 1, 1, dtype=torch.float64).expand(-1, -1, H, W).contiguous()
    kernels = isotropic_kernels(seeds)
    for level, i in enumerate(SEED_LENGTHS, start=1):
        w = torch.zeros(1, len(SEED_LENGTHS) + 1, H, W, dtype=torch.float64)
        w[:, level] = 1.0
        out = reblur_with(point, seeds, w)
        k, r = 2 * i - 1, i - 1
        expect = kernels[level - 1][0, :, 10, 10].view(k, k)
        assert torch.allclose(out[0, 0, 10 - r:11 + r, 10 - r:11 + r], expect, atol=1e-12)
        assert float(out.sum()) == pytest.approx(3.0)  # energy kept (the point is far from the border)
    w = torch.zeros(1, len(SEED_LENGTHS) + 1, H, W, dtype=torch.float64)
    w[:, 0] = 1.0
    assert torch.equal(reblur_with(point, seeds, w), point)  # level 1 is the identity


def test_combined_kernel_reblur_equals_the_level_by_level_sum_of_eq11():
    g = torch.Generator().manual_seed(3)
    sharp = torch.rand(2, 3, 17, 19, generator=g, dtype=torch.float64)
    seeds = torch.randn(2, sum(SEED_LENGTHS), 17, 19, generator=g, dtype=torch.float64)
    weights = torch.softmax(torch.randn(2, len(SEED_LENGTHS) + 1, 17, 19, generator=g, dtype=torch.float64), 1)
    levels = [sharp] + [apply_kernels(sharp, k) for k in isotropic_kernels(seeds)]   # Eq. 11 as written
    expect = sum(weights[:, i:i + 1] * img for i, img in enumerate(levels))
    assert torch.allclose(reblur_with(sharp, seeds, weights), expect, atol=1e-12)


def test_calibration_mask_is_eq6_on_a_constructed_flow():
    flow = torch.zeros(1, 2, 10, 10)
    flow[:, 0] = 3.0                      # |Φ| = 3 px almost everywhere
    flow[:, :, :2] = 0.0                  # 20 px of no motion (a failed match)
    flow[:, 1, 8:] = 4.0                  # 20 px of |Φ| = 5
    mag = flow.norm(dim=1)
    mean = float(mag.mean())              # (60·3 + 20·0 + 20·5) / 100 = 2.8
    assert mean == pytest.approx(2.8)
    m = calibration_mask(flow, lam=0.35)[0, 0]
    expected = ((mag[0] > 0.65 * mean) & (mag[0] < 1.35 * mean)).float()  # 1.82 < |Φ| < 3.78
    assert torch.equal(m, expected)
    assert float(m[2:8].min()) == 1.0 and float(m[:2].max()) == 0.0 and float(m[8:].max()) == 0.0
    assert calibration_mask(torch.zeros(1, 2, 6, 6)).min() == 1.0  # aligned pair: nothing is an anomaly


def test_pseudo_defocus_map_and_reblur_module_shapes():
    torch.manual_seed(0)
    r = Reblur(nf=8, blocks=1)
    sharp, blurry = torch.rand(2, 3, 24, 20), torch.rand(2, 3, 24, 20)
    out = r(sharp, blurry)
    assert out["reblurred"].shape == sharp.shape and out["weights"].shape == (2, 8, 24, 20)
    assert torch.allclose(out["weights"].sum(1), torch.ones(2, 24, 20), atol=1e-6)
    bp = pseudo_defocus_map(out["weights"], out["seeds"])
    assert bp.shape == (2, sum(SEED_LENGTHS), 24, 20)
    # level i's channels are its seeds times its own weight map
    assert torch.allclose(bp[:, :2], out["seeds"][:, :2].abs() * out["weights"][:, 1:2])
    assert float(charbonnier(sharp, sharp)) == pytest.approx(1e-3)


def test_flow_and_warp_undo_a_known_misalignment():
    """OpenCV DIS flow finds a known shift of a real photo; warping the moved image back restores it."""
    import numpy as np
    from skimage import data

    from genrefocus.metrics.fidelity import psnr
    from genrefocus.perception.flow import OpenCVFlow, warp

    img = torch.from_numpy(data.astronaut()[100:228, 100:228].astype(np.float32) / 255).permute(2, 0, 1)[None]
    true = torch.zeros(1, 2, 128, 128)
    true[:, 0], true[:, 1] = 1.5, -1.0
    moved = warp(img, true)                       # moved(p) = img(p + (1.5, −1))
    for method in ("dis", "farneback"):
        f = OpenCVFlow(method)(img, moved)        # moved(p + f) ≈ img  →  f ≈ −true
        inner = f[..., 16:-16, 16:-16]
        assert torch.allclose(inner.median(-1).values.median(-1).values, -true[:, :, 0, 0], atol=0.25)
        back = warp(moved, f)
        assert float(psnr(back[..., 8:-8, 8:-8], img[..., 8:-8, 8:-8])[0]) > float(psnr(moved, img)[0]) + 8


def test_warp_modes_against_an_exact_subpixel_shift():
    """A sub-pixel shift of a real photo against scipy's Fourier shift (exact for the periodic image; the
    border strip left out): every mode lands near it, Lanczos-4 closest, then bicubic, then bilinear, and
    they keep the photo's fine detail in that order; an integer shift is exact in every mode; 'lanczos'
    refuses a tensor that needs a gradient, 'bicubic' passes one."""
    import numpy as np
    from scipy import ndimage
    from skimage import data

    from genrefocus.metrics.fidelity import psnr
    from genrefocus.perception.flow import warp

    grey = data.camera()[128:256, 200:328].astype(np.float64) / 255
    dx, dy = 0.5, -0.3                                  # moved(p) = img(p + (dx, dy))
    exact = np.fft.ifft2(ndimage.fourier_shift(np.fft.fft2(grey), (-dy, -dx))).real
    img = torch.from_numpy(grey).float()[None, None]
    flow = torch.zeros(1, 2, 128, 128)
    flow[:, 0], flow[:, 1] = dx, dy
    ref = torch.from_numpy(exact).float()[None, None]
    inner = (Ellipsis, slice(12, -12), slice(12, -12))
    scores = {m: float(psnr(warp(img, flow, m)[inner].clamp(0, 1), ref[inner].clamp(0, 1))[0])
              for m in ("bilinear", "bicubic", "lanczos")}
    print(scores)
    assert scores["lanczos"] > scores["bicubic"] > scores["bilinear"] > 25
    assert scores["lanczos"] > 35

    def detail(x):
        return float(np.var(ndimage.laplace(x[0, 0].numpy())[12:-12, 12:-12]))

    d = {m: detail(warp(img, flow, m)) for m in ("bilinear", "bicubic", "lanczos")}
    assert d["lanczos"] > d["bicubic"] > d["bilinear"] and d["bilinear"] < 0.8 * detail(ref)
    whole = torch.zeros(1, 2, 128, 128)
    whole[:, 0] = 2.0
    for m in ("bilinear", "bicubic", "lanczos"):
        assert torch.allclose(warp(img, whole, m)[..., :, :-2], img[..., :, 2:], atol=1e-5)
    with pytest.raises(ValueError, match="lanczos"):
        warp(img.clone().requires_grad_(), flow, "lanczos")
    x = img.clone().requires_grad_()
    warp(x, flow, "bicubic").sum().backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0
    with pytest.raises(ValueError, match="mode"):
        warp(img, flow, "nearest")
    with pytest.raises(ValueError, match="flow"):
        warp(img, flow[..., :64], "bilinear")


def test_sharp_loss_warps_do_not_hold_a_perfect_output_to_a_smoothed_truth():
    """L_D for an output equal to the aligned truth, the ground truth a known sub-pixel move of it and the
    flow exact: with the official bilinear warps the loss is far from its floor (the warped truth has lost
    detail the output has, so a smoother output would score better); with ``warp="sharp"`` its excess over
    the floor is less than half."""
    import numpy as np
    from skimage import data

    from genrefocus.models.jdrl_reblur import Reblur
    from genrefocus.perception.flow import warp
    from genrefocus.training.jdrl import JDRLTrainConfig, jdrl_loss

    truth = torch.from_numpy(data.astronaut()[160:256, 180:276].astype(np.float32) / 255).permute(2, 0, 1)[None]
    t = torch.zeros(1, 2, 96, 96)
    t[:, 0], t[:, 1] = 0.5, 0.4                              # target(p) = truth(p + t)
    target = warp(truth, t, "lanczos").clamp(0, 1)

    class Perfect(torch.nn.Module):                          # the ideal deblurring model's output
        def forward(self, x):
            return {"sharp": truth.clone().requires_grad_(), "defocus": torch.zeros(1, 35, 96, 96)}

    def exact_flow(a, b):                                    # b(p + f) ≈ a(p)
        return -t if b is target else t

    batch = {"blurry": truth, "target": target}
    got = {}
    for mode in ("bilinear", "sharp"):
        torch.manual_seed(0)
        cfg = JDRLTrainConfig(warp=mode, lam=10.0, flow_warmup_steps=0)
        got[mode] = jdrl_loss(Perfect(), Reblur(nf=4, blocks=1), batch, exact_flow, cfg, step=1)[1]["l_d"]
    floor = 2e-3                                             # two Charbonnier terms of a zero difference
    print(got)
    assert 0 < got["sharp"] - floor < (got["bilinear"] - floor) / 2
    # the optional Fourier term (lam_fft, not in Eq. 2) joins L_D with its weight, on either spectrum
    for fft in ("complex", "amplitude"):
        torch.manual_seed(0)
        cfg = JDRLTrainConfig(warp="sharp", lam=10.0, flow_warmup_steps=0, lam_fft=0.5, fft=fft)
        parts = jdrl_loss(Perfect(), Reblur(nf=4, blocks=1), batch, exact_flow, cfg, step=1)[1]
        assert parts["l_fft"] > 0 and abs(parts["l_d"] - got["sharp"] - 0.5 * parts["l_fft"]) < 1e-5
    # so does the local Laplacian-energy term (lam_detail); it charges the ideal output well under half of
    # what it charges that output smoothed by a Gaussian of σ 1 px
    from skimage.filters import gaussian

    soft = torch.from_numpy(gaussian(truth[0].numpy(), 1.0, channel_axis=0).astype(np.float32))[None]

    class Soft(Perfect):
        def forward(self, x):
            return {**super().forward(x), "sharp": soft.clone().requires_grad_()}

    cfg = JDRLTrainConfig(warp="sharp", lam=10.0, flow_warmup_steps=0, lam_detail=0.5)
    detail = {}
    for name, model in (("ideal", Perfect()), ("soft", Soft())):
        torch.manual_seed(0)
        detail[name] = jdrl_loss(model, Reblur(nf=4, blocks=1), batch, exact_flow, cfg, step=1)[1]
    assert abs(detail["ideal"]["l_d"] - got["sharp"] - 0.5 * detail["ideal"]["l_detail"]) < 1e-5
    assert 0 < detail["ideal"]["l_detail"] < 0.5 * detail["soft"]["l_detail"]
    # with detail_coc_max the term counts only where the pair's CoC is at most that: a CoC map over it
    # everywhere switches it off, one under it everywhere leaves it as it was, half and half lands between
    coc = torch.zeros(1, 1, 96, 96)
    coc[..., 48:] = 6.0
    for value, want in ((0.0, detail["soft"]["l_detail"]), (6.0, 0.0)):
        torch.manual_seed(0)
        cfg = JDRLTrainConfig(warp="sharp", lam=10.0, flow_warmup_steps=0, lam_detail=0.5, detail_coc_max=4.0)
        parts = jdrl_loss(Soft(), Reblur(nf=4, blocks=1), {**batch, "coc": torch.full((1, 1, 96, 96), value)},
                          exact_flow, cfg, step=1)[1]
        assert parts["l_detail"] == pytest.approx(want, abs=1e-7)
    torch.manual_seed(0)
    half = jdrl_loss(Soft(), Reblur(nf=4, blocks=1), {**batch, "coc": coc}, exact_flow, cfg, step=1)[1]["l_detail"]
    assert 0 < half and half != pytest.approx(detail["soft"]["l_detail"])


def test_jdrl_model_trainer_and_cli(tmp_path, capsys):
    """Both losses train a step and resume; the CLI backend runs a checkpoint on the CPU and says what
    to do when none is there."""
    import json

    from genrefocus.cli import main
    from genrefocus.io import save_image
    from genrefocus.models.jdrl import JDRLConfig, JDRLDeblur
    from genrefocus.training.jdrl import JDRLTrainConfig, train_jdrl

    model = JDRLDeblur(JDRLConfig(width=4, levels=2, map_width=4))
    x = torch.rand(1, 3, 30, 45)
    assert torch.equal(model.deblur(x), x)  # the output layer starts at zero: identity
    for loss in ("l1", "jdrl"):
        kw = dict(loss=loss, steps=2, batch_size=1, size=32, model={"width": 4, "levels": 2, "map_width": 4},
                  checkpointing_steps=1, log_every=1, flow_warmup_steps=1)
        train_jdrl(JDRLTrainConfig(output_dir=str(tmp_path / loss), **kw), progress=False)
        steps = [json.loads(line)["step"] for line in (tmp_path / loss / "loss.jsonl").read_text().splitlines()]
        assert steps == [0, 1]
    train_jdrl(JDRLTrainConfig(output_dir=str(tmp_path / "jdrl"), resume_from_checkpoint="latest", **kw), progress=False)
    save_image(torch.rand(1, 3, 40, 52), tmp_path / "in.png")
    assert main(["deblur", "--backend", "jdrl", "--checkpoint", str(tmp_path / "jdrl"), "--input",
                 str(tmp_path / "in.png"), "-o", str(tmp_path / "out.png")]) == 0
    assert (tmp_path / "out.png").is_file()
    assert main(["deblur", "--backend", "jdrl", "--checkpoint", str(tmp_path / "none"), "--input",
                 str(tmp_path / "in.png"), "-o", str(tmp_path / "out2.png")]) == 2
    assert "training/train.py jdrl" in capsys.readouterr().err


def test_trainer_starts_from_a_model_folder_and_refuses_one_that_does_not_fit(tmp_path):
    """``init_from`` (``--init-from``): the run starts from the folder's weights (a zero learning rate
    leaves them unchanged); a folder of another architecture is one clear error."""
    from safetensors.torch import load_file

    from genrefocus.errors import InputError
    from genrefocus.models.jdrl import JDRLConfig, JDRLDeblur
    from genrefocus.training.jdrl import JDRLTrainConfig, train_jdrl

    small = {"width": 4, "levels": 2, "map_width": 4}
    torch.manual_seed(5)
    start = JDRLDeblur(JDRLConfig(**small))
    torch.nn.init.normal_(start.out.weight, std=0.05)
    start.save_pretrained(tmp_path / "start")
    kw = dict(loss="l1", steps=1, batch_size=1, size=32, checkpointing_steps=0, log_every=1,
              init_from=str(tmp_path / "start"))
    train_jdrl(JDRLTrainConfig(output_dir=str(tmp_path / "ft"), model=small, learning_rate=1e-30, warmup=0, **kw),
               progress=False)
    got, want = load_file(str(tmp_path / "ft" / "model.safetensors")), start.state_dict()
    assert all(torch.allclose(got[k], want[k]) for k in want)
    assert "initialised_from" not in json.loads((tmp_path / "ft" / "train_log.json").read_text())  # no log there
    # a continuation of a trained run: its train log carries the chain and the totals
    train_jdrl(JDRLTrainConfig(output_dir=str(tmp_path / "ft2"), model=small, **{**kw, "steps": 2,
                                                                                  "init_from": str(tmp_path / "ft")}),
               progress=False)
    first, second = (json.loads((tmp_path / d / "train_log.json").read_text()) for d in ("ft", "ft2"))
    assert second["initialised_from"] == first
    assert second["total_steps"] == 3 and second["total_seconds"] == pytest.approx(first["seconds"] + second["seconds"], abs=0.11)
    with pytest.raises(InputError, match="init_from.*does not fit"):
        train_jdrl(JDRLTrainConfig(output_dir=str(tmp_path / "bad"), model={**small, "width": 8}, **kw),
                   progress=False)
    with pytest.raises(InputError, match="init_from"):
        JDRLTrainConfig(output_dir=str(tmp_path / "x"), init_from=str(tmp_path / "nowhere"))


def test_real_pair_readers_feed_the_trainer(tmp_path):
    """SDD (the authors' ``train_patches/{blur,gt}`` layout) and DPDD (``train_c/{source,target}``)
    pairs: crops take the same window and augmentation from both images, and a training step runs."""
    import json

    from genrefocus.data.readers import sdd
    from genrefocus.errors import InputError
    from genrefocus.io import save_image
    from genrefocus.training.jdrl import JDRLTrainConfig, train_jdrl
    from genrefocus.data.real_pairs import CropSampler, deblur_items

    g = torch.Generator().manual_seed(0)
    for i in range(2):
        img = torch.rand(1, 3, 48, 64, generator=g)
        for d in ("sdd/train_patches/blur", "sdd/train_patches/gt", "dpdd/train_c/source", "dpdd/train_c/target"):
            save_image(img, tmp_path / d / f"{i:03d}.png")   # target = input: a crop must match exactly
    assert [r["id"] for r in sdd(tmp_path / "sdd", "train_patches")] == ["sdd_000", "sdd_001"]
    rng = np.random.default_rng(0)
    for spec in (f"sdd:{tmp_path / 'sdd'}", f"dpdd:{tmp_path / 'dpdd'}"):
        pairs = CropSampler(deblur_items(spec))
        for _ in range(4):
            s = pairs.sample(rng, 32)
            assert s["blurry"].shape == (1, 3, 32, 32) and torch.equal(s["blurry"], s["target"])
    with pytest.raises(InputError, match="do not fit"):
        pairs.sample(rng, 80)
    with pytest.raises(InputError, match="data"):
        JDRLTrainConfig(data="nope:/x")
    kw = dict(steps=1, batch_size=2, size=32, model={"width": 4, "levels": 2, "map_width": 4}, log_every=1,
              checkpointing_steps=0, data=f"sdd:{tmp_path / 'sdd'}")
    train_jdrl(JDRLTrainConfig(output_dir=str(tmp_path / "run"), **kw), progress=False)
    assert json.loads((tmp_path / "run" / "train_log.json").read_text())["config"]["data"].startswith("sdd:")


def test_misaligned_pair_reports_the_coc_that_blurred_it():
    """The pair's ``coc`` is the true kernel: ``aligned`` re-blurred by OpenCV's disk filters (integer radii,
    each pixel interpolating the two around its CoC, in the renderer's gamma-4 light) matches ``blurry`` to
    about its noise, the field stays in [0, coc_max], and the target is further from the aligned crop."""
    import cv2

    from genrefocus.data.misaligned import misaligned_pair
    from genrefocus.data.photos import PhotoPool
    from genrefocus.metrics.fidelity import psnr

    pool = PhotoPool()
    rng = np.random.default_rng(3)
    for _ in range(6):
        p = misaligned_pair(pool, rng, 64, coc_max=6.0)
        c = p["coc"][0, 0].numpy()
        assert p["coc"].shape == (1, 1, 64, 64) and c.min() >= 0 and c.max() <= 6.0
        lin = p["aligned"][0].permute(1, 2, 0).numpy() ** 4
        blurs = [lin] + [cv2.filter2D(lin, -1, d / d.sum(), borderType=cv2.BORDER_REFLECT) for d in
                         (cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)).astype(np.float32)
                          for r in range(1, 7))]
        lo = np.floor(c).astype(int).clip(0, 5)
        w = (c - lo)[..., None]
        ref = np.choose(lo[..., None], blurs) * (1 - w) + np.choose(lo[..., None] + 1, blurs) * w
        ref = torch.from_numpy(ref.clip(0, 1) ** 0.25).permute(2, 0, 1)[None].float()
        m = int(np.ceil(c.max())) + 1
        fit = float(psnr(ref[..., m:-m, m:-m], p["blurry"][..., m:-m, m:-m])[0])
        wrong = float(psnr(p["aligned"][..., m:-m, m:-m], p["blurry"][..., m:-m, m:-m])[0])
        print(f"CoC {c.min():.1f}–{c.max():.1f} px: re-blur vs blurry {fit:.1f} dB, unblurred {wrong:.1f} dB")
        # small CoCs: integer disks are coarse; near-flat crops (unblurred within 40 dB): nothing to tell
        assert fit > 30 and (fit > wrong + 3 or c.max() < 2 or wrong > 40)
        assert float(psnr(p["target"], p["aligned"])[0]) < fit


def test_misaligned_pair_palette_changes_only_the_input():
    """``palette=1``: the same pair (target, truth, CoC field) with the input stored through a 256-colour
    palette — at most 256 distinct colours, within a few levels of the unpaletted input; ``palette=0`` keeps
    the random stream, so the next pair is the same as before the option existed."""
    from genrefocus.data.misaligned import misaligned_pair
    from genrefocus.data.photos import PhotoPool
    from genrefocus.metrics.fidelity import psnr

    pool = PhotoPool(("astronaut", "coffee"))
    plain_rng, pal_rng, old_rng = (np.random.default_rng(5) for _ in range(3))
    plain = misaligned_pair(pool, plain_rng, 64, palette=0.0)
    pal = misaligned_pair(pool, pal_rng, 64, palette=1.0)
    old = misaligned_pair(pool, old_rng, 64)
    for k in ("target", "aligned", "coc"):
        assert torch.equal(plain[k], pal[k]) and torch.equal(plain[k], old[k])
    assert torch.equal(plain["blurry"], old["blurry"])
    colours = np.unique((pal["blurry"][0].permute(1, 2, 0).reshape(-1, 3).numpy() * 255).round(), axis=0)
    assert len(colours) <= 256 < len(np.unique((plain["blurry"][0].permute(1, 2, 0).reshape(-1, 3).numpy() * 255).round(), axis=0))
    assert 30 < float(psnr(pal["blurry"], plain["blurry"])[0]) < 60
    nxt_plain, nxt_old = misaligned_pair(pool, plain_rng, 64), misaligned_pair(pool, old_rng, 64)
    assert torch.equal(nxt_plain["blurry"], nxt_old["blurry"])


def test_misaligned_pair_dither_adds_the_palette_dot_pattern_to_the_input_only():
    """``dither=True`` draws the same pair (target, truth, CoC field; and the next pair as the undithered palette);
    its input has at most 256 colours, the same local means as the undithered palette's (block means
    within a level) and more fine texture than both the plain input and the undithered palette's — the
    dot pattern of the shared Canon frames."""
    from genrefocus.data.misaligned import misaligned_pair
    from genrefocus.data.photos import PhotoPool
    from genrefocus.optics.focus_measure import variance_of_laplacian

    pool = PhotoPool(("astronaut", "coffee"))
    rngs = [np.random.default_rng(3) for _ in range(3)]
    plain, pal, dit = (misaligned_pair(pool, r, 64, coc_max=6.0, palette=p, dither=d)
                       for r, p, d in zip(rngs, (0.0, 1.0, 1.0), (False, False, True)))
    for k in ("target", "aligned", "coc"):
        assert torch.equal(pal[k], dit[k]) and torch.equal(plain[k], dit[k])
    colours = np.unique((dit["blurry"][0].reshape(3, -1).T.numpy() * 255).round(), axis=0)
    assert len(colours) <= 256
    means = [torch.nn.functional.avg_pool2d(p["blurry"], 8) for p in (plain, dit)]
    assert float((means[0] - means[1]).abs().mean()) < 1.5 / 255
    lv = [float(variance_of_laplacian(p["blurry"])[0]) for p in (plain, pal, dit)]
    assert lv[2] > 1.3 * max(lv[0], lv[1])
    nxt = [misaligned_pair(pool, r, 64) for r in rngs]
    assert torch.equal(nxt[1]["blurry"], nxt[2]["blurry"])   # dithering draws nothing from the stream


def test_detail_by_focus_bins_tiles_by_the_truths_own_ratio():
    """Left half in focus (input = truth), right half defocused (CoC 4 px): the left tiles fall in the first
    bin, the right ones in the last; the input scores 1 everywhere, the truth 1 in focus and many times
    more where the input was defocused, a smoothed input under 1 in both; the shares sum to 1; a bin's
    figure matches a brute-force sum over the tiles with SciPy's Laplacian."""
    from scipy import ndimage

    from genrefocus.data.photos import photo_array
    from genrefocus.metrics.dual_pixel import detail_by_focus
    from genrefocus.optics.render import render_bokeh

    gt = torch.from_numpy(photo_array("astronaut")).permute(2, 0, 1)[None, :, 100:292, 100:356].contiguous()
    blurred = render_bokeh(gt, torch.full_like(gt[:, :1], 4.0), mode="layered")
    inp = torch.cat([gt[..., :128], blurred[..., 128:]], -1)
    smooth = render_bokeh(inp, torch.full_like(inp[:, :1], 1.5), mode="layered")
    r = detail_by_focus([{"input": inp, "gt": gt, "smooth": smooth}], top=0)
    print({k: [round(v, 2) for v in r[k]] for k in ("share", "input", "gt", "smooth")})
    assert r["bins"][0] == (0.0, 1.2) and r["bins"][-1] == (4.0, float("inf"))
    assert sum(r["share"]) == pytest.approx(1.0) and r["share"][0] > 0.8    # the sharp half holds the energy
    assert all(v == pytest.approx(1.0) for v in r["input"] if v == v)
    assert r["gt"][0] == pytest.approx(1.0, abs=0.05) and r["gt"][-1] > 4
    assert r["smooth"][0] < 0.7 and r["smooth"][-1] < 1

    def energy(x):   # brute force: luma (Rec. 601), SciPy's 4-neighbour Laplacian, 32-px tile means
        y = (0.299 * x[0, 0] + 0.587 * x[0, 1] + 0.114 * x[0, 2]).double().numpy()
        lap = ndimage.convolve(y, np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], float), mode="nearest")
        return (lap ** 2).reshape(6, 32, 8, 32).mean((1, 3))

    e_in, e_gt = energy(inp), energy(gt)
    sel = e_gt / e_in >= 4
    assert r["gt"][-1] == pytest.approx(e_gt[sel].sum() / e_in[sel].sum(), rel=0.05)


def test_detail_by_focus_rejects_scenes_without_input_or_truth_and_bad_edges():
    from genrefocus.metrics.dual_pixel import detail_by_focus

    x = torch.rand(1, 3, 64, 64)
    for scenes, edges in (([{"input": x}], (2.0,)), ([], (2.0,)), ([{"input": x, "gt": x}], (2.0, 1.0))):
        with pytest.raises(ValueError, match="detail_by_focus"):
            detail_by_focus(scenes, edges, top=0)


def test_checkerboard_energy_closed_form():
    """``checkerboard_energy``: a checkerboard of amplitude ``c`` on grey gives ``c²`` (the 2×2 filter returns
    ``±c`` at every position), a constant and a cosine along one axis give 0, a photo little; grids add up
    with their amplitude, so a photo with a faint grid scores the grid's ``c²`` over the photo's own."""
    from genrefocus.data.photos import photo_array
    from genrefocus.optics.focus_measure import checkerboard_energy

    yy, xx = torch.meshgrid(torch.arange(24), torch.arange(32), indexing="ij")
    board = ((yy + xx) % 2 * 2 - 1).float().expand(2, 3, 24, 32)
    assert torch.allclose(checkerboard_energy(0.5 + 0.03 * board), torch.tensor(0.03 ** 2))
    assert float(checkerboard_energy(torch.full((1, 3, 24, 32), 0.7))[0]) == 0.0
    wave = (0.5 + 0.2 * torch.cos(np.pi * xx.float())).expand(1, 3, 24, 32)   # Nyquist along x only
    assert float(checkerboard_energy(wave)[0]) < 1e-12
    photo = torch.from_numpy(photo_array("chelsea")).permute(2, 0, 1)[None, :, :128, :128].contiguous()
    pattern = ((torch.arange(128)[:, None] + torch.arange(128)) % 2 * 2 - 1).float()
    own, gridded = float(checkerboard_energy(photo)[0]), float(checkerboard_energy(photo + 0.02 * pattern)[0])
    assert own < 0.02 ** 2 and gridded == pytest.approx(own + 0.02 ** 2, rel=0.1)


def test_canon_scores_grid_is_the_checkerboard_energy_over_the_inputs():
    """``canon_scores``' ``grid``: the input scores 1; an output with a checkerboard of amplitude ``c`` added
    scores (input's + ``c²``) / input's, from the closed form (a grid and a photo's own pattern add up in energy
    to within their cross-term); a smoothed output under 1; the truth gets its own figure. ``detail`` against
    SciPy's Laplacian variance ratio; rows above ``top`` are left out of both."""
    from scipy import ndimage

    from genrefocus.data.photos import photo_array
    from genrefocus.metrics.dual_pixel import canon_scores
    from genrefocus.optics.focus_measure import checkerboard_energy
    from genrefocus.optics.render import render_bokeh

    gt = torch.from_numpy(photo_array("astronaut")).permute(2, 0, 1)[None, :, 100:292, 100:356].contiguous()
    inp = render_bokeh(gt, torch.full_like(gt[:, :1], 2.0), mode="layered")
    board = ((torch.arange(192)[:, None] + torch.arange(256)) % 2 * 2 - 1).float().expand(1, 3, 192, 256)
    c = 0.02
    gridded = (inp + c * board).clamp(0, 1)
    smooth = render_bokeh(inp, torch.full_like(inp[:, :1], 1.5), mode="layered")
    garbage = inp.clone()
    garbage[..., :16, :] = torch.rand(1, 3, 16, 256)   # above ``top``: must not count
    row = canon_scores({"input": inp, "grid": gridded, "smooth": smooth, "top_noise": garbage}, gt, top=16,
                       with_ssim=False)
    e_in = float(checkerboard_energy(inp[..., 16:, :])[0])
    assert row["input"]["grid"] == pytest.approx(1.0) and row["top_noise"]["grid"] == pytest.approx(1.0)
    assert row["grid"]["grid"] == pytest.approx((e_in + c * c) / e_in, rel=0.05) and row["grid"]["grid"] > 3
    assert row["smooth"]["grid"] < 0.5 and row["gt"]["grid"] > 1

    def var_lap(x):   # SciPy's 4-neighbour Laplacian of the Rec. 601 luma, rows 16:
        y = (0.299 * x[0, 0] + 0.587 * x[0, 1] + 0.114 * x[0, 2])[16:].double().numpy()
        return ndimage.laplace(y, mode="nearest").var()

    assert row["gt"]["detail"] == pytest.approx(var_lap(gt) / var_lap(inp), rel=0.02)
    assert row["smooth"]["detail"] == pytest.approx(var_lap(smooth) / var_lap(inp), rel=0.02)
    assert row["smooth"]["detail"] < 1
