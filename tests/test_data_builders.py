"""genrefocus-data: readers for the public layouts, every builder on real photos, crash safety."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import photo
from genrefocus.data import readers
from genrefocus.data.cli import main
from genrefocus.data.manifest import read_jsonl
from genrefocus.io import save_image
from genrefocus.optics import render_bokeh, signed_coc
from genrefocus.optics.exif_k import thin_lens_k

NAMES = ["astronaut", "coffee", "chelsea", "rocket", "cat", "immunohistochemistry", "hubble_deep_field", "camera"]


def _img(path, seed=0, size=(24, 32), mode="RGB"):
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = (np.random.default_rng(seed).random((*size, 3)) * 255).astype(np.uint8)
    im = Image.fromarray(arr)
    im = im.convert("RGBA") if mode == "RGBA" else im
    im.save(path)
    return path


def test_readers_on_fake_trees(tmp_path):
    d = tmp_path / "dpdd" / "dd_dp_dataset_canon"
    for split in ("train", "test"):
        for view in ("c", "l", "r"):
            for i in range(3):
                _img(d / f"{split}_{view}" / "source" / f"{i:03d}.png", i)
                _img(d / f"{split}_{view}" / "target" / f"{i:03d}.png", i + 10)
    recs = list(readers.dpdd(tmp_path / "dpdd", "test", "c"))
    assert [r["id"] for r in recs] == ["dpdd_test_c_000", "dpdd_test_c_001", "dpdd_test_c_002"]
    assert recs[1]["input"].endswith("test_c/source/001.png") and recs[1]["target"].endswith("test_c/target/001.png")
    for i in range(2):
        _img(tmp_path / "realdof" / "source" / f"s{i}.jpg", i)
        _img(tmp_path / "realdof" / "target" / f"t{i}.jpg", i)
    assert len(list(readers.realdof(tmp_path / "realdof"))) == 2
    _img(tmp_path / "lfdof" / "ground_truth" / "sceneA.png", 1, mode="RGBA")
    for k in range(2):
        _img(tmp_path / "lfdof" / "input" / "sceneA" / f"{k}.png", k)
    lf = list(readers.lfdof(tmp_path / "lfdof"))
    assert len(lf) == 2 and lf[0]["aif"].endswith("sceneA.png")
    from genrefocus.io import load_image

    assert load_image(lf[0]["aif"]).shape[1] == 3  # RGBA → RGB
    rb = tmp_path / "rb" / "train"
    _img(rb / "in" / "x1_f22.JPG", 1)
    for av in ("2.0", "5.6"):
        _img(rb / "gt" / "x1" / f"x1_f{av}.JPG", 2)
    (rb / "metadata").mkdir()
    (rb / "metadata" / "x1.json").write_text(json.dumps({"focal_length": 50}))
    r = list(readers.realbokeh(tmp_path / "rb", "train"))
    assert [x["f_number"] for x in r] == [2.0, 5.6] and r[0]["metadata"]["focal_length"] == 50
    for i in range(2):
        _img(tmp_path / "ebb" / "train" / "original" / f"{i}.jpg", i)
        _img(tmp_path / "ebb" / "train" / "bokeh" / f"{i}.jpg", i)
    assert len(list(readers.ebb(tmp_path / "ebb"))) == 2
    _img(tmp_path / "hci" / "additional" / "boxes" / "input_Cam000.png", 0)
    assert [x["id"] for x in readers.hci(tmp_path / "hci")] == ["hci_additional_boxes"]
    with pytest.raises(Exception, match="target"):
        (tmp_path / "realdof" / "target" / "t1.jpg").unlink()
        list(readers.realdof(tmp_path / "realdof"))


def _photo_folder(root, n=6, size=(96, 128)):
    """Real scikit-image photos, a depth map per photo (metres) and a centre in-focus mask."""
    (root / "img").mkdir(parents=True)
    (root / "depth").mkdir()
    (root / "mask").mkdir()
    for i, name in enumerate(NAMES[:n]):
        save_image(photo(name, size), root / "img" / f"p{i}.png")
        yy, xx = np.mgrid[0:size[0], 0:size[1]] / np.array(size).reshape(2, 1, 1)
        depth = (1.0 + 3.0 * yy + 0.5 * np.sin(6 * xx + i)).astype(np.float32)
        np.save(root / "depth" / f"p{i}.npy", depth)
        m = np.zeros(size, np.uint8)
        m[size[0] // 3: 2 * size[0] // 3, size[1] // 3: 2 * size[1] // 3] = 255
        Image.fromarray(m).save(root / "mask" / f"p{i}.png")
    return root


def test_synthetic_build_and_shards(tmp_path):
    src = _photo_folder(tmp_path / "src", n=3)
    rc = main(["synthetic", "--input", str(src / "img"), "--depth-dir", str(src / "depth"), "--out",
               str(tmp_path / "out"), "--variants", "2", "--apertures", "disk,heart", "--k-range", "5,20",
               "--workers", "2", "--shards", "4"])
    assert rc == 0
    recs = read_jsonl(tmp_path / "out" / "manifest.jsonl")
    assert [r["id"] for r in recs] == sorted(f"p{i}_v{v}" for i in range(3) for v in range(2))
    for r in recs:
        assert 5 <= r["K"] <= 20 and r["aperture"] in ("disk", "heart") and Path(r["target"]).is_file()
        assert r["route"] == "synthetic"
    assert len(list((tmp_path / "out" / "shards").glob("shard-*.tar"))) == 2
    # the records are usable by the trainer's dataset
    from genrefocus.data.manifest_dataset import RefocusDataset

    ds = RefocusDataset("bokeh", {"manifest": str(tmp_path / "out" / "manifest.jsonl")}, resolution=64)
    s = ds.sample(0, np.random.default_rng(0))
    assert s["target"].shape == (3, 64, 64) and sorted(s["images"]) == ["aif", "defocus_map"]


def _exif_jpeg(path, arr, f_number=2.0, focal=50.0):
    exif = Image.Exif()
    exif[0x8769] = {0x829D: f_number, 0x920A: focal, 0xA20E: arr.shape[1] / 36.0, 0xA210: 4}
    Image.fromarray(arr).save(path, exif=exif.tobytes(), quality=95)


def test_itw_k_from_exif_and_skips(tmp_path):
    src = _photo_folder(tmp_path / "src", n=2)
    (tmp_path / "photos").mkdir()
    for i in range(2):
        arr = np.asarray(Image.open(src / "img" / f"p{i}.png").convert("RGB"))
        _exif_jpeg(tmp_path / "photos" / f"p{i}.jpg", arr, f_number=2.0 + i)
    Image.open(src / "img" / "p0.png").convert("RGB").save(tmp_path / "photos" / "noexif.jpg")
    rc = main(["itw", "--input", str(tmp_path / "photos"), "--aif-dir", str(src / "img"), "--depth-dir",
               str(src / "depth"), "--mask-dir", str(src / "mask"), "--out", str(tmp_path / "out")])
    assert rc == 0
    recs = read_jsonl(tmp_path / "out" / "manifest.jsonl")
    assert [r["id"] for r in recs] == ["p0", "p1"]
    for i, r in enumerate(recs):
        depth = np.load(src / "depth" / f"p{i}.npy")
        mask = np.asarray(Image.open(src / "mask" / f"p{i}.png")) > 127
        d_f = float(np.median(depth[mask]))
        assert r["D_focus"] == pytest.approx(d_f, rel=1e-5)
        assert r["K"] == pytest.approx(thin_lens_k(50.0, 2.0 + i, d_f, 128 / 36.0), rel=1e-5)
    errs = read_jsonl(tmp_path / "out" / "errors.jsonl")
    assert errs == [dict(errs[0], id="noexif", kind="skipped")] and "EXIF lacks" in errs[0]["reason"]


def test_calibrate_recovers_k(tmp_path):
    src = _photo_folder(tmp_path / "src", n=6)
    (tmp_path / "pairs").mkdir()
    rng = np.random.default_rng(1)
    truth, lines = {}, []
    for i in range(6):
        img = photo(NAMES[i], (96, 128))
        depth = torch.from_numpy(np.load(src / "depth" / f"p{i}.npy"))[None, None]
        mask = np.asarray(Image.open(src / "mask" / f"p{i}.png")) > 127
        d_f = 1.0 / float(np.median(depth[0, 0].numpy()[mask]))
        K = float(rng.uniform(10, 60))
        truth[f"p{i}"] = K
        tgt = render_bokeh(img, signed_coc(1.0 / depth, K, d_f), mode="layered")  # another simulator
        save_image(tgt, tmp_path / "pairs" / f"p{i}_bokeh.png")
        lines.append({"id": f"p{i}", "aif": str(src / "img" / f"p{i}.png"), "target": str(tmp_path / "pairs" / f"p{i}_bokeh.png")})
    # a generic pair list through the API (LFDOF / RealBokeh readers give the same fields)
    from genrefocus.data import builders
    from genrefocus.data.manifest import ManifestBuilder

    out = tmp_path / "out"
    proc = builders.calibrate(out, builders.Sources(depth_dir=str(src / "depth"), mask_dir=str(src / "mask"),
                                                    cache_dir=out), k_range=(0, 100), threshold=0.5)
    ManifestBuilder(out).run(lines, proc, progress=False)
    recs = read_jsonl(out / "manifest.jsonl")
    errs = [abs(r["K"] - truth[r["id"]]) / truth[r["id"]] for r in recs]
    assert len(recs) == 6 and all(r["calibration_ssim"] >= 0.5 for r in recs)
    print("calibrate: relative K errors", [round(e, 4) for e in errs])
    assert float(np.median(errs)) <= 0.05
    strict = builders.calibrate(tmp_path / "o2", builders.Sources(depth_dir=str(src / "depth"),
                                                                  mask_dir=str(src / "mask"), cache_dir=tmp_path / "o2"),
                                threshold=0.9999)
    ManifestBuilder(tmp_path / "o2").run(lines[:1], strict, progress=False)
    assert "threshold" in read_jsonl(tmp_path / "o2" / "errors.jsonl")[0]["reason"]


def test_filter_sharp_and_pointlight(tmp_path):
    (tmp_path / "imgs").mkdir()
    for i, name in enumerate(NAMES[:4]):
        img = photo(name, (64, 64))
        save_image(img, tmp_path / "imgs" / f"s{i}.png")
        save_image(render_bokeh(img, torch.full((1, 1, 64, 64), 4.0)), tmp_path / "imgs" / f"b{i}.png")
    assert main(["filter-sharp", "--input", str(tmp_path / "imgs"), "--top", "4", "--out", str(tmp_path / "fs")]) == 0
    kept = read_jsonl(tmp_path / "fs" / "manifest.jsonl")
    assert sorted(r["id"] for r in kept) == ["s0", "s1", "s2", "s3"]
    assert len(read_jsonl(tmp_path / "fs" / "scores.jsonl")) == 8
    from skimage import data

    (tmp_path / "night").mkdir()
    Image.fromarray(data.hubble_deep_field()[:200, :200]).save(tmp_path / "night" / "stars.png")
    save_image(photo("coffee", (64, 64)) * 0.5, tmp_path / "night" / "dim.png")
    assert main(["pointlight", "--input", str(tmp_path / "night"), "--apertures", "disk,star", "--min-lights", "10",
                 "--out", str(tmp_path / "pl")]) == 0
    recs = read_jsonl(tmp_path / "pl" / "manifest.jsonl")
    assert [r["aperture"] for r in recs] == ["disk", "star"] and all(r["point_lights"] >= 10 for r in recs)
    assert "point lights" in read_jsonl(tmp_path / "pl" / "errors.jsonl")[0]["reason"]


def test_bad_files_are_reported_and_do_not_stop_the_build(tmp_path):
    src = _photo_folder(tmp_path / "src", n=2)
    img = src / "img"
    (img / "zero.png").write_bytes(b"")
    (img / "text.png").write_text("hello")
    data = (img / "p0.png").read_bytes()
    (img / "trunc.png").write_bytes(data[: len(data) // 3])
    for s in ("zero", "text", "trunc"):
        np.save(src / "depth" / f"{s}.npy", np.ones((96, 128), np.float32))
    assert main(["synthetic", "--input", str(img), "--depth-dir", str(src / "depth"), "--out", str(tmp_path / "o")]) == 0
    assert [r["id"] for r in read_jsonl(tmp_path / "o" / "manifest.jsonl")] == ["p0_v0", "p1_v0"]
    errs = {e["id"]: e["reason"] for e in read_jsonl(tmp_path / "o" / "errors.jsonl")}
    assert "empty" in errs["zero"] and "not a readable image" in errs["text"] and "truncated" in errs["trunc"]


def test_itw_with_deblurnet_for_the_aif(tmp_path):
    """Without --aif-dir, `itw` runs DeblurNet (tiny random FLUX here) and stores its AIF."""
    from tiny_flux import tiny_pipeline, write_official_lora

    src = _photo_folder(tmp_path / "src", n=1, size=(64, 64))
    (tmp_path / "photos").mkdir()
    arr = np.asarray(Image.open(src / "img" / "p0.png").convert("RGB"))
    _exif_jpeg(tmp_path / "photos" / "p0.jpg", arr)
    p = tiny_pipeline()
    p.save_pretrained(tmp_path / "flux")
    p.save_prompt_cache(tmp_path / "prompts.safetensors")
    write_official_lora(tmp_path / "deblurNet.safetensors", p.transformer)
    rc = main(["itw", "--input", str(tmp_path / "photos"), "--flux", str(tmp_path / "flux"), "--lora-dir",
               str(tmp_path), "--prompt-cache", str(tmp_path / "prompts.safetensors"), "--depth-dir",
               str(src / "depth"), "--mask-dir", str(src / "mask"), "--out", str(tmp_path / "out")])
    assert rc == 0
    (rec,) = read_jsonl(tmp_path / "out" / "manifest.jsonl")
    assert rec["aif"].endswith("aif/p0.png") and Path(rec["aif"]).is_file() and rec["K"] > 0


def test_itw_with_jdrl_for_the_aif_on_the_cpu(tmp_path):
    """``itw --jdrl FOLDER``: photos without an AIF image get the JDRL model's output (no FLUX), stored
    and equal to what the model gives for the photo; --jdrl with --flux is refused."""
    from genrefocus.io import load_image
    from genrefocus.models.jdrl import JDRLConfig, JDRLDeblur

    src = _photo_folder(tmp_path / "src", n=1, size=(64, 64))
    (tmp_path / "photos").mkdir()
    arr = np.asarray(Image.open(src / "img" / "p0.png").convert("RGB"))
    _exif_jpeg(tmp_path / "photos" / "p0.jpg", arr)
    torch.manual_seed(0)
    model = JDRLDeblur(JDRLConfig(width=4, levels=2, map_width=4))
    torch.nn.init.normal_(model.out.weight, std=0.05)
    model.save_pretrained(tmp_path / "jdrl")
    common = ["itw", "--input", str(tmp_path / "photos"), "--depth-dir", str(src / "depth"), "--mask-dir",
              str(src / "mask")]
    both = ["--jdrl", str(tmp_path / "jdrl"), "--flux", str(tmp_path), "--out", str(tmp_path / "o2")]
    assert main(common + both) == 2
    assert main(common + ["--jdrl", str(tmp_path / "jdrl"), "--out", str(tmp_path / "out")]) == 0
    (rec,) = read_jsonl(tmp_path / "out" / "manifest.jsonl")
    photo = load_image(tmp_path / "photos" / "p0.jpg")
    expect = model.deblur(photo)
    assert not torch.allclose(expect, photo, atol=1 / 255)
    assert (load_image(rec["aif"]) - expect).abs().max() <= 1 / 255 + 1e-6


def test_photos_sharing_a_stem_get_their_own_records_and_find_their_depth(tmp_path):
    """coffee.png and coffee.jpg: two ids, two targets, neither overwriting the other; both read coffee.npy."""
    (tmp_path / "in").mkdir()
    (tmp_path / "depth").mkdir()
    a = photo("coffee", (48, 64))
    save_image(a, tmp_path / "in" / "coffee.png")
    save_image(1 - a, tmp_path / "in" / "coffee.jpg")
    np.save(tmp_path / "depth" / "coffee.npy", np.linspace(1, 5, 48 * 64).reshape(48, 64).astype(np.float32))
    assert main(["synthetic", "--input", str(tmp_path / "in"), "--depth-dir", str(tmp_path / "depth"),
                 "--out", str(tmp_path / "o")]) == 0
    recs = read_jsonl(tmp_path / "o" / "manifest.jsonl")
    assert len(recs) == 2 and len({r["id"] for r in recs}) == 2 and len({r["target"] for r in recs}) == 2
    assert {Path(r["aif"]).name for r in recs} == {"coffee.png", "coffee.jpg"}
    assert all(Path(r["depth"]).name == "coffee.npy" for r in recs)
    targets = [np.asarray(Image.open(r["target"])) for r in recs]
    assert not np.array_equal(targets[0], targets[1])
