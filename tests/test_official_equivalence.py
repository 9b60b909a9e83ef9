"""Compat mode against tensors recorded from the official Genfocus code (commit 54752a1) on tiny
random weights: ../shared/reference/genfocus_official (see its README). Nothing in the fixture was
produced by this project, so these tests compare us with the authors' code, not with ourselves.

Every recorded tensor is compared: the condition images handed to the VAE (exact), the initial noise
(exact), the velocities, the final latents and the final image (≤ 1e-5 in float32; measured ≤ 1e-6).

VAE samples: the tiny random VAE amplifies float rounding, and its convolutions do not sum in the
same order on every CPU. Fed the fixture's own stored condition tensor directly, with the fixture's
layout and thread count, this machine's VAE gives samples up to 4e-5 away from the recorded ones
(values up to 45; ≤ 1e-6 relative). So the samples are checked twice: bit for bit against a direct
encode of the fixture's condition with the RNG protocol of the fixture's README redone here, and
within 1e-5 relative to the recorded ones.
"""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from genrefocus.models.tasks import BOKEH_PROMPT, DEBLUR_PROMPT
from genrefocus.pipelines.options import SamplerOptions

FIXTURE = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "genfocus_official"
CASES = ["bokeh-mask", "bokeh-point", "bokeh-long-side", "bokeh-tiled", "deblur", "deblur-pre", "deblur-tiled"]
TOL = 1e-5


def _fixture():
    if not (FIXTURE / "manifest.json").is_file():
        pytest.skip(f"official reference fixture not found at {FIXTURE} (../shared/reference beside the checkout)")
    return FIXTURE


def load_official_pipe(dtype=torch.float32):
    """The fixture's tiny FLUX with its three LoRA files and prompt embeddings, in ``dtype``."""
    from safetensors.torch import load_file

    from genrefocus.pipelines.generative import GenRefocusPipeline

    root = _fixture()
    pipe = GenRefocusPipeline.from_pretrained(
        root / "tiny_flux", deblur_lora=root / "loras" / "deblurNet.safetensors",
        bokeh_lora=root / "loras" / "bokehNet.safetensors",
        pre_deblur_lora=root / "loras" / "deblurNet_with_pre_deblur.safetensors",
        text_encoder=None, text_encoder_2=None, tokenizer=None, tokenizer_2=None, dtype=dtype)
    emb = load_file(str(root / "prompt_embeds.safetensors"))
    pipe.cache_prompt(DEBLUR_PROMPT, emb["deblur.prompt_embeds"], emb["deblur.pooled_prompt_embeds"])
    pipe.cache_prompt(BOKEH_PROMPT, emb["bokeh.prompt_embeds"], emb["bokeh.pooled_prompt_embeds"])
    pipe.set_progress_bar_config(disable=True)
    return pipe


@pytest.fixture(scope="module")
def official_pipe():
    return load_official_pipe()


def _args(argv):
    """The official command line as a dict of its long options."""
    names = {"-i": "input", "-d": "depth", "-m": "mask", "-p": "point_or_pre", "-k": "k_value", "-o": "output"}
    out, i = {}, 0
    while i < len(argv):
        key = names.get(argv[i], argv[i].lstrip("-"))
        out[key] = argv[i + 1]
        i += 2
    return out


def run_case(pipe, case: str, options: SamplerOptions, dtype=torch.float32):
    """Our compat run of one fixture case; returns (recorded tensors, case JSON, output)."""
    root = _fixture()
    meta = json.loads((root / "cases" / f"{case}.json").read_text())
    a = _args(meta["argv"])
    rec = {}

    def record(name, t):
        rec[name] = t.detach().float().cpu().clone()

    steps = int(a["steps"])
    long_side = int(a["long_side"]) if "long_side" in a else None
    if meta["kind"] == "bokeh":
        focus = Image.open(root / a["mask"]) if "mask" in a else tuple(int(v) for v in a["point_or_pre"].split(","))
        out = pipe.bokeh(root / a["input"], depth=np.load(root / a["depth"]), focus=focus, K=float(a["k_value"]),
                         num_inference_steps=steps, long_side=long_side, options=options, record=record)
    else:
        pre = root / a["point_or_pre"] if "point_or_pre" in a else None
        out = pipe.deblur(root / a["input"], pre, num_inference_steps=steps, long_side=long_side, options=options,
                          record=record)
    return rec, meta, out


def _direct_vae_samples(vae, ref, meta):
    """The fixture README's RNG protocol redone on the fixture's stored conditions: bokeh draws the
    noise from a generator seeded 1234 and the VAE samples from the global RNG seeded 42; deblur
    draws everything from the global RNG seeded 42, noise first."""
    g = torch.Generator().manual_seed(42)
    if meta["kind"] == "deblur":
        torch.randn(ref["init_latents"].shape[0], 16, *[s // 8 for s in meta["working_size_wh"][::-1]], generator=g)
    out = []
    with torch.no_grad():
        for i in range(meta["n_conditions"]):
            x = _condition(ref, i)
            if f"cond_u8.{i}" in ref:
                x = x.contiguous(memory_format=torch.channels_last)
            out.append(vae.encode(x).latent_dist.sample(g))
    return out


def _condition(t, i):
    return t[f"cond_image.{i}"] if f"cond_image.{i}" in t else t[f"cond_u8.{i}"].float() / 255 * 2 - 1


@pytest.mark.parametrize("case", CASES)
def test_compat_equals_the_official_code(official_pipe, case):
    from safetensors.torch import load_file

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the fixture's thread count: VAE convolutions sum in the same order
    ref = load_file(str(FIXTURE / "cases" / f"{case}.safetensors"))
    try:
        ours, meta, out = run_case(official_pipe, case, SamplerOptions.compat())
        direct = _direct_vae_samples(official_pipe.vae, ref, meta)
    finally:
        torch.set_num_threads(threads)
    assert [n for n in ref if n.startswith("velocity.")], "fixture has no velocities"
    for i in range(meta["n_conditions"]):
        cond = ours[f"condition.{i}.vae_input"]
        want = _condition(ref, i)
        assert cond.shape == want.shape, (case, i)
        tol = 0.0 if f"cond_u8.{i}" in ref else 1e-6
        assert (cond - want).abs().max() <= tol, f"{case}: condition {i} differs"
        d = (ours[f"condition.{i}.vae_sample"] - ref[f"vae_sample.{i}"]).abs().max()
        assert d <= TOL * ref[f"vae_sample.{i}"].abs().max(), f"{case}: VAE sample {i} differs by {d:.3g}"
    for i, z in enumerate(direct):
        got = ours[f"condition.{i}.vae_sample"]
        # bit for bit when our condition is bit-identical to the recorded one; a float condition may
        # differ by ≤ 1e-6 (checked above), and then the VAE's output by float rounding only
        if torch.equal(ours[f"condition.{i}.vae_input"], _condition(ref, i)):
            assert torch.equal(got, z), f"{case}: VAE sample {i} != direct encode"
        else:
            d = float((got - z).abs().max())
            print(f"{case}: condition {i} within 1e-6 of the recording; VAE sample vs direct encode {d:.3g}")
            assert d <= 1e-5 * float(z.abs().max()), f"{case}: VAE sample {i} differs from direct encode by {d:.3g}"
    assert torch.equal(ours["init_latents"], ref["init_latents"]), f"{case}: initial noise differs"
    steps = [int(n.split(".")[1]) for n in ref if n.startswith("velocity.")]
    for s in steps:
        d = (ours[f"velocity.{s}"] - ref[f"velocity.{s}"]).abs().max()
        assert d <= TOL, f"{case}: velocity at step {s} differs by {d:.3g}"
    for name in ("final_latents", "final_image"):
        d = (ours[name] - ref[name]).abs().max()
        assert d <= TOL, f"{case}: {name} differs by {d:.3g}"
    torch.testing.assert_close(official_pipe.scheduler.sigmas.float(), ref["sigmas"], rtol=0, atol=1e-6)
    # what the user gets in compat mode: the official PNG (round(255·x)) at the working size
    result = out.image
    w, h = meta["working_size_wh"]
    assert tuple(result.shape[-2:]) == (h, w)
    from genrefocus.io import to_uint8

    png = np.rint(ref["final_image"][0].permute(1, 2, 0).numpy() * np.float32(255)).astype(np.int16)
    diff = np.abs(to_uint8(result).astype(np.int16) - png)
    assert diff.max() <= 1 and (diff > 0).mean() < 1e-4, f"{case}: {int((diff > 0).sum())} PNG values differ"
    if meta["kind"] == "bokeh":
        assert np.float32(out.focus_disparity) == np.float32(meta["focus"]["disp_focus"])


def test_default_options_differ_from_compat_only_where_documented(official_pipe):
    """Our default keeps the official conventions that decide the result (conditions, defocus map,
    schedule) and changes only sampling details: on an untiled case with the official seeds and
    8-bit resizing it equals compat up to the fused attention's float rounding."""
    opts = SamplerOptions(official_seeds=True, resize_8bit=True, decode_in_model_dtype=True, output_size="working")
    ours, _, _ = run_case(official_pipe, "bokeh-point", opts)
    ref, _, _ = run_case(official_pipe, "bokeh-point", SamplerOptions.compat())
    assert (ours["final_image"] - ref["final_image"]).abs().max() <= 1e-4


@pytest.mark.parametrize("case", ["bokeh-mask", "bokeh-long-side", "deblur-pre"])
def test_cli_compat_writes_the_official_png(tmp_path, case):
    """`genrefocus bokeh|deblur --compat` with the official command line's arguments writes the PNG the
    official script wrote (round(255·final_image)), up to float rounding at .5 boundaries."""
    from safetensors.torch import load_file

    from genrefocus.cli import main
    from genrefocus.models.tasks import save_prompt_cache

    root = _fixture()
    meta = json.loads((root / "cases" / f"{case}.json").read_text())
    a = _args(meta["argv"])
    emb = load_file(str(root / "prompt_embeds.safetensors"))
    save_prompt_cache(tmp_path / "prompts.safetensors", {
        DEBLUR_PROMPT: (emb["deblur.prompt_embeds"], emb["deblur.pooled_prompt_embeds"]),
        BOKEH_PROMPT: (emb["bokeh.prompt_embeds"], emb["bokeh.pooled_prompt_embeds"])})
    argv = [meta["kind"], "--input", str(root / a["input"]), "--output", str(tmp_path / "out.png"), "--compat",
            "--model", str(root / "tiny_flux"), "--lora-dir", str(root / "loras"), "--prompt-cache",
            str(tmp_path / "prompts.safetensors"), "--steps", a["steps"], "--device", "cpu"]
    if "long_side" in a:
        argv += ["--long_side", a["long_side"]]
    if meta["kind"] == "bokeh":
        argv += ["--depth", str(root / a["depth"]), "--k_value", a["k_value"]]
        argv += ["--mask", str(root / a["mask"])] if "mask" in a else ["--point", a["point_or_pre"]]
    elif "point_or_pre" in a:
        argv += ["--pre_deblur_input", str(root / a["point_or_pre"])]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert main(argv) == 0
    finally:
        torch.set_num_threads(threads)
    ref = load_file(str(root / "cases" / f"{case}.safetensors"))["final_image"][0].permute(1, 2, 0).numpy()
    png = np.rint(ref * np.float32(255)).astype(np.int16)
    with Image.open(tmp_path / "out.png") as im:
        ours = np.asarray(im.convert("RGB")).astype(np.int16)
    diff = np.abs(ours - png)
    assert ours.shape == png.shape and diff.max() <= 1 and (diff > 0).mean() < 1e-4


BF16_CASES = ["bokeh-mask", "bokeh-point", "bokeh-long-side", "deblur", "deblur-pre", "deblur-tiled"]
BF16_REFERENCE = Path(__file__).parent / "data" / "official_bf16.npz"


def bf16_outputs() -> dict:
    """Compat bf16 PNG values of the fixture cases, every 4th pixel (as stored in the reference)."""
    from genrefocus.io import to_uint8

    pipe = load_official_pipe(torch.bfloat16)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        out = {}
        for case in BF16_CASES:
            _, meta, res = run_case(pipe, case, SamplerOptions.compat())
            out[case] = to_uint8(res.image)[::4, ::4]
    finally:
        torch.set_num_threads(threads)
    return out


def test_bf16_compat_within_one_level_of_the_recorded_bf16_reference():
    """bf16 has no official recording; tests/data/official_bf16.npz was recorded once with this code
    path after it matched the official fp32 fixture (python tests/test_official_equivalence.py
    --record-bf16). bf16 sampling through the tiny random VAE is noisy by itself (1 vs 2 torch
    threads: 0.38 levels mean, 2 at the 99th percentile), so the bound is on the mean: ≤ 1 level.
    A convention error (other draws, a missing condition, another resize) moves it by tens of levels."""
    _fixture()
    ref = np.load(BF16_REFERENCE)
    ours = bf16_outputs()
    for case in BF16_CASES:
        d = np.abs(ours[case].astype(np.int16) - ref[case].astype(np.int16))
        assert d.mean() <= 1.0, f"{case}: bf16 compat is {d.mean():.2f} levels from the recorded bf16 reference"


if __name__ == "__main__":
    import sys

    if "--record-bf16" in sys.argv:
        BF16_REFERENCE.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(BF16_REFERENCE, **bf16_outputs())
        print(f"wrote {BF16_REFERENCE}")


def test_compat_deblur_with_given_latents_continues_the_official_stream(official_pipe):
    """The official deblur script draws the noise, then the VAE samples, from one stream. Given that noise
    as ``latents``, compat deblur still draws the VAE samples the official code drew (the stream is
    advanced past the noise first), and so ends on the official final latents."""
    from safetensors.torch import load_file

    ref = load_file(str(_fixture() / "cases" / "deblur.safetensors"))
    rec = {}
    meta = json.loads((FIXTURE / "cases" / "deblur.json").read_text())
    a = _args(meta["argv"])
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        official_pipe.deblur(FIXTURE / a["input"], num_inference_steps=int(a["steps"]), options=SamplerOptions.compat(),
                             latents=ref["init_latents"].clone(), record=lambda n, t: rec.__setitem__(n, t.float().clone()))
    finally:
        torch.set_num_threads(threads)
    d = float((rec["condition.0.vae_sample"] - ref["vae_sample.0"]).abs().max())
    assert d <= TOL * float(ref["vae_sample.0"].abs().max()), f"VAE sample differs by {d:.3g}"
    assert float((rec["final_latents"] - ref["final_latents"]).abs().max()) <= TOL


def test_generate_honours_official_seeds(official_pipe):
    """``generate()`` with ``official_seeds`` draws from one stream seeded 42 (the official deblur
    script's) and refuses user generators — as ``deblur`` / ``bokeh`` / ``refocus`` do."""
    from genrefocus.errors import InputError
    from genrefocus.models.tasks import get_task

    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    conds = get_task("deblur").conditions({"blurry": x})
    kw = dict(guidance_scale=3.5, num_inference_steps=2)
    with pytest.raises(InputError, match="official seed"):
        official_pipe.generate(conds, DEBLUR_PROMPT, 32, 32, generator=torch.Generator().manual_seed(1),
                               options=SamplerOptions(official_seeds=True), **kw)
    official = official_pipe.generate(conds, DEBLUR_PROMPT, 32, 32, options=SamplerOptions(official_seeds=True), **kw)
    seeded = official_pipe.generate(conds, DEBLUR_PROMPT, 32, 32, generator=torch.Generator().manual_seed(42), **kw)
    other = official_pipe.generate(conds, DEBLUR_PROMPT, 32, 32, generator=torch.Generator().manual_seed(43), **kw)
    assert torch.equal(official, seeded) and not torch.equal(official, other)
