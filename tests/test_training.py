"""LoRA training on a tiny FLUX (CPU): overfitting, export → pipeline, resume, shape run, 2 processes."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from genrefocus.errors import InputError
from genrefocus.training.lora import LoRATrainConfig
from genrefocus.training.config import load_config
from genrefocus.training.lora import read_losses, train
from conftest import free_port
from tiny_flux import write_official_lora
from train_fixtures import photo_set, saved_tiny_model

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return saved_tiny_model(tmp_path_factory.mktemp("model"), layers=2, heads=4)


def _cfg(model, out, manifest, task="bokeh", **kw):
    flux, cache = model
    base = dict(task=task, model=str(flux), prompt_cache=str(cache), output_dir=str(out), rank=16, max_steps=250,
                learning_rate=1e-2, gradient_accumulation_steps=1, mixed_precision="no", gradient_checkpointing=False,
                resolution=32, data={"manifest": str(manifest)}, checkpointing_steps=0, validation_steps=0)
    base.update(kw)
    return LoRATrainConfig(**base)


@pytest.mark.parametrize("task", ["deblur", "bokeh"])
def test_lora_overfits_four_samples_and_loads_into_the_pipeline(model, tmp_path, task):
    manifest = photo_set(tmp_path / "data", n=4, size=32, task=task)
    cfg = _cfg(model, tmp_path / "run", manifest, task, text_dropout=0.0, condition_dropout=0.0, fixed_noise=True,
               gradient_checkpointing=True)
    path = train(cfg, progress=False)
    losses = read_losses(cfg.output_dir)
    assert len(losses) == 250
    ratio = np.mean(losses[:10]) / np.mean(losses[-10:])
    print(f"{task}: loss {np.mean(losses[:10]):.3f} → {np.mean(losses[-10:]):.3f} ({ratio:.1f}×)")
    assert ratio >= 5.0
    with safe_open(str(path), "pt") as fh:
        meta = fh.metadata()
        keys = list(fh.keys())
    assert meta["task"] == task and meta["rank"] == "16" and meta["independent_conditions"] == "false"
    assert all(k.startswith("transformer.") and (".lora_A.weight" in k or ".lora_B.weight" in k) for k in keys)
    # the exported file loads into GenRefocusPipeline and changes its output
    from genrefocus.models.tasks import TASKS, Condition
    from genrefocus.pipelines.generative import GenRefocusPipeline

    pipe = GenRefocusPipeline.from_pretrained(model[0], prompt_cache=model[1], **{f"{task}_lora": path})
    pipe.set_progress_bar_config(disable=True)
    img = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    spec = TASKS[task]
    adapter = "deblurring" if task == "deblur" else "bokeh"

    def run(a):  # the task's own condition layout (deblur: one condition since the 2026-03-11 release)
        conds = [Condition(img, a, s.delta, s.preprocess) for s in spec.layout]
        return pipe.generate(conds, spec.prompt, 32, 32, num_inference_steps=2, guidance_scale=spec.guidance,
                             generator=torch.Generator().manual_seed(1))

    assert len(spec.layout) == (1 if task == "deblur" else 2)
    assert (run(adapter) - run(None)).abs().max() > 1e-3


def test_resume_continues_with_the_same_losses(model, tmp_path):
    manifest = photo_set(tmp_path / "data", n=4, size=32)
    full = _cfg(model, tmp_path / "full", manifest, max_steps=6, checkpointing_steps=3, gradient_accumulation_steps=2)
    train(full, progress=False)
    first = _cfg(model, tmp_path / "split", manifest, max_steps=3, checkpointing_steps=3, gradient_accumulation_steps=2)
    train(first, progress=False)
    second = _cfg(model, tmp_path / "split", manifest, max_steps=6, checkpointing_steps=3,
                  gradient_accumulation_steps=2, resume_from_checkpoint="latest")
    train(second, progress=False)
    a, b = read_losses(tmp_path / "full"), read_losses(tmp_path / "split")
    assert len(a) == len(b) == 6
    np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-7)
    # the checkpoint holds the LoRA only (no full model), and the limit keeps the newest ones
    ck = sorted((tmp_path / "full").glob("checkpoint-*"))
    assert [p.name for p in ck] == ["checkpoint-3", "checkpoint-6"]
    assert (ck[0] / "lora.safetensors").is_file() and not list(ck[0].glob("model*.safetensors"))
    sd_full = load_file(str(tmp_path / "full" / "bokeh_lora.safetensors"))
    sd_split = load_file(str(tmp_path / "split" / "bokeh_lora.safetensors"))
    for k in sd_full:
        torch.testing.assert_close(sd_full[k], sd_split[k], rtol=1e-5, atol=1e-7)


def test_shape_run_leaves_the_base_lora_bit_identical(model, tmp_path):
    from diffusers import FluxTransformer2DModel

    manifest = photo_set(tmp_path / "data", n=2, size=32)
    base = write_official_lora(tmp_path / "bokehNet.safetensors",
                               FluxTransformer2DModel.from_pretrained(model[0], subfolder="transformer"), rank=4, seed=4,
                               scale=0.1)
    cfg = _cfg(model, tmp_path / "shape", manifest, task="shape", base_lora=str(tmp_path / "bokehNet.safetensors"),
               max_steps=4, data={"synthetic": {"manifest": str(manifest), "k_range": [5, 10],
                                                "apertures": ["heart", "star"]}})
    captured = {}
    import genrefocus.training.lora as T

    real_export = T.export_lora

    def spy(transformer, adapter, path, cfg_, steps):
        captured.update(T.lora_state_dict(transformer, "bokeh"))
        return real_export(transformer, adapter, path, cfg_, steps)

    T.export_lora = spy
    try:
        path = train(cfg, progress=False)
    finally:
        T.export_lora = real_export
    assert set(captured) == set(base)
    for k, v in base.items():
        assert torch.equal(captured[k], v.float()), k  # frozen: bit-identical
    shape = load_file(str(path))
    assert set(shape) == set(base) and not all(torch.equal(shape[k], base[k]) for k in base)


def test_config_files_and_errors(tmp_path):
    for name in ("deblurnet", "deblurnet_predeblur", "bokehnet_synthetic", "bokehnet_real", "shape"):
        cfg = load_config(LoRATrainConfig, ROOT / "training" / "configs" / f"{name}.yaml")
        assert cfg.gradient_accumulation_steps == 8 and cfg.train_batch_size == 1 and cfg.mixed_precision == "bf16"
    assert load_config(LoRATrainConfig, ROOT / "training/configs/deblurnet.yaml").rank == 128
    assert load_config(LoRATrainConfig, ROOT / "training/configs/deblurnet.yaml").max_steps == 60000
    syn = load_config(LoRATrainConfig, ROOT / "training/configs/bokehnet_synthetic.yaml")
    assert (syn.rank, syn.max_steps) == (64, 40000)
    real = load_config(LoRATrainConfig, ROOT / "training/configs/bokehnet_real.yaml", ["max_steps=5", "data.manifest=x.jsonl"])
    assert real.max_steps == 5 and real.data["manifest"] == "x.jsonl" and real.init_lora
    with pytest.raises(InputError, match="unknown key"):
        load_config(LoRATrainConfig, ROOT / "training/configs/deblurnet.yaml", ["nope=1"])
    with pytest.raises(InputError, match="base_lora"):
        LoRATrainConfig(task="shape", data={"manifest": "m"})
    with pytest.raises(InputError, match="task"):
        LoRATrainConfig(task="paint", data={"manifest": "m"})


def test_two_process_training_saves_once(model, tmp_path):
    if shutil.which("accelerate") is None:
        pytest.skip("accelerate launcher not installed")
    manifest = photo_set(tmp_path / "data", n=4, size=32)
    cfg_path = tmp_path / "cfg.yaml"
    cfg_path.write_text(json.dumps(dict(task="bokeh", model=str(model[0]), prompt_cache=str(model[1]),
                                        output_dir=str(tmp_path / "run"), rank=4, max_steps=3, learning_rate=1e-3,
                                        gradient_accumulation_steps=1, mixed_precision="no",
                                        gradient_checkpointing=False, resolution=32,
                                        data={"manifest": str(manifest)}, checkpointing_steps=3,
                                        validation_steps=0)))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    r = subprocess.run(["accelerate", "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
                        "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_ip", "127.0.0.1",
                        "--main_process_port", str(free_port()), str(ROOT / "training" / "train.py"),
                        "lora", "--config", str(cfg_path)], env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    out = tmp_path / "run"
    assert r.stdout.count("bokeh_lora.safetensors") == 1  # printed by the main process only
    assert len(read_losses(out)) == 3  # logged once per step, not once per process
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-3"]
    assert (out / "bokeh_lora.safetensors").is_file()


def test_validation_images_and_independent_condition_metadata(model, tmp_path):
    manifest = photo_set(tmp_path / "data", n=2, size=32)
    cfg = _cfg(model, tmp_path / "run", manifest, max_steps=2, validation_steps=2, validation_inference_steps=2,
               independent_conditions=True)
    path = train(cfg, progress=False)
    assert (tmp_path / "run" / "validation" / "step-000002.png").is_file()
    with safe_open(str(path), "pt") as fh:
        assert fh.metadata()["independent_conditions"] == "true"
    from genrefocus.pipelines.generative import GenRefocusPipeline

    pipe = GenRefocusPipeline.from_pretrained(model[0], prompt_cache=model[1], bokeh_lora=path)
    pipe.set_progress_bar_config(disable=True)
    from genrefocus.pipelines.options import SamplerOptions

    out = pipe.bokeh(torch.rand(1, 3, 32, 32), torch.full((32, 32), 2.0), K=5, num_inference_steps=2,
                     options=SamplerOptions(independent_conditions=True))
    assert out.image.shape == (1, 3, 32, 32)
