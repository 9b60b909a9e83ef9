"""Realistic dual-pixel synthesis against the scene lab's exact DP renders and closed forms, and the
compact DP deblurring model and its trainer."""

import json

import numpy as np
import pytest
import torch

from genrefocus.metrics.fidelity import psnr
from genrefocus.optics.apertures import Disk
from genrefocus.optics.dp_disparity import dp_disparity_factor
from genrefocus.optics.dp_synthesis import (balance_views, dp_kernels, sensor_noise, synthesize_dp,
                                            view_falloff)
from genrefocus.optics.fftconv import fft_convolve
from genrefocus.optics.render import from_linear, to_linear


@pytest.mark.parametrize("coc", [-6.0, 6.0, 3.5])
@pytest.mark.parametrize("tau", [0.05, 0.3])
def test_dp_kernels_split_the_disk_with_the_closed_form_centroid_distance(coc, tau):
    left, right = dp_kernels(coc, tau)
    assert float(left.sum()) == pytest.approx(1.0, abs=1e-5) and float(right.sum()) == pytest.approx(1.0, abs=1e-5)
    assert torch.allclose(left, right.flip(-1), atol=1e-6)  # mirror images
    R = left.shape[-1] // 2
    x = torch.arange(-R, R + 1, dtype=torch.float64)
    cl, cr = float((left.double().sum(0) * x).sum()), float((right.double().sum(0) * x).sum())
    # left(x) ≈ right(x − d): the left PSF sits d to the right of the right PSF, d = f(τ)·c
    expected = dp_disparity_factor(tau) * coc
    assert cl - cr == pytest.approx(expected, rel=0.06)
    full, disk = (left + right) / 2, Disk().kernel(abs(coc))
    p = (full.shape[-1] - disk.shape[-1]) // 2
    disk = torch.nn.functional.pad(disk, (p, p, p, p)) if p > 0 else disk
    full = full[-p:p, -p:p] if p < 0 else full
    assert float((full - disk).abs().sum()) < 0.1  # the two halves make the disk again


@pytest.mark.parametrize("order,cutoff,floor", [(3.0, 1.0, 0.1), (9.0, 0.8, 0.2), (6.0, 0.9, 0.5)])
def test_lens_psf_disparity_factor_is_the_closed_form_of_its_radial_profile(order, cutoff, floor):
    """A hard split of a radially weighted disk w(ρ): the right half's centroid is ∫ρ²w dρ·∫cos θ dθ over
    ∫ρw dρ·π, so the left–right distance per CoC radius is 4∫₀¹ρ²w/(π∫₀¹ρw) — evaluated by quadrature,
    independent of the 2-D grid; the PSF kernels' own centroid distance follows it."""
    from scipy.integrate import quad

    from genrefocus.optics.dp_synthesis import LensPSF

    psf = LensPSF(order=order, cutoff=cutoff, floor=floor)
    w = lambda r: float(psf.radial_weight(torch.tensor(r, dtype=torch.float64)))  # noqa: E731
    closed = 4 * quad(lambda r: r * r * w(r), 0, 1, limit=200)[0] / (np.pi * quad(lambda r: r * w(r), 0, 1, limit=200)[0])
    assert dp_disparity_factor(0.0, radial_weight=psf.radial_weight) == pytest.approx(closed, rel=5e-3)
    assert closed > dp_disparity_factor(0.0)         # a bright rim moves the half-PSF centroids apart
    left, right = dp_kernels(-9.0, 0.3, psf)
    R = left.shape[-1] // 2
    x = torch.arange(-R, R + 1, dtype=torch.float64)
    dist = float((left.double().sum(0) * x).sum() - (right.double().sum(0) * x).sum())
    assert dist == pytest.approx(psf.disparity_factor(0.3) * -9.0, rel=0.05)


def test_lens_psf_kernel_is_rim_bright_radially_symmetric_and_sums_to_one():
    """Abuolaim et al.'s calibrated shape: centre ≈ ``floor`` × rim; the two views still make one
    radially symmetric PSF; the Gaussian edge spreads light past the disk (wider support)."""
    from genrefocus.optics.dp_synthesis import LensPSF, lens_kernel

    r = 10.0
    sharp, soft = LensPSF(order=6, cutoff=0.85, floor=0.15), LensPSF(order=6, cutoff=0.85, floor=0.15, edge=0.08)
    left, right = dp_kernels(r, 0.4, sharp)
    assert float(left.sum()) == pytest.approx(1.0, abs=1e-5) and float(right.sum()) == pytest.approx(1.0, abs=1e-5)
    full = (left + right) / 2
    assert torch.allclose(lens_kernel(r, sharp), full, atol=1e-6)   # the capture's PSF: both views together
    c = full.shape[-1] // 2
    assert torch.allclose(full, full.flip(-1), atol=1e-7) and torch.allclose(full, full.transpose(0, 1), atol=1e-7)
    assert 0.15 <= float(full[c, c] / full[c].max()) < 0.25      # dim centre, bright rim
    l2, r2 = dp_kernels(r, 0.4, soft)
    assert l2.shape[-1] > left.shape[-1]                          # light past the disk's edge
    assert float(((l2 + r2) / 2).max()) < 0.95 * float(full.max())   # the rim is smoothed


@pytest.mark.parametrize("r", [3.5, 6.0, 10.0])
def test_flat_lens_kernel_is_the_pixel_coverage_of_the_disk(r):
    """Against the disk's area in each pixel, measured on a 16× supersampled grid (scikit-image's block
    mean): the anti-aliased flat PSF is within 5 % of its peak everywhere and sums to 1."""
    from skimage.transform import downscale_local_mean

    from genrefocus.optics.dp_synthesis import lens_kernel

    k = lens_kernel(r).numpy()
    R, s = k.shape[0] // 2, 16
    t = (np.arange((2 * R + 1) * s) + 0.5) / s - (R + 0.5)
    inside = ((t[:, None] ** 2 + t[None] ** 2) <= r * r).astype(np.float64)
    ref = downscale_local_mean(inside, (s, s))
    ref /= ref.sum()
    assert abs(float(k.sum()) - 1) < 1e-5
    assert np.abs(k - ref).max() < 0.05 * ref.max()


def test_synthesis_matches_the_scene_lab_exact_dual_pixel_pair():
    from genrefocus.optics.scene_lab import make_scene

    for seed in (3, 5):
        sc = make_scene((96, 96), depths_m=(6.0, 1.2), seed=seed, textures=("brick", "astronaut"))
        K, fd = 6.0, sc.planes[0].disparity
        L, R = sc.dual_pixel(K, fd, softness=0.3)
        coc = (K * (sc.disparity() - fd)).reshape(1, 1, 96, 96)
        left, right = synthesize_dp(sc.aif(), coc, softness=0.3, gamma=4.0)
        ok = min(float(psnr(left, L)[0]), float(psnr(right, R)[0]))
        swapped = float(psnr(left, R)[0])
        print(f"seed {seed}: synthesis vs exact {ok:.1f} dB (views swapped: {swapped:.1f} dB)")
        assert ok > 32 and swapped < ok - 5


def test_one_layer_mean_of_the_views_is_the_disk_blur_in_linear_light():
    from skimage import data

    img = torch.from_numpy(data.coffee()[:96, :128].astype(np.float32) / 255).permute(2, 0, 1)[None]
    left, right = synthesize_dp(img, torch.full((1, 1, 96, 128), -4.0), softness=0.3, gamma="srgb")
    mean = from_linear((to_linear(left, "srgb") + to_linear(right, "srgb")) / 2, "srgb")
    disk = from_linear(fft_convolve(to_linear(img, "srgb"), Disk().kernel(4.0), padding="replicate"), "srgb")
    assert float(psnr(mean, disk)[0]) > 45


def test_falloff_and_its_correction():
    from skimage import data

    img = torch.from_numpy(data.astronaut()[::4, ::4].astype(np.float32) / 255).permute(2, 0, 1)[None]
    left, right = view_falloff(img, img.clone(), gain=0.2, ramp=0.1)
    thirds = lambda a, b: [float(a[..., s].mean() / b[..., s].mean()) for s in (slice(0, 40), slice(88, 128))]  # noqa: E731
    before = thirds(left, right)
    after = thirds(*balance_views(left, right))
    assert abs(before[0] - 1) > 0.05 and abs(before[1] - 1) > 0.15
    assert all(abs(v - 1) < 0.03 for v in after)


def test_sensor_noise_variance():
    x = torch.full((1, 1, 256, 256), 0.5)
    y = sensor_noise(x, shot=2e-3, read=0.01, generator=torch.Generator().manual_seed(0))
    assert float(y.var()) == pytest.approx(2e-3 * 0.5 + 0.01 ** 2, rel=0.05)


def test_untrained_dp_deblur_net_returns_its_input_and_round_trips(tmp_path):
    from genrefocus.models.dp_deblur import DPDeblurConfig, DPDeblurNet
    from genrefocus.pipelines.dual_pixel import DPOptions, DualPixelPipeline
    from genrefocus.models.registry import load_model

    torch.manual_seed(0)
    model = DPDeblurNet(DPDeblurConfig(width=8))
    left, right = torch.rand(1, 3, 37, 50), torch.rand(1, 3, 37, 50)
    out = model.all_in_focus(left, right)
    l2, r2 = balance_views(left, right)
    assert torch.allclose(out["aif"], ((l2 + r2) / 2).clamp(0, 1), atol=1e-6) and out["disparity"].abs().max() == 0
    torch.nn.init.normal_(model.out.weight, std=0.01)
    model.save_pretrained(tmp_path / "m")
    assert json.loads((tmp_path / "m" / "config.json").read_text())["model_type"] == "dp_deblur"
    again = load_model(tmp_path / "m")
    assert isinstance(again, DPDeblurNet)
    assert torch.equal(again.all_in_focus(left, right)["aif"], model.all_in_focus(left, right)["aif"])
    pipe = DualPixelPipeline.from_pretrained(tmp_path / "m", options=DPOptions(axis="horizontal"))
    res = pipe(left, right, focus=(10, 10))
    assert res.image.shape == (1, 3, 37, 50)


def test_trainer_runs_and_resumes_exactly(tmp_path):
    from genrefocus.training.dp_deblur import DPDeblurTrainConfig, train_dp_deblur

    kw = dict(steps=4, batch_size=2, size=32, model={"width": 4, "scales": 2}, checkpointing_steps=2, log_every=1)
    train_dp_deblur(DPDeblurTrainConfig(output_dir=str(tmp_path / "a"), **kw), progress=False)
    # "killed" after step 3 with a checkpoint at step 2 (a shorter run leaves exactly that on disk)
    train_dp_deblur(DPDeblurTrainConfig(output_dir=str(tmp_path / "b"), **{**kw, "steps": 3}), progress=False)
    train_dp_deblur(DPDeblurTrainConfig(output_dir=str(tmp_path / "b"), resume_from_checkpoint="latest", **kw),
                    progress=False)
    from safetensors.torch import load_file

    a, b = load_file(str(tmp_path / "a" / "model.safetensors")), load_file(str(tmp_path / "b" / "model.safetensors"))
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    steps = [json.loads(line)["step"] for line in (tmp_path / "b" / "loss.jsonl").read_text().splitlines()]
    assert steps == [0, 1, 2, 3]


def test_trainer_fine_tunes_on_dpdd_dual_pixel_captures(tmp_path):
    """``data="dpdd:ROOT"`` with ``init_from``: DPDD's ``train_{c,l,r}`` layout, the same crop window in
    all three images, no rotation (the split axis stays), the disparity term off (no target there)."""
    import numpy as np

    from genrefocus.io import save_image
    from genrefocus.models.dp_deblur import DPDeblurConfig, DPDeblurNet
    from genrefocus.training.dp_deblur import DPDeblurTrainConfig, dp_deblur_loss, train_dp_deblur
    from genrefocus.data.real_pairs import CropSampler, dual_pixel_items

    g = torch.Generator().manual_seed(0)
    ramp = torch.linspace(0, 1, 64).view(1, 1, 1, 64).expand(1, 3, 48, 64)   # a horizontal ramp: turns show
    for i in range(2):
        img = torch.rand(1, 3, 48, 64, generator=g)
        for view in ("c", "l", "r"):
            save_image(img, tmp_path / "dpdd" / f"train_{view}" / "source" / f"{i}.png")
            save_image(ramp if view == "c" else img, tmp_path / "dpdd" / f"train_{view}" / "target" / f"{i}.png")
    sampler = CropSampler(dual_pixel_items(f"dpdd:{tmp_path / 'dpdd'}"), rotate=False)
    rng = np.random.default_rng(1)
    for _ in range(6):
        s = sampler.sample(rng, 32)
        assert torch.equal(s["left"], s["right"])
        d = s["aif"][0, 0]
        assert (d[:, 1:] >= d[:, :-1]).all()    # still increasing left to right: never turned or mirrored
    start = DPDeblurNet(DPDeblurConfig(width=4, scales=2))
    start.save_pretrained(tmp_path / "start")
    model = DPDeblurNet(DPDeblurConfig(width=4, scales=2))
    batch = {"left": s["left"], "right": s["right"], "aif": s["aif"], "disparity": torch.full((1, 1, 32, 32), 9.0),
             "disparity_known": torch.zeros(1, 1, 1, 1)}
    assert dp_deblur_loss(model, batch, 0.05)[1]["disparity"] == 0.0   # an unknown target costs nothing
    kw = dict(steps=1, batch_size=2, size=32, model={"width": 4, "scales": 2}, checkpointing_steps=0, log_every=1)
    train_dp_deblur(DPDeblurTrainConfig(output_dir=str(tmp_path / "ft"), data=f"dpdd:{tmp_path / 'dpdd'}",
                                        init_from=str(tmp_path / "start"), **kw), progress=False)
    assert (tmp_path / "ft" / "model.safetensors").is_file()


def test_green_only_pairs_look_like_real_pixel_captures(shared_data):
    """Pixel phones deliver DP views from the green photosites only: the real ``pixel_00`` views have three
    identical channels. A green-only synthetic sample has the same structure (views and target), and its
    grey is the colour image's green channel, not a luma mix."""
    from genrefocus.io import load_dp_pair
    from genrefocus.optics.dp_synthesis import green_only
    from genrefocus.data.photos import PhotoPool
    from genrefocus.data.dp_samples import DPSynthesis, synthetic_dp_sample

    real, _ = load_dp_pair(shared_data / "dp_pairs" / "pixel_00.gif")
    assert torch.equal(real[:, 0], real[:, 1]) and torch.equal(real[:, 2], real[:, 1])
    s = synthetic_dp_sample(PhotoPool(("astronaut",)), np.random.default_rng(0), 48, DPSynthesis(coc_max=6.0, green=1.0))
    for k in ("left", "right", "aif"):
        assert torch.equal(s[k][:, 0], s[k][:, 1]) and torch.equal(s[k][:, 2], s[k][:, 1])
    x = torch.rand(2, 3, 8, 9)
    assert torch.equal(green_only(x), x[:, 1:2].repeat(1, 3, 1, 1))


def test_frequency_loss_closed_forms():
    """The optional Fourier-domain L1 (``lam_fft``): a constant offset δ lives in the DC coefficient alone
    (δ·H·W of the H·(W/2+1) rfft coefficients); a unit impulse difference is flat (|1| everywhere)."""
    from genrefocus.models.losses import frequency

    a = torch.rand(2, 3, 16, 24, generator=torch.Generator().manual_seed(0))
    assert float(frequency(a, a)) == 0.0
    assert abs(float(frequency(a + 0.1, a)) - 0.1 * 16 * 24 / (16 * 13)) < 1e-4
    b = a.clone()
    b[..., 5, 7] += 1.0
    assert abs(float(frequency(b, a)) - 1.0) < 1e-5


def test_amplitude_frequency_loss_ignores_a_shift():
    """``frequency(..., amplitude=True)``: a circular shift multiplies every coefficient by a unit phase
    (Fourier shift theorem), so the magnitudes, and the loss, stay 0 while the complex loss does not;
    a doubled contrast adds |F(a − mean)| exactly (every AC magnitude doubles)."""
    from genrefocus.models.losses import frequency

    a = torch.rand(2, 3, 16, 24, generator=torch.Generator().manual_seed(1))
    shifted = torch.roll(a, shifts=(3, -5), dims=(-2, -1))
    assert float(frequency(shifted, a, amplitude=True)) < 1e-5 < 0.5 < float(frequency(shifted, a))
    m = a.mean(dim=(-2, -1), keepdim=True)
    want = torch.fft.rfft2(a - m).abs().mean()
    assert abs(float(frequency(m + 2 * (a - m), a, amplitude=True)) - float(want)) < 1e-4


def test_detail_energy_closed_form_and_shift_blindness():
    """``detail_energy``: a checkerboard of amplitude ``c`` on grey has a 4-neighbour Laplacian of ``∓8c`` at
    every pixel (reflect padding continues the pattern), so its local RMS Laplacian is ``8c`` and the loss
    between amplitudes ``c1`` and ``c2`` is ``8|c1 − c2|``; a photo moved by 1 (2) px costs less than the photo
    blurred by a Gaussian of σ 0.7 (1.5) px in place, where the pixel Charbonnier ranks them the other way;
    a weight of zero somewhere leaves only the rest."""
    from skimage import data
    from skimage.filters import gaussian

    from genrefocus.models.losses import charbonnier, detail_energy

    yy, xx = torch.meshgrid(torch.arange(20), torch.arange(30), indexing="ij")
    board = ((yy + xx) % 2 * 2 - 1).float().expand(2, 3, 20, 30)
    a, b = 0.5 + 0.03 * board, 0.5 + 0.01 * board
    assert abs(float(detail_energy(a, b)) - 8 * 0.02) < 1e-4
    assert float(detail_energy(a, torch.full_like(a, 0.5))) == pytest.approx(8 * 0.03, abs=2e-4)   # √ε = 1e-4 on the flat side
    tex = torch.from_numpy(data.camera()[200:296, 200:296].astype(np.float32) / 255).expand(1, 3, 96, 96)
    crop = (..., slice(8, -8), slice(8, -8))            # away from the roll's wrapped border
    for shift, sigma in ((1, 0.7), (2, 1.5)):
        moved = torch.roll(tex, shifts=(shift, -shift), dims=(-2, -1))[crop]
        blurred = torch.from_numpy(gaussian(tex[0, 0].numpy(), sigma).astype(np.float32)).expand(1, 3, 96, 96)[crop]
        assert float(detail_energy(moved, tex[crop])) < 0.75 * float(detail_energy(blurred, tex[crop]))
        assert float(charbonnier(moved, tex[crop])) > 2 * float(charbonnier(blurred, tex[crop]))
    w = torch.zeros(2, 1, 20, 30)
    w[..., :, :10] = 1                                  # only the left third counts
    c = a.clone()
    c[..., :, 20:] = 0.5                                # a difference far right of it (over 4 px from the weight)
    assert float(detail_energy(c, a, w)) < 1e-4 < float(detail_energy(c, a))


def test_binomial_band_is_blind_to_the_pixel_grid_and_keeps_coarser_detail():
    """``binomial_blur``: frequency response cos²(ω/2) per axis — a constant passes, a checkerboard (ω = π on
    both axes) vanishes, a cosine of period 4 px along x (ω = π/2) comes out at half its amplitude. So
    ``detail_energy(band="binomial")`` gives a grid nothing (``band="full"``: 8c) while a photo's detail
    still counts; an unknown band is refused."""
    from skimage import data

    from genrefocus.models.losses import binomial_blur, detail_energy

    yy, xx = torch.meshgrid(torch.arange(24), torch.arange(32), indexing="ij")
    board = ((yy + xx) % 2 * 2 - 1).float().expand(1, 3, 24, 32)
    assert torch.allclose(binomial_blur(torch.full((1, 3, 24, 32), 0.4)), torch.tensor(0.4))
    assert float(binomial_blur(board).abs().max()) < 1e-6           # reflected borders continue the pattern
    wave = torch.cos(np.pi / 2 * xx.float()).expand(1, 3, 24, 32)
    assert torch.allclose(binomial_blur(wave)[..., 2:-2], 0.5 * wave[..., 2:-2], atol=1e-6)
    flat = torch.full_like(board, 0.5)
    assert float(detail_energy(flat + 0.03 * board, flat)) == pytest.approx(8 * 0.03, abs=2e-4)
    assert float(detail_energy(flat + 0.03 * board, flat, band="binomial")) < 2e-4
    tex = torch.from_numpy(data.camera()[200:264, 200:264].astype(np.float32) / 255).expand(1, 3, 64, 64)
    assert float(detail_energy(tex, torch.full_like(tex, 0.5), band="binomial")) > 0.3 * float(
        detail_energy(tex, torch.full_like(tex, 0.5)))
    with pytest.raises(ValueError, match="band"):
        detail_energy(tex, tex, band="nyquist")


def test_trainer_logs_the_frequency_term(tmp_path):
    from genrefocus.training.dp_deblur import DPDeblurTrainConfig, train_dp_deblur

    train_dp_deblur(DPDeblurTrainConfig(output_dir=str(tmp_path / "f"), steps=2, batch_size=2, size=32, lam_fft=0.01,
                                        model={"width": 4, "scales": 2}, log_every=1), progress=False)
    rows = [json.loads(line) for line in (tmp_path / "f" / "loss.jsonl").read_text().splitlines()]
    assert all(r["fft"] > 0 and abs(r["loss"] - r["aif"] - 0.05 * r["disparity"] - 0.01 * r["fft"]) < 1e-4 for r in rows)


def test_dp_detail_term_joins_the_loss_with_its_weight_on_its_band():
    """``lam_detail``: the AIF loss gains ``lam_detail · detail_energy(aif, target, band)`` (the same function as
    JDRL's, whose bands the closed-form test above checks) on either band; off, the term is absent."""
    from genrefocus.models.dp_deblur import DPDeblurConfig, DPDeblurNet
    from genrefocus.models.losses import detail_energy
    from genrefocus.training.dp_deblur import dp_deblur_loss

    torch.manual_seed(0)
    model = DPDeblurNet(DPDeblurConfig(width=4, scales=2)).eval()
    g = torch.Generator().manual_seed(3)
    batch = {"left": torch.rand(1, 3, 32, 32, generator=g), "right": torch.rand(1, 3, 32, 32, generator=g),
             "aif": torch.rand(1, 3, 32, 32, generator=g), "disparity": torch.zeros(1, 1, 32, 32),
             "disparity_known": torch.ones(1, 1, 1, 1)}
    with torch.no_grad():
        base, parts0 = dp_deblur_loss(model, batch, 0.05)
        aif = model(batch["left"], batch["right"])["aif"]
        for band in ("full", "binomial"):
            total, parts = dp_deblur_loss(model, batch, 0.05, lam_detail=0.3, detail_band=band)
            want = float(detail_energy(aif, batch["aif"], band=band))
            assert parts["detail"] == pytest.approx(want, rel=1e-5) and want > 0
            assert float(total) == pytest.approx(float(base) + 0.3 * want, rel=1e-5)
    assert "detail" not in parts0


def test_trainer_logs_the_dp_detail_term(tmp_path):
    from genrefocus.training.dp_deblur import DPDeblurTrainConfig, train_dp_deblur

    train_dp_deblur(DPDeblurTrainConfig(output_dir=str(tmp_path / "d"), steps=2, batch_size=2, size=32, lam_detail=0.2,
                                        detail_band="binomial", model={"width": 4, "scales": 2}, log_every=1),
                    progress=False)
    rows = [json.loads(line) for line in (tmp_path / "d" / "loss.jsonl").read_text().splitlines()]
    assert all(r["detail"] > 0 and abs(r["loss"] - r["aif"] - 0.05 * r["disparity"] - 0.2 * r["detail"]) < 1e-4
               for r in rows)


def test_lens_softness_blurs_the_views_in_linear_light_and_never_the_target():
    """``soften`` is a Gaussian in linear light (against scikit-image's on the linearised image); with
    ``lens_softness`` the views lose fine detail, the all-in-focus target and the disparity target stay as
    they were (same draws up to the views), and the trainer's flag reaches the synthesis (negative refused)."""
    from skimage.filters import gaussian

    from genrefocus.data.dp_samples import DPSynthesis, soften, synthetic_dp_sample
    from genrefocus.data.photos import PhotoPool
    from genrefocus.errors import InputError
    from genrefocus.optics.render import from_linear, to_linear
    from genrefocus.training.dp_deblur import DPDeblurTrainConfig

    x = torch.from_numpy(np.random.default_rng(1).random((1, 3, 40, 40)).astype(np.float32))
    ref = gaussian(to_linear(x, "srgb")[0].permute(1, 2, 0).numpy(), sigma=1.3, mode="reflect", truncate=4.0, channel_axis=-1)
    got = soften(x, 1.3)
    assert torch.allclose(got, from_linear(torch.from_numpy(ref).permute(2, 0, 1)[None].float(), "srgb"), atol=2e-3)
    assert soften(x, 0.0) is x

    pool, lap = PhotoPool(("astronaut",)), lambda t: float(torch.diff(t, dim=-1).pow(2).mean())
    a = synthetic_dp_sample(pool, np.random.default_rng(3), 64, DPSynthesis(coc_max=2.0, palette=0.0))
    b = synthetic_dp_sample(pool, np.random.default_rng(3), 64, DPSynthesis(coc_max=2.0, palette=0.0, lens_softness=2.0))
    assert torch.equal(a["aif"], b["aif"]) and torch.equal(a["disparity"], b["disparity"])
    assert lap(b["left"]) < 0.8 * lap(a["left"]) and lap(b["right"]) < 0.8 * lap(a["right"])
    assert DPDeblurTrainConfig(lens_softness=0.7).synthesis().lens_softness == 0.7
    with pytest.raises(InputError, match="lens_softness"):
        DPDeblurTrainConfig(lens_softness=-1.0)


def test_in_camera_sharpening_sharpens_the_views_and_never_the_target():
    """``sharpen=1``: every pair's views go through an unsharp mask (more fine detail than the same draw
    without it, by the textbook formula of :func:`~genrefocus.optics.dp_classical.unsharp_mask`); the
    all-in-focus and disparity targets are the same draw's; the trainer's flag reaches the synthesis."""
    from genrefocus.data.dp_samples import DPSynthesis, synthetic_dp_sample
    from genrefocus.data.photos import PhotoPool
    from genrefocus.training.dp_deblur import DPDeblurTrainConfig

    pool, hf = PhotoPool(("astronaut",)), lambda t: float(torch.diff(t, dim=-1).pow(2).mean())
    a = synthetic_dp_sample(pool, np.random.default_rng(4), 64, DPSynthesis(coc_max=3.0, palette=0.0))
    b = synthetic_dp_sample(pool, np.random.default_rng(4), 64, DPSynthesis(coc_max=3.0, palette=0.0, sharpen=1.0))
    assert torch.equal(a["aif"], b["aif"]) and torch.equal(a["disparity"], b["disparity"])
    assert hf(b["left"]) > 1.2 * hf(a["left"]) and hf(b["right"]) > 1.2 * hf(a["right"])
    assert float((b["left"].mean() - a["left"].mean()).abs()) < 0.01      # sharpening keeps the brightness
    assert DPDeblurTrainConfig(sharpen=0.5).synthesis().sharpen == 0.5


def test_gif_palette_dither_keeps_local_means_and_adds_fine_texture():
    """On a smooth ramp with more than 256 colours: both modes store at most 256 colours; nearest-colour
    mapping (the default, PIL's plain ``quantize``) leaves flat bands, Floyd–Steinberg dithering keeps the
    8×8 block means closer to the source (error diffusion) and adds fine texture: a variance of the
    Laplacian many times the source's, as the dot pattern of the shared Canon GIF frames."""
    from PIL import Image

    from genrefocus.optics.dp_synthesis import gif_palette
    from genrefocus.optics.focus_measure import variance_of_laplacian

    yy, xx = torch.meshgrid(torch.linspace(0, 1, 64), torch.linspace(0, 1, 256), indexing="ij")
    ramp = torch.stack([xx, yy, 1 - xx * yy])[None]
    near, fs = gif_palette(ramp), gif_palette(ramp, dither=True)
    arr = (ramp[0].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
    pil = np.asarray(Image.fromarray(arr).quantize(256).convert("RGB"), np.float32) / 255
    assert torch.equal(near, torch.from_numpy(pil).permute(2, 0, 1)[None])     # the default is unchanged
    for q in (near, fs):
        assert len(np.unique((q[0].reshape(3, -1).T.numpy() * 255).round(), axis=0)) <= 256

    def block_err(q):
        return float((torch.nn.functional.avg_pool2d(q - ramp, 8)).abs().mean())

    lv = {k: float(variance_of_laplacian(q)[0]) for k, q in (("src", ramp), ("near", near), ("fs", fs))}
    print(f"8x8 block-mean error: nearest {block_err(near) * 255:.2f}, dithered {block_err(fs) * 255:.2f} levels; "
          f"var. of Laplacian: source {lv['src']:.2e}, nearest {lv['near']:.2e}, dithered {lv['fs']:.2e}")
    assert block_err(fs) < 0.5 * block_err(near)
    assert lv["fs"] > 5 * lv["near"] and lv["fs"] > 20 * lv["src"]


def test_dp_synthesis_dither_changes_only_the_paletted_views():
    """``DPSynthesis(palette=1, dither=True)``: the same draw as without dithering (target, disparity, and the
    next sample), the views at most 256 colours each, with the same local means and more fine texture (the
    dot pattern of the shared Canon frames); the trainer's ``--dither`` reaches the synthesis."""
    from genrefocus.data.dp_samples import DPSynthesis, synthetic_dp_sample
    from genrefocus.data.photos import PhotoPool
    from genrefocus.optics.focus_measure import variance_of_laplacian
    from genrefocus.training.dp_deblur import DPDeblurTrainConfig

    pool = PhotoPool(("astronaut", "coffee"))
    rngs = [np.random.default_rng(11) for _ in range(2)]
    near, fs = (synthetic_dp_sample(pool, r, 64, DPSynthesis(coc_max=6.0, palette=1.0, dither=d))
                for r, d in zip(rngs, (False, True)))
    for k in ("aif", "disparity"):
        assert torch.equal(near[k], fs[k])
    for v in ("left", "right"):
        assert len(np.unique((fs[v][0].reshape(3, -1).T.numpy() * 255).round(), axis=0)) <= 256
        mean_gap = torch.nn.functional.avg_pool2d(fs[v] - near[v], 8).abs().mean()
        assert float(mean_gap) < 1.5 / 255
        assert float(variance_of_laplacian(fs[v])[0]) > 1.05 * float(variance_of_laplacian(near[v])[0])   # atop sensor noise
    nxt = [synthetic_dp_sample(pool, r, 64, DPSynthesis(coc_max=6.0)) for r in rngs]
    assert torch.equal(nxt[0]["left"], nxt[1]["left"])
    assert DPDeblurTrainConfig(dither=True).synthesis().dither and not DPDeblurTrainConfig().synthesis().dither
