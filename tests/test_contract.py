"""The input contract of every entry point (DESIGN §8), table-driven.

Each case runs an entry point in-process with one bad input and asserts: exit code 2; exactly one line
on stderr, ``<prog>: error: ...``, naming the offending input; no traceback; no output file (or
temporary file) left behind; and, unless the case is about the model files themselves, that no model
was loaded and no heavy work started (the loaders and workers are replaced by tripwires).
"""

import importlib.util
import io
import json
import os
import pickle
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tiny_flux import tiny_pipeline, write_official_lora

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = {"train": ROOT / "training" / "train.py", **{p.stem: p for p in (ROOT / "eval").glob("*.py")}}
#: the training cases name their trainer: ("train_jdrl", "--batch-size 0") runs ``train.py jdrl --batch-size 0``
TRAINER_OF = {"train_lora": "lora", "train_uid": "uid", "train_dp_deblur": "dp_deblur", "train_jdrl": "jdrl"}


class HeavyWork(AssertionError):
    pass


def _tripwire(*a, **k):
    raise HeavyWork("heavy work started before the bad input was reported")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Every good and bad file the cases need, in one folder."""
    d = tmp_path_factory.mktemp("contract")
    rng = np.random.default_rng(0)

    def img(name, h=64, w=96, frames=None):
        arr = (rng.random((h, w, 3)) * 255).astype(np.uint8)
        if frames:
            ims = [Image.fromarray((rng.random((h, w, 3)) * 255).astype(np.uint8)) for _ in range(frames)]
            ims[0].save(d / name, save_all=True, append_images=ims[1:])
        else:
            Image.fromarray(arr).save(d / name)

    img("ok.png")
    img("ok2.png", 48, 64)
    img("tiny.png", 8, 8)
    img("dp.gif", 64, 96, frames=2)
    img("dp_tiny.gif", 20, 20, frames=2)
    Image.fromarray(np.zeros((64, 96, 3), np.uint8)).save(d / "black.png")
    (d / "empty.png").write_bytes(b"")
    (d / "text.png").write_text("not an image at all")
    (d / "trunc.png").write_bytes((d / "ok.png").read_bytes()[:200])
    np.save(d / "depth.npy", np.full((64, 96), 2.0, np.float32))
    np.save(d / "depth_nan.npy", np.full((64, 96), np.nan, np.float32))
    np.save(d / "depth_neg.npy", -np.ones((64, 96), np.float32))
    np.save(d / "depth_zero.npy", np.zeros((64, 96), np.float32))
    np.save(d / "depth_complex.npy", np.ones((64, 96), np.complex64))
    np.save(d / "depth_3d.npy", np.ones((64, 96, 3, 2), np.float32))
    np.save(d / "depth_ramp.npy", np.linspace(1, 5, 64 * 96).reshape(64, 96).astype(np.float32))
    np.save(d / "depth_um.npy", np.linspace(1e6, 5e6, 64 * 96).reshape(64, 96).astype(np.float32)[::-1].copy() * 1e-12)
    np.save(d / "depth_obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    (d / "depth.txt").write_text("1 2 3")
    Image.fromarray(np.full((64, 96), 7, np.uint16)).save(d / "disp_const.png")
    (d / "folder").mkdir()
    (d / "imgs").mkdir()
    img("imgs/a.png")
    (d / "empty_dir").mkdir()
    (d / "afile").write_text("x")
    (d / "badset").mkdir()
    img("badset/a.png")
    (d / "badset" / "b.png").write_bytes(b"\x89PNG broken")
    # a tiny FLUX and LoRA files, good and bad
    pipe = tiny_pipeline()
    pipe.save_pretrained(d / "flux")
    pipe.save_prompt_cache(d / "prompts.safetensors")
    (d / "loras").mkdir()
    for name in ("deblurNet", "bokehNet", "deblurNet_with_pre_deblur"):
        write_official_lora(d / "loras" / f"{name}.safetensors", pipe.transformer, seed=1, scale=0.1)
    (d / "loras_nan").mkdir()
    sd = write_official_lora(d / "loras_nan" / "bokehNet.safetensors", pipe.transformer)
    from safetensors.torch import save_file

    save_file({k: torch.full_like(v, float("nan")) for k, v in sd.items()}, str(d / "loras_nan" / "bokehNet.safetensors"))
    (d / "loras_keys").mkdir()
    write_official_lora(d / "loras_keys" / "bokehNet.safetensors", pipe.transformer,
                        extra_keys={"unet.up.lora_A.weight": torch.zeros(2, 2)})
    (d / "loras_pickle").mkdir()
    (d / "loras_pickle" / "bokehNet.safetensors").write_bytes(pickle.dumps({"a": 1}))
    (d / "junk_cache.safetensors").write_bytes(b"not safetensors")
    # broken FLUX folders
    import shutil

    for name, breaker in (("flux_noweights", lambda f: (f / "transformer" / "diffusion_pytorch_model.safetensors").unlink()),
                          ("flux_trunc", lambda f: (f / "transformer" / "diffusion_pytorch_model.safetensors").write_bytes(b"\x00" * 64)),
                          ("flux_pickle", lambda f: (f / "transformer" / "diffusion_pytorch_model.safetensors").rename(
                              f / "transformer" / "diffusion_pytorch_model.bin"))):
        shutil.copytree(d / "flux", d / name)
        breaker(d / name)
    (d / "notflux").mkdir()
    # training configs
    manifest = d / "m.jsonl"
    manifest.write_text(json.dumps({"aif": str(d / "ok.png"), "target": str(d / "ok.png"), "depth": str(d / "depth.npy"),
                                    "K": 10.0, "focus_disparity": 0.5}) + "\n")
    base = {"task": "bokeh", "model": str(d / "flux"), "data": {"manifest": str(manifest)}, "output_dir": str(d / "run")}

    def cfg(name, **changes):
        (d / name).write_text(json.dumps({**base, **changes}))

    cfg("cfg_ok.yaml")
    cfg("cfg_unknown.yaml", colour="red")
    cfg("cfg_rank0.yaml", rank=0)
    cfg("cfg_lr.yaml", learning_rate=-1)
    cfg("cfg_gas.yaml", gradient_accumulation_steps=0)
    cfg("cfg_type.yaml", rank="abc")
    cfg("cfg_many.yaml", rank=0, learning_rate=-1)
    cfg("cfg_task.yaml", task="paint")
    cfg("cfg_nodata.yaml", data={})
    cfg("cfg_nomanifest.yaml", data={"manifest": str(d / "nope.jsonl")})
    cfg("cfg_nomodel.yaml", model=str(d / "nowhere"))
    cfg("cfg_resume.yaml", resume_from_checkpoint=str(d / "nowhere"))
    cfg("cfg_dropout.yaml", text_dropout=2)
    cfg("cfg_res.yaml", resolution=100)
    (d / "cfg_bad.yaml").write_text("task: bokeh\nrank: [1, 2\n")
    (d / "cfg_list.yaml").write_text("- 1\n- 2\n")
    # manifests with a bad record (no K; a missing target file) and a checkpoint holding a pickled payload
    rec = {"aif": str(d / "ok.png"), "target": str(d / "ok.png"), "depth": str(d / "depth.npy"), "focus_disparity": 0.5}
    (d / "m_nok.jsonl").write_text(json.dumps(rec) + "\n")
    (d / "m_noimg.jsonl").write_text(json.dumps({**rec, "K": 10.0, "target": str(d / "gone.png")}) + "\n")
    cfg("cfg_nok.yaml", data={"manifest": str(d / "m_nok.jsonl")})
    cfg("cfg_noimg.yaml", data={"manifest": str(d / "m_noimg.jsonl")})
    (d / "ck_pickle").mkdir()
    (d / "ck_pickle" / "step.json").write_text('{"step": 5}')
    (d / "ck_pickle" / "optimizer.bin").write_bytes(pickle.dumps(Path("/etc/passwd")))
    cfg("cfg_resume_pickle.yaml", resume_from_checkpoint=str(d / "ck_pickle"))
    # DP model folders: an unknown config key; a valid config beside a FLUX LoRA's weights
    from genrefocus.pipelines.dual_pixel import DEFAULT_CHECKPOINT

    for name in ("dp_unknown", "dp_foreign"):
        shutil.copytree(DEFAULT_CHECKPOINT, d / name)
    conf = json.loads((d / "dp_unknown" / "config.json").read_text())
    (d / "dp_unknown" / "config.json").write_text(json.dumps({**conf, "nope": 1}))
    save_file({"transformer.x_embedder.lora_A.weight": torch.zeros(4, 64)}, str(d / "dp_foreign" / "model.safetensors"))
    # synthetic builds: two photos with one stem, and their depth
    (d / "same_stem").mkdir()
    img("same_stem/coffee.png")
    img("same_stem/coffee.jpg")
    # a build in progress with another shard size
    (d / "planned" / "parts").mkdir(parents=True)
    (d / "planned" / "parts" / "plan.json").write_text(json.dumps({"shard_size": 5, "items": 1, "ids_sha256": "x"}))
    # a lock held by this (alive) process, for the genrefocus-data lock case
    (d / "locked").mkdir()
    import socket

    (d / "locked" / ".genrefocus-data.lock").write_text(f"{socket.gethostname()} {os.getpid()}")
    return d


# (entry, argv with {d} for the files folder, substring the one-line message must contain,
#  output path that must not appear, whether model files themselves are the subject (no tripwire))
R = "render {d}/ok.png --depth {d}/depth.npy -o {d}/out/r.png"
G = "--model {d}/flux --lora-dir {d}/loras --prompt-cache {d}/prompts.safetensors"
B = "bokeh --input {d}/ok.png --output {d}/out/b.png --depth {d}/depth.npy " + G
D = "deblur --input {d}/ok.png --output {d}/out/d.png " + G
F = "refocus --input {d}/ok.png --output {d}/out/f.png --depth {d}/depth.npy " + G
P = "dp-refocus --input {d}/dp.gif --point 10,10 -o {d}/out/p.png"
S = "synthetic --input {d}/imgs --out {d}/out/syn --depth-dir {d}/folder"
CASES = [
    # ---- genrefocus render
    ("genrefocus", "render {d}/missing.png --depth {d}/depth.npy -o {d}/out/r.png", "does not exist"),
    ("genrefocus", "render {d}/empty.png --depth {d}/depth.npy -o {d}/out/r.png", "empty"),
    ("genrefocus", "render {d}/text.png --depth {d}/depth.npy -o {d}/out/r.png", "not a readable image"),
    ("genrefocus", "render {d}/trunc.png --depth {d}/depth.npy -o {d}/out/r.png", "trunc"),
    ("genrefocus", "render {d}/tiny.png --depth {d}/depth.npy -o {d}/out/r.png", "smaller than 16"),
    ("genrefocus", "render {d}/ok.png --depth {d}/missing.npy -o {d}/out/r.png", "depth"),
    ("genrefocus", "render {d}/ok.png --depth {d}/depth.txt -o {d}/out/r.png", ".npy or .pfm"),
    ("genrefocus", "render {d}/ok.png --depth {d}/depth_nan.npy -o {d}/out/r.png", "NaN"),
    ("genrefocus", "render {d}/ok.png --depth {d}/depth_neg.npy -o {d}/out/r.png", "negative"),
    ("genrefocus", "render {d}/ok.png --depth {d}/depth_zero.npy -o {d}/out/r.png", "no positive"),
    ("genrefocus", "render {d}/ok.png --depth {d}/depth_complex.npy -o {d}/out/r.png", "real-valued"),
    ("genrefocus", "render {d}/ok.png --depth {d}/depth_3d.npy -o {d}/out/r.png", "(H, W)"),
    ("genrefocus", "render {d}/ok.png --depth {d}/depth_obj.npy -o {d}/out/r.png", "not a readable .npy"),
    ("genrefocus", "render {d}/ok.png --disparity {d}/disp_const.png -o {d}/out/r.png", "constant"),
    ("genrefocus", R + " --focus 500,5", "--focus"),
    ("genrefocus", R + " --focus a,b", "--focus"),
    ("genrefocus", R + " --focus 1,2,3", "--focus"),
    ("genrefocus", R + " --focus nan,nan", "--focus"),
    ("genrefocus", R + " --box 5,5,5,9", "--box"),
    ("genrefocus", R + " --box 500,500,600,600", "--box"),
    ("genrefocus", R + " --mask {d}/missing.png", "mask"),
    ("genrefocus", R + " --mask {d}/empty.png", "empty"),
    ("genrefocus", R + " --focus-disparity nan", "--focus-disparity"),
    ("genrefocus", R + " --focus-disparity inf", "--focus-disparity"),
    ("genrefocus", R.replace("depth.npy", "depth_ramp.npy") + " --focus-disparity -5", "range"),
    ("genrefocus", R.replace("depth.npy", "depth_ramp.npy") + " --focus-disparity 1e9", "range"),
    ("genrefocus", "render {d}/ok.png --depth {d}/depth_um.npy -o {d}/out/r.png --focus 1,1 --K 20", "units"),
    ("genrefocus", R + " --K -1", "K"),
    ("genrefocus", R + " --K nan", "K"),
    ("genrefocus", R + " --K 1e9", "absurd"),
    ("genrefocus", R + " --aperture polygon:6:nan", "aperture"),
    ("genrefocus", R + " --aperture polygon:2", "aperture"),
    ("genrefocus", R + " --aperture star:1000", "aperture"),
    ("genrefocus", R + " --aperture nope", "aperture"),
    ("genrefocus", R + " --aperture {d}/black.png", "aperture"),
    ("genrefocus", R + " --gamma abc", "--gamma"),
    ("genrefocus", R + " --gamma 0", "--gamma"),
    ("genrefocus", R + " --device foo", "--device"),
    ("genrefocus", R + " --device cuda:7", "--device"),
    ("genrefocus", "render {d}/ok.png --depth {d}/depth.npy -o {d}/out/r.xyz", "--output"),
    ("genrefocus", "render {d}/ok.png --depth {d}/depth.npy -o {d}/folder", "--output"),
    ("genrefocus", "render {d}/ok.png --depth {d}/depth.npy -o {d}/afile/r.png", "--output"),
    ("genrefocus", R + " --mode nope", "--mode"),
    ("genrefocus", "render {d}/ok.png -o {d}/out/r.png", "--depth"),
    ("genrefocus", R + " --disparity {d}/depth.npy", "--disparity"),
    ("genrefocus", "render", "image"),
    ("genrefocus", "paint", "paint"),
    # ---- genrefocus demo
    ("genrefocus", "demo -o {d}/out/x.xyz", "--output"),
    ("genrefocus", "demo -o {d}/afile/x.png", "--output"),
    ("genrefocus", "demo --mode nope", "--mode"),
    # ---- genrefocus deblur / bokeh / refocus
    ("genrefocus", D.replace("{d}/ok.png", "{d}/missing.png"), "does not exist"),
    ("genrefocus", "deblur --input {d}/empty_dir --output {d}/out/dd " + G, "holds no images"),
    ("genrefocus", "deblur --input {d}/badset --output {d}/out/dd " + G, "b.png"),
    ("genrefocus", D.replace("{d}/ok.png", "{d}/text.png"), "not a readable image"),
    ("genrefocus", D + " --steps 0", "--steps"),
    ("genrefocus", D.replace("d.png", "d.xyz"), "--output"),
    ("genrefocus", D.replace("{d}/out/d.png", "{d}/folder"), "--output"),
    ("genrefocus", D.replace("{d}/out/d.png", "{d}/afile/d.png"), "--output"),
    ("genrefocus", D + " --device foo", "--device"),
    ("genrefocus", D + " --compat --seed 3", "--seed"),
    ("genrefocus", D.replace("{d}/loras", "{d}/nowhere"), "deblurNet.safetensors"),
    ("genrefocus", D.replace("{d}/flux", "{d}/notflux"), "model_index.json"),
    ("genrefocus", D.replace("{d}/flux", "someone/not-cached-model"), "not in the local Hugging Face cache"),
    ("genrefocus", D.replace("{d}/flux", "{d}/nowhere"), "does not exist"),
    ("genrefocus", D.replace("{d}/prompts.safetensors", "{d}/junk_cache.safetensors"), "prompt cache"),
    ("genrefocus", D.replace("{d}/prompts.safetensors", "{d}/missing.safetensors"), "prompt cache"),
    ("genrefocus", D + " --long_side 5", "long_side"),
    ("genrefocus", D + " --tile-batch 0", "--tile-batch"),
    ("genrefocus", D + " --pre_deblur_input {d}/missing.png", "--pre_deblur_input"),
    ("genrefocus", D + " --attention nope", "--attention"),
    ("genrefocus", D + " --dtype fp64", "--dtype"),
    ("genrefocus", D + " --deblur-layout three", "--deblur-layout"),
    ("genrefocus", B + " --k_value -3", "K"),
    ("genrefocus", B + " --k_value nan", "K"),
    ("genrefocus", B + " --k_value 1e9", "absurd"),
    ("genrefocus", B + " --point 500,5", "--point"),
    ("genrefocus", B + " --point x", "--point"),
    ("genrefocus", B + " --box 5,5,5,9", "--box"),
    ("genrefocus", B + " --mask {d}/missing.png", "--mask"),
    ("genrefocus", B + " --mask {d}/empty.png", "--mask"),
    ("genrefocus", B.replace(" --depth {d}/depth.npy", ""), "no depth source"),
    ("genrefocus", B.replace("depth.npy", "depth_nan.npy"), "NaN"),
    ("genrefocus", B.replace("depth.npy", "depth_zero.npy"), "no positive"),
    ("genrefocus", B + " --aperture heart", "shape LoRA"),
    ("genrefocus", B + " --aperture polygon:6:nan", "aperture"),
    ("genrefocus", B.replace("{d}/loras", "{d}/loras_nan"), "NaN"),
    ("genrefocus", B.replace("{d}/loras", "{d}/loras_keys"), "unknown LoRA keys"),
    ("genrefocus", B.replace("{d}/loras", "{d}/loras_pickle"), "not a readable safetensors"),
    ("genrefocus", B.replace("{d}/loras", "{d}/folder"), "bokehNet.safetensors"),
    ("genrefocus", B.replace(" --depth {d}/depth.npy", "") + " --depth-model someone/depth-not-cached",
     "--depth-model"),
    ("genrefocus", B + " --point 10,10 --sam-model someone/sam-not-cached", "--sam-model"),
    ("genrefocus", F + " --pre_deblur_input {d}/empty.png", "--pre_deblur_input"),
    ("genrefocus", F + " --k_value inf", "K"),
    ("genrefocus", F + " --point 10,10 --mask {d}/ok.png", "not allowed"),
    ("genrefocus", F + " --long_side abc", "--long_side"),
    ("genrefocus", F.replace(" --depth {d}/depth.npy", ""), "depth"),
    ("genrefocus", F + " --fast", "independent"),
    ("genrefocus", F.replace("depth.npy", "depth_ramp.npy") + " --focus d=-5", "range"),
    ("genrefocus", F.replace("f.png", "f.xyz"), "--output"),
    ("genrefocus", D.replace("{d}/flux", "{d}/flux_noweights"), "could not be loaded", None, True),
    ("genrefocus", D.replace("{d}/flux", "{d}/flux_trunc"), "could not be loaded", None, True),
    ("genrefocus", D.replace("{d}/flux", "{d}/flux_pickle"), "could not be loaded", None, True),
    # ---- genrefocus dp-refocus
    ("genrefocus", P.replace("dp.gif", "missing.gif"), "does not exist"),
    ("genrefocus", P.replace("dp.gif", "empty.png"), "empty"),
    ("genrefocus", P.replace("dp.gif", "ok.png"), "two frames"),
    ("genrefocus", P.replace("dp.gif", "dp_tiny.gif"), "smaller than 32"),
    ("genrefocus", "dp-refocus --left {d}/ok.png --point 1,1 -o {d}/out/p.png", "--right"),
    ("genrefocus", "dp-refocus --left {d}/ok.png --right {d}/ok2.png --point 1,1 -o {d}/out/p.png", "differ in size"),
    ("genrefocus", P.replace("10,10", "500,5"), "--point"),
    ("genrefocus", P.replace("--point 10,10", "--box 5,5,5,9"), "--box"),
    ("genrefocus", P.replace("--point 10,10", "--text ' '"), "--text"),
    ("genrefocus", P.replace("--point 10,10", "--mask {d}/missing.png"), "mask"),
    ("genrefocus", P.replace("p.png", "p.xyz"), "--output"),
    ("genrefocus", P + " --disparity-output {d}/out/disp.xyz", "--disparity-output"),
    ("genrefocus", P + " --aif-output {d}/folder", "--aif-output"),
    ("genrefocus", P + " --aif-output {d}/out/aif.xyz", "--aif-output"),
    ("genrefocus", P + " --checkpoint {d}/dp_unknown", "unknown field", None, True),
    ("genrefocus", P + " --checkpoint {d}/dp_foreign", "do not fit", None, True),
    ("genrefocus", P + " --checkpoint {d}/folder", "--checkpoint"),
    ("genrefocus", P.replace("--point 10,10", "--text cat") + " --text-model someone/owl-not-cached", "--text-model"),
    ("genrefocus", P.replace("--point 10,10", "--focus text:cat") + " --owlv2-model someone/owl-not-cached", "--text-model"),
    ("genrefocus", P + " --sam-model someone/sam-not-cached", "--sam-model"),
    ("genrefocus", P.replace("--point 10,10", "--focus d=nan"), "--focus"),
    ("genrefocus", "dp-refocus {d}/dp.gif --left {d}/ok.png --right {d}/ok.png -o {d}/out/p.png", "pair"),
    # ---- genrefocus app
    ("genrefocus", "app --port 70000", "--port"),
    ("genrefocus", "app --max-side 10", "--max-side"),
    ("genrefocus", "app --dp-checkpoint {d}/missing", "--dp-checkpoint"),
    ("genrefocus", "app --out-dir {d}/ok.png", "--out-dir"),
    # ---- genrefocus-data
    ("genrefocus-data", S.replace("{d}/imgs", "{d}/missing"), "--input"),
    ("genrefocus-data", S.replace("{d}/imgs", "{d}/empty_dir"), "no items"),
    ("genrefocus-data", S + " --limit 0", "--limit"),
    ("genrefocus-data", S + " --limit -2", "--limit"),
    ("genrefocus-data", S + " --variants 0", "--variants"),
    ("genrefocus-data", S + " --apertures nope", "aperture"),
    ("genrefocus-data", S + " --apertures disk,,heart", "--apertures"),
    ("genrefocus-data", S + " --k-range 40,5", "--k-range"),
    ("genrefocus-data", S + " --k-range nan,5", "--k-range"),
    ("genrefocus-data", S + " --k-range 1", "--k-range"),
    ("genrefocus-data", S + " --workers 0", "--workers"),
    ("genrefocus-data", S + " --shards -1", "--shards"),
    ("genrefocus-data", S + " --shard-size 0", "--shard-size"),
    ("genrefocus-data", S + " --distributor spark", "--distributor"),
    ("genrefocus-data", S.replace("{d}/out/syn", "{d}/planned"), "--shard-size"),
    ("genrefocus-data", S.replace("--depth-dir {d}/folder", "--depth-dir {d}/missing"), "--depth-dir"),
    ("genrefocus-data", S.replace("{d}/out/syn", "{d}/afile"), "--out"),
    ("genrefocus-data", S + " --source dpdd --split nope", "--split"),
    ("genrefocus-data", S + " --split train", "--split"),
    ("genrefocus-data", S + " --source nope", "--source"),
    ("genrefocus-data", S + " --depth-model someone/depth-not-cached", "--depth-model"),
    ("genrefocus-data", S + " --renderer nope", "--renderer"),
    ("genrefocus-data", "calibrate --input {d}/imgs --out {d}/out/cal --threshold 2", "--threshold"),
    ("genrefocus-data", "calibrate --input {d}/imgs --out {d}/out/cal --max-side 8", "--max-side"),
    ("genrefocus-data", "filter-sharp --input {d}/imgs --out {d}/out/fs --top 0", "--top"),
    ("genrefocus-data", "filter-sharp --input {d}/imgs --out {d}/out/fs", "--top"),
    ("genrefocus-data", "pointlight --input {d}/imgs --out {d}/out/pl --min-lights -1", "--min-lights"),
    ("genrefocus-data", "itw --input {d}/imgs --out {d}/out/itw --flux {d}/notflux", "--flux"),
    ("genrefocus-data", "itw --input {d}/imgs --out {d}/out/itw --flux {d}/flux --lora-dir {d}/nowhere",
     "deblurNet.safetensors"),
    ("genrefocus-data", "itw --input {d}/imgs --out {d}/out/itw --mask-dir {d}/missing", "--mask-dir"),
    ("genrefocus-data", S.replace("{d}/out/syn", "{d}/locked"), "another genrefocus-data run"),
    ("genrefocus-data", "paint --input {d}/imgs --out {d}/out/x", "paint"),
    # ---- training/train_lora.py
    ("train_lora", "--config {d}/missing.yaml", "--config"),
    ("train_lora", "--config {d}/cfg_bad.yaml", "not valid YAML"),
    ("train_lora", "--config {d}/cfg_list.yaml", "mapping"),
    ("train_lora", "--config {d}/cfg_unknown.yaml", "unknown keys"),
    ("train_lora", "--config {d}/cfg_rank0.yaml", "rank"),
    ("train_lora", "--config {d}/cfg_lr.yaml", "learning_rate"),
    ("train_lora", "--config {d}/cfg_gas.yaml", "gradient_accumulation_steps"),
    ("train_lora", "--config {d}/cfg_type.yaml", "rank: expected an integer"),
    ("train_lora", "--config {d}/cfg_many.yaml", "learning_rate"),
    ("train_lora", "--config {d}/cfg_task.yaml", "task"),
    ("train_lora", "--config {d}/cfg_nodata.yaml", "data"),
    ("train_lora", "--config {d}/cfg_nomanifest.yaml", "does not exist"),
    ("train_lora", "--config {d}/cfg_nomodel.yaml", "does not exist"),
    ("train_lora", "--config {d}/cfg_resume.yaml", "resume_from_checkpoint"),
    ("train_lora", "--config {d}/cfg_resume_pickle.yaml", "weights-only"),
    ("train_lora", "--config {d}/cfg_nok.yaml", "K"),
    ("train_lora", "--config {d}/cfg_noimg.yaml", "gone.png"),
    ("train_uid", "--out {d}/out/dp --resume {d}/ck_pickle", "weights-only"),
    ("train_jdrl", "--out {d}/out/jd --resume {d}/ck_pickle", "weights-only"),
    ("train_lora", "--config {d}/cfg_dropout.yaml", "text_dropout"),
    ("train_lora", "--config {d}/cfg_res.yaml", "resolution"),
    ("train_lora", "--config {d}/cfg_ok.yaml --set rank=x", "rank"),
    ("train_lora", "--config {d}/cfg_ok.yaml --set nope=1", "unknown key"),
    ("train_lora", "--config {d}/cfg_ok.yaml --set rank", "KEY=VALUE"),
    ("train_lora", "--config {d}/cfg_ok.yaml --set model=someone/not-cached", "not in the local Hugging Face cache"),
    ("train_lora", "", "--config"),
    # ---- training/train_uid.py
    ("train_uid", "--out {d}/out/dp --steps 0", "steps"),
    ("train_dp_deblur", "--out {d}/out/dd --steps 0", "steps"),
    ("train_dp_deblur", "--out {d}/out/dd --coc-max nan", "coc_max"),
    ("train_dp_deblur", "--out {d}/out/dd --lens-psf 1.5", "lens_psf"),
    ("train_dp_deblur", "--out {d}/out/dd --green -0.1", "green"),
    ("train_dp_deblur", "--out {d}/out/dd --softness-max 0.1", "softness_max"),
    ("train_dp_deblur", "--out {d}/out/dd --lam-fft -1", "lam_fft"),
    ("train_dp_deblur", "--out {d}/out/dd --lam-detail -1", "lam_detail"),
    ("train_dp_deblur", "--out {d}/out/dd --detail-band nyquist", "detail_band"),
    ("train_dp_deblur", "--out {d}/ok.png", "--out"),
    ("train_jdrl", "--out {d}/out/jd --batch-size 0", "batch_size"),
    ("train_jdrl", "--out {d}/out/jd --lr inf", "learning_rate"),
    ("train_jdrl", "--out {d}/out/jd --init-from {d}/folder", "init_from"),
    ("train_jdrl", "--out {d}/out/jd --palette 1.5", "palette"),
    ("train_jdrl", "--out {d}/out/jd --lam-detail -0.5", "lam_detail"),
    ("train_jdrl", "--out {d}/out/jd --detail-band nyquist", "detail_band"),
    ("train_jdrl", "--out {d}/out/jd --detail-coc-max -1", "detail_coc_max"),
    ("train_jdrl", "--out {d}/out/jd --detail-coc-max 4 --data dpdd:{d}/folder", "detail_coc_max"),
    ("train_dp_deblur", "--out {d}/out/dd --init-from {d}/nowhere", "init_from"),
    ("train_dp_deblur", "--out {d}/out/dd --data realdof:{d}/folder", "data"),
    ("train_jdrl", "--out {d}/out/jd --data sdd:{d}/nowhere", "data"),
    ("train_jdrl", "--out {d}/out/jd --backbone hinet", "backbone"),
    ("train_jdrl", "--out {d}/out/jd --blocks 0", "blocks"),
    ("genrefocus", "deblur --backend jdrl --input {d}/ok.png -o {d}/out/j.png --checkpoint {d}/folder", "--checkpoint"),
    ("train_uid", "--out {d}/out/dp --size 8", "size"),
    ("train_uid", "--out {d}/out/dp --lr -1", "learning_rate"),
    ("train_uid", "--out {d}/out/dp --k-range 5 2", "k_range"),
    ("train_uid", "--out {d}/out/dp --sources nope", "sources"),
    ("train_uid", "--out {d}/out/dp --sources aif_depth:{d}/missing.jsonl", "does not exist"),
    ("train_uid", "--out {d}/out/dp --sources dpdd:{d}/missing", "does not exist"),
    ("train_uid", "--out {d}/out/dp --init-from {d}/folder", "init_from"),
    ("train_uid", "--out {d}/out/dp --kernel-size 4", "kernel_size"),
    ("train_uid", "--out {d}/out/dp --stages 0", "stages"),
    ("train_uid", "--out {d}/out/dp --variant v9", "variant"),
    ("train_uid", "--out {d}/out/dp --resume {d}/nowhere", "resume_from_checkpoint"),
    ("train_uid", "--out {d}/out/dp --steps abc", "--steps"),
    # ---- eval/*.py
    ("bench_deblur", "--dataset dpdd --root {d}/missing", "--root"),
    ("bench_deblur", "--dataset dpdd --root {d}/folder --method nope", "--method"),
    ("bench_deblur", "--dataset dpdd --root {d}/folder --method generative", "--model"),
    ("bench_deblur", "--dataset dpdd --root {d}/folder --steps 0", "--steps"),
    ("bench_deblur", "--dataset realdof --root {d}/folder", "RealDOF"),
    ("bench_deblur", "--dataset nope --root {d}/folder", "--dataset"),
    ("bench_deblur", "--dataset canon --root {d}/folder", "canon_res_00"),
    ("bench_deblur", "--dataset canon --checkpoint {d}/folder", "--checkpoint"),
    ("bench_deblur", "--dataset canon --also {d}/folder", "--also"),
    ("bench_deblur", "--dataset canon --also l1={d}/folder", "--also"),
    ("bench_deblur", "--dataset dpdd --root {d}/folder --method jdrl --checkpoint {d}/folder", "--checkpoint"),
    ("jdrl_ablation", "--l1 {d}/folder", "--l1"),
    ("jdrl_ablation", "--l1 {d}/folder --n 0", "--n"),
    ("jdrl_ablation", "--l1 {d}/folder --size 8", "--size"),
    ("jdrl_ablation", "--l1 {d}/folder --shift-max -1", "--shift-max"),
    ("jdrl_ablation", "--l1 genrefocus/weights/jdrl --palette 2", "--palette"),
    ("jdrl_ablation", "--l1 genrefocus/weights/jdrl --photos {d}/nowhere", "--photos"),
    ("jdrl_ablation", "--l1 genrefocus/weights/jdrl --also {d}/folder", "--also"),
    ("jdrl_ablation", "--l1 genrefocus/weights/jdrl --also c2={d}/folder", "--also"),
    ("jdrl_ablation", "--l1 genrefocus/weights/jdrl --also jdrl=genrefocus/weights/jdrl", "--also"),
    ("bench_lf", "--synthetic --n-scenes 0", "--n-scenes"),
    ("bench_lf", "--synthetic --methods physical-nope", "--methods"),
    ("bench_lf", "--hci {d}/missing", "--hci"),
    ("bench_lf", "--synthetic --k-max -1", "--k-max"),
    ("bench_lf", "--synthetic --size 8", "--size"),
    ("bench_lf", "--synthetic --out {d}/afile", "--out"),
    ("bench_lf", "--synthetic --model {d}/notflux", "--model"),
    ("bench_pipeline", "--tiny --size 100x", "--size"),
    ("bench_pipeline", "--tiny --size 100x100", "--size"),
    ("bench_pipeline", "--tiny --steps 0", "--steps"),
    ("bench_pipeline", "--tiny --out {d}/afile", "--out"),
    ("bench_renderer", "--data {d}/missing", "--data"),
    ("bench_renderer", "--data {d}/folder", "--data"),
    ("bench_renderer", "--data {d}/folder --repeats 0", "--repeats"),
    ("dp_eval", "--checkpoint {d}/folder", "--checkpoint"),
    ("dp_eval", "--uid-checkpoint {d}/folder", "--uid-checkpoint"),
    ("dp_eval", "--n 0", "--n"),
    ("dp_eval", "--parts nope", "--parts"),
    ("dp_complexity", "--checkpoint {d}/folder", "--checkpoint"),
    ("bench_data", "--size 1x1 --out {d}/out/bd", "--size"),
    ("bench_data", "--n 0 --out {d}/out/bd", "--n"),
    ("bench_lora_routing", "--blocks 0", "--blocks"),
    ("bench_lora_routing", "--tile 0", "--tile"),
    ("dp_capacity", "{d}/folder", "snapshots"),
    ("dp_capacity", "{d}/folder --n 0", "--n"),
]


def _main(entry: str):
    if entry == "genrefocus":
        from genrefocus.cli import main

        return main
    if entry == "genrefocus-data":
        from genrefocus.data.cli import main

        return main
    spec = importlib.util.spec_from_file_location(f"_script_{entry}", SCRIPTS[entry])
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    _arm(mod, HEAVY_IN_SCRIPTS.get(entry, ()))
    return mod.main


#: heavy work in the eval scripts (names in their own namespaces)
HEAVY_IN_SCRIPTS = {"bench_lf": ("scene_lab_light_fields", "hci_light_fields"),
                    "bench_deblur": ("evaluate_deblur", "canon"), "jdrl_ablation": ("_figure",),
                    "bench_pipeline": ("random_pipeline",), "bench_lora_routing": ("random_pipeline",),
                    "bench_renderer": ("render_bokeh",), "dp_eval": ("validation", "signs", "relation", "resynthesis", "scene_lab", "synthetic", "memory"),
                    "dp_complexity": ("FlopCounterMode",), "bench_data": ("make_inputs",)}
_ARMED = []


def _arm(obj, names):
    for n in names:
        if hasattr(obj, n):
            _ARMED.append((obj, n, getattr(obj, n)))
            setattr(obj, n, _tripwire)


@pytest.fixture
def tripwires():
    """Replace every model loader and worker with a tripwire for the duration of one case."""
    from genrefocus import app_ui, perception
    from genrefocus.data import manifest
    from genrefocus.models import dp_deblur as dp_deblur_model, jdrl as jdrl_model, uid as uid_model
    from genrefocus.pipelines import dual_pixel, generative, physical
    from genrefocus.training import dp_deblur, jdrl, lora, uid

    _arm(generative.GenRefocusPipeline, ["from_pretrained", "from_options"])
    _arm(dual_pixel.DualPixelPipeline, ["from_pretrained"])
    _arm(uid_model.UiDModel, ["from_pretrained"])
    _arm(dp_deblur_model.DPDeblurNet, ["from_pretrained"])
    _arm(jdrl_model.JDRLDeblur, ["from_pretrained"])
    _arm(perception, ["load_depth_estimator"])
    _arm(physical, ["render_bokeh"])
    _arm(app_ui, ["serve"])
    _arm(manifest.ManifestBuilder, ["run"])
    _arm(lora, ["_load_components"])
    _arm(uid, ["DPBatches"])
    _arm(dp_deblur, ["PhotoPool"])
    _arm(jdrl, ["PhotoPool"])
    yield
    while _ARMED:
        obj, n, orig = _ARMED.pop()
        setattr(obj, n, orig)


def _run_case(files, entry, argv_t):
    import shlex

    argv = shlex.split(argv_t.format(d=files))
    if entry in TRAINER_OF:
        entry, argv = "train", [TRAINER_OF[entry]] + argv
    err, out = io.StringIO(), io.StringIO()
    main = _main(entry)
    with redirect_stderr(err), redirect_stdout(out):
        rc = main(argv)
    return rc, err.getvalue()


@pytest.fixture(autouse=True)
def grad_mode_unchanged():
    """An entry point must not leave global torch state changed for the caller."""
    before = torch.is_grad_enabled()
    yield
    assert torch.is_grad_enabled() == before, "the entry point changed the global grad mode"


def _case_id(c):
    return f"{c[0]}:{c[1].split()[0] if c[1] else '(none)'}:{c[2]}"


@pytest.mark.parametrize("case", CASES, ids=[f"{i:03d}-{_case_id(c)}" for i, c in enumerate(CASES)])
def test_bad_input_is_one_line_exit_2_before_heavy_work(files, case, request):
    entry, argv_t, expect = case[:3]
    models_are_the_subject = len(case) > 4 and case[4]
    if not models_are_the_subject:
        request.getfixturevalue("tripwires")
    prog = {"genrefocus": "genrefocus", "genrefocus-data": "genrefocus-data"}.get(entry, entry)
    prog = "train" if entry in TRAINER_OF else prog
    before = {p for p in (files / "out").rglob("*")} if (files / "out").exists() else set()
    rc, err = _run_case(files, entry, argv_t)
    lines = [x for x in err.splitlines() if x.strip()]
    assert rc == 2, (rc, err[-2000:])
    assert "Traceback" not in err
    assert len(lines) == 1, err
    assert lines[0].startswith(prog) and ": error: " in lines[0].split("'")[0], lines[0]  # "prog[ sub]: error: ..."
    assert expect.lower() in lines[0].lower(), lines[0]
    after = {p for p in (files / "out").rglob("*")} if (files / "out").exists() else set()
    new_files = [p for p in after - before if p.is_file()]
    assert not new_files, f"left behind: {new_files}"


def test_at_least_120_cases_over_every_entry_point():
    by_entry = {}
    for c in CASES:
        by_entry[c[0]] = by_entry.get(c[0], 0) + 1
    assert len(CASES) >= 120
    assert set(by_entry) >= {"genrefocus", "genrefocus-data", "train_lora", "train_uid", "bench_deblur", "bench_lf",
                             "bench_pipeline", "bench_renderer", "dp_eval", "dp_complexity", "bench_data",
                             "bench_lora_routing"}


#: commands on a base install (the extras' packages blocked): (entry, argv, the extra named, or None: it works)
BASE = [("genrefocus", "render {d}/ok.png --focus 1,1 -o {d}/out/b1.png", "depth"),
        ("genrefocus", "render {d}/ok.png --allow-download -o {d}/out/b2.png", "depth"),
        ("genrefocus", "focus-pull {d}/ok.png --focus 1,1 --focus-end 9,9 -o {d}/out/b3.gif", "depth"),
        ("genrefocus", "focus-pull {d}/ok.png --depth {d}/depth.npy --focus 1,1 --focus-end 9,9 -o {d}/out/b4.mp4",
         "video"),
        ("genrefocus", "deblur {d}/ok.png -o {d}/out/b5.png", "gpu"),
        ("genrefocus", "bokeh {d}/ok.png --depth {d}/depth.npy -o {d}/out/b6.png", "gpu"),
        ("genrefocus", "refocus --input {d}/ok.png --depth {d}/depth.npy --output {d}/out/b7.png", "gpu"),
        ("genrefocus", "dp-refocus {d}/dp.gif --focus text:cat -o {d}/out/b8.png", "depth"),
        ("genrefocus", "dp-refocus {d}/dp.gif --point 10,10 --sam-model someone/sam -o {d}/out/b9.png", "depth"),
        ("genrefocus", "app", "app"),
        ("genrefocus-data", "itw --input {d}/imgs --out {d}/out/bitw --flux {d}/flux --lora-dir {d}/loras", "gpu"),
        ("genrefocus-data", "synthetic --input {d}/imgs --out {d}/out/bray --depth-dir {d}/folder --distributor ray",
         "cluster"),
        ("train", "dp_deblur --steps 1 --output-dir {d}/out/btrain", "train"),
        ("genrefocus", "render {d}/ok.png --depth {d}/depth.npy --focus 10,10 -o {d}/out/base_ok.png", None),
        ("genrefocus", "dp-refocus {d}/dp.gif --focus 10,10 -o {d}/out/base_dp.png", None)]


@pytest.mark.parametrize("case", BASE, ids=[f"{c[0]}:{c[1].split()[0]}:{c[2]}" for c in BASE])
def test_a_base_install_names_the_missing_extra_in_one_line(files, case):
    """Every command on a base install either works or stops in one line naming the extra to install —
    never a ModuleNotFoundError traceback (the extras' modules are blocked by ``tests/_no_extras.py``)."""
    import shlex
    import subprocess
    import sys

    entry, argv_t, extra = case
    argv = shlex.split(argv_t.format(d=files))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, str(ROOT / "tests" / "_no_extras.py"), entry, *argv], capture_output=True,
                       text=True, timeout=300, env=env)
    lines = [x for x in r.stderr.splitlines() if x.strip() and "warning:" not in x and "%|" not in x]
    assert "Traceback" not in r.stderr, r.stderr[-3000:]
    if extra is None:
        assert r.returncode == 0, r.stderr[-2000:]
        return
    assert r.returncode == 2 and len(lines) == 1, r.stderr[-2000:]
    assert f'pip install "genrefocus[{extra}]"' in lines[0], lines[0]
