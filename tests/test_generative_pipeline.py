"""GenRefocusPipeline end to end on the official examples with a tiny random FLUX (CPU)."""

import numpy as np
import pytest
import torch
from PIL import Image

from genrefocus.errors import InputError, MissingWeightsError
from genrefocus.pipelines.generative import working_size
from genrefocus.pipelines.options import SamplerOptions
from tiny_flux import tiny_pipeline, write_official_lora


@pytest.fixture(scope="module")
def pipe(tmp_path_factory):
    d = tmp_path_factory.mktemp("loras")
    p = tiny_pipeline()
    for kind, name, seed in (("deblur", "deblurNet", 1), ("bokeh", "bokehNet", 2),
                             ("pre_deblur", "deblurNet_with_pre_deblur", 3)):
        write_official_lora(d / f"{name}.safetensors", p.transformer, seed=seed, scale=0.2)
        p.load_genfocus_lora(d / f"{name}.safetensors", kind)
    return p


def _official_condition_map(depth, mask, K):
    safe = np.where(depth > 0, depth, np.finfo(np.float32).max)
    disp = 1.0 / safe
    df = np.float32(np.median(disp[mask]))
    return np.clip(np.abs(K * (disp - df)) / 100.0, 0, 1)


def test_bokeh_on_official_example(pipe, shared_data):
    d = shared_data / "genfocus"
    aif = Image.open(d / "AIF_example.png")
    depth = torch.from_numpy(np.load(d / "AIF_example_pred.npy"))
    mask = np.asarray(Image.open(d / "AIF_mask.png").convert("L")) > 127
    steps = []
    out = pipe.bokeh(aif, depth, focus=torch.from_numpy(mask), K=15, num_inference_steps=2,
                     generator=torch.Generator().manual_seed(0), options=SamplerOptions(tiling=False),
                     callback_on_step_end=lambda p, i, t, kw: steps.append(i))
    assert out.image.shape == (1, 3, 512, 512) and steps == [0, 1]
    want = _official_condition_map(np.load(d / "AIF_example_pred.npy"), mask, 15.0)
    np.testing.assert_allclose(out.meta["defocus_map"][0, 0].numpy(), want, atol=1e-6)
    assert out.K == 15.0 and torch.isfinite(out.image).all()
    # reproducible with a generator, different with another seed
    again = pipe.bokeh(aif, depth, focus=torch.from_numpy(mask), K=15, num_inference_steps=2,
                       generator=torch.Generator().manual_seed(0), options=SamplerOptions(tiling=False))
    other = pipe.bokeh(aif, depth, focus=torch.from_numpy(mask), K=15, num_inference_steps=2,
                       generator=torch.Generator().manual_seed(1), options=SamplerOptions(tiling=False))
    torch.testing.assert_close(out.image, again.image)
    assert (out.image - other.image).abs().max() > 1e-3
    k0 = pipe.bokeh(aif, depth, focus=(256, 256), K=0, num_inference_steps=2)
    assert torch.equal(k0.image, k0.aif)


def test_refocus_keeps_original_size(pipe, shared_data):
    d = shared_data / "genfocus"
    blurry = np.asarray(Image.open(d / "Blurry_example.jpg").convert("RGB"))[:250, :230]  # not multiples of 16
    depth = torch.from_numpy(np.load(d / "AIF_example_pred.npy"))[:250, :230]
    out = pipe.refocus(blurry, focus=(100, 120), K=15, depth=depth, num_inference_steps=2,
                       generator=torch.Generator().manual_seed(0))
    assert out.image.shape == (1, 3, 250, 230)
    assert out.aif.shape[-2:] == working_size(250, 230) == (256, 240)
    assert out.coc.shape[-2:] == (256, 240)


def test_deblur_with_pre_deblurred_uses_the_pre_deblur_lora(pipe, shared_data):
    d = shared_data / "genfocus"
    blurry = Image.open(d / "Blurry_example.jpg").resize((128, 128))
    pre = Image.open(d / "Blurry_example_pre_deblur.jpg").resize((128, 128))
    used = []
    orig = pipe._sample

    def spy(conds, *a, **k):
        used.append([(c.adapter, c.delta) for c in conds])
        return orig(conds, *a, **k)

    pipe._sample = spy
    try:
        a = pipe.deblur(blurry, pre, num_inference_steps=2).image
        b = pipe.deblur(blurry, num_inference_steps=2).image
    finally:
        del pipe._sample
    # the current official layouts (commit 54752a1): pre-deblur LoRA with two conditions, DeblurNet with one
    assert used[0] == [("deblurring_pre", (0, 32)), ("deblurring_pre", (0, 0))]
    assert used[1] == [("deblurring", (0, 0))]
    assert a.shape == b.shape == (1, 3, 128, 128)


def _pre_deblur_with_jdrl(pipe, blurry, model=None) -> tuple:
    """``pipe.deblur(blurry, "jdrl")`` with ``pipe.pre_deblur_model = model`` (None: unset) and a spy on the
    task's condition images; returns ``(conditions seen, the pre-deblur model the pipeline used)``."""
    seen = {}
    orig = pipe.run_task

    def spy(task, images, *a, **k):
        seen.update(images)
        return orig(task, images, *a, **k)

    pipe.pre_deblur_model, pipe.run_task = model, spy
    try:
        pipe.deblur(blurry, "jdrl", num_inference_steps=1)
        return seen, pipe.pre_deblur_model
    finally:
        pipe.pre_deblur_model = None
        del pipe.run_task


def test_pre_deblur_condition_made_by_jdrl(pipe, monkeypatch, tmp_path):
    """``pre_deblurred="jdrl"``: the pre-deblur LoRA's first condition is the JDRL model's output on the
    working blurry image (a tiny random JDRL whose output layer is not zero, so it changes the image)."""
    import genrefocus.models.jdrl as jdrl_module
    from genrefocus.models.jdrl import JDRLConfig, JDRLDeblur

    torch.manual_seed(0)
    jdrl = JDRLDeblur(JDRLConfig(width=4, levels=2, map_width=4))
    torch.nn.init.normal_(jdrl.out.weight, std=0.05)
    blurry = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with monkeypatch.context() as m:  # no model set and no shipped checkpoint: one clear error
        m.setattr(jdrl_module, "DEFAULT_CHECKPOINT", tmp_path / "missing")
        with pytest.raises(MissingWeightsError, match="pre_deblur_model"):
            pipe.deblur(blurry, "jdrl", num_inference_steps=1)
    seen, _ = _pre_deblur_with_jdrl(pipe, blurry, jdrl)
    expected = jdrl.deblur(seen["blurry"])
    assert torch.allclose(seen["pre_deblurred"], expected) and not torch.allclose(expected, seen["blurry"])


def test_pre_deblur_jdrl_loads_the_shipped_checkpoint_when_no_model_is_set(pipe):
    from genrefocus.models.jdrl import DEFAULT_CHECKPOINT, JDRLDeblur

    assert (DEFAULT_CHECKPOINT / "model.safetensors").is_file(), "the JDRL checkpoint genrefocus ships is missing"
    blurry = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    seen, loaded = _pre_deblur_with_jdrl(pipe, blurry)
    shipped = JDRLDeblur.from_pretrained(DEFAULT_CHECKPOINT)
    assert isinstance(loaded, JDRLDeblur)
    assert torch.equal(seen["pre_deblurred"], shipped.deblur(seen["blurry"]))


def test_clear_errors(pipe, tmp_path):
    aif = torch.rand(1, 3, 64, 64)
    depth = torch.ones(64, 64)
    with pytest.raises(InputError, match="K"):
        pipe.bokeh(aif, depth, K=-2)
    with pytest.raises(InputError, match="outside"):
        pipe.bokeh(aif, depth, focus=(500, 5), K=5, num_inference_steps=1)
    with pytest.raises(InputError, match="focus"):
        pipe.bokeh(aif, depth, focus="middle", K=5, num_inference_steps=1)
    with pytest.raises(MissingWeightsError, match="depth"):
        pipe.bokeh(aif, None, K=5)
    with pytest.raises(MissingWeightsError, match="shape LoRA|shape"):
        pipe.bokeh(aif, depth, K=5, aperture="heart")
    with pytest.raises(InputError, match="smaller than 16"):
        pipe.deblur(torch.rand(1, 3, 8, 64))
    bare = tiny_pipeline()
    with pytest.raises(MissingWeightsError, match="bokehNet.safetensors"):
        bare.bokeh(aif, depth, K=5)
    no_prompts = tiny_pipeline(with_prompts=False)
    write_official_lora(tmp_path / "b.safetensors", no_prompts.transformer)
    no_prompts.load_genfocus_lora(tmp_path / "b.safetensors", "bokeh")
    with pytest.raises(MissingWeightsError, match="text encoders"):
        no_prompts.bokeh(aif, depth, K=5, num_inference_steps=1)


def test_generative_cli_end_to_end(tmp_path, shared_data, capsys):
    from genrefocus.cli import main

    p = tiny_pipeline()
    p.save_pretrained(tmp_path / "flux")
    p.save_prompt_cache(tmp_path / "prompts.safetensors")
    for name, seed in (("deblurNet", 1), ("bokehNet", 2)):
        write_official_lora(tmp_path / f"{name}.safetensors", p.transformer, seed=seed, scale=0.2)
    d = shared_data / "genfocus"
    common = ["--model", str(tmp_path / "flux"), "--lora-dir", str(tmp_path), "--prompt-cache",
              str(tmp_path / "prompts.safetensors"), "--steps", "2", "--long_side", "128"]
    rc = main(["bokeh", "--input", str(d / "AIF_example.png"), "--depth", str(d / "AIF_example_pred.npy"),
               "--mask", str(d / "AIF_mask.png"), "--k_value", "15", "--output", str(tmp_path / "b.png"), *common])
    assert rc == 0
    with Image.open(tmp_path / "b.png") as im:
        assert im.size == (128, 128)  # --long_side: the working size, as the official scripts save
    rc = main(["refocus", "--input", str(d / "Blurry_example.jpg"), "--depth", str(d / "AIF_example_pred.npy"),
               "--point", "256,256", "--k_value", "10", "--output", str(tmp_path / "r.png"), *common])
    assert rc == 0 and (tmp_path / "r.png").is_file()
    rc = main(["deblur", "--input", str(d / "Blurry_example.jpg"), "--output", str(tmp_path / "d.png"),
               "--model", str(tmp_path / "flux"), "--lora-dir", str(tmp_path / "nope"), "--prompt-cache",
               str(tmp_path / "prompts.safetensors")])
    assert rc == 2 and "deblurNet.safetensors" in capsys.readouterr().err


def test_generative_cli_folder_and_fast_flags(tmp_path, capsys):
    from genrefocus.cli import main
    from genrefocus.io import save_image

    p = tiny_pipeline()
    p.save_pretrained(tmp_path / "flux")
    p.save_prompt_cache(tmp_path / "prompts.safetensors")
    write_official_lora(tmp_path / "bokehNet.safetensors", p.transformer, seed=2, scale=0.2,
                        metadata={"independent_conditions": "true"})
    (tmp_path / "in").mkdir()
    for i in range(2):
        save_image(torch.rand(1, 3, 48, 64, generator=torch.Generator().manual_seed(i)), tmp_path / "in" / f"{i}.png")
    np.save(tmp_path / "d.npy", np.full((48, 64), 2.0, np.float32))
    rc = main(["bokeh", "--input", str(tmp_path / "in"), "--output", str(tmp_path / "out"), "--depth",
               str(tmp_path / "d.npy"), "--k_value", "10", "--fast", "--attention", "loop", "--steps", "2",
               "--model", str(tmp_path / "flux"), "--lora-dir", str(tmp_path), "--prompt-cache",
               str(tmp_path / "prompts.safetensors")])
    assert rc == 0
    assert sorted(f.name for f in (tmp_path / "out").iterdir()) == ["0.png", "1.png"]
    assert capsys.readouterr().out.count(".png") == 2
