"""`genrefocus render` over a folder or a glob: one output per image, failures logged per file while
the run goes on, and a re-run that only does what is missing."""

import json

import numpy as np
import pytest
from PIL import Image

from conftest import photo
from genrefocus.cli import main


def _folder(tmp_path, names=("a", "b", "c"), maps=("a", "b")):
    imgs, disps = tmp_path / "imgs", tmp_path / "disps"
    imgs.mkdir()
    disps.mkdir()
    for i, n in enumerate(names):
        rgb = (photo(["astronaut", "coffee", "chelsea"][i % 3], (48, 64))[0].permute(1, 2, 0).numpy() * 255)
        Image.fromarray(rgb.round().astype(np.uint8)).save(imgs / f"{n}.png")
    d = np.zeros((48, 64), np.float32)
    d[:, :32] = 1.0
    for n in maps:
        np.save(disps / f"{n}.npy", d)
    return imgs, disps


def _records(out):
    return [json.loads(line) for line in (out / "render.jsonl").read_text().splitlines()]


def test_folder_render_logs_failures_and_resumes(tmp_path, capsys):
    imgs, disps = _folder(tmp_path)
    out = tmp_path / "out"
    args = ["render", str(imgs), "--disparity", str(disps), "--focus-region", "near", "--K", "8", "-o", str(out)]
    assert main(args) == 0
    assert "2 rendered, 1 failed" in capsys.readouterr().out
    assert sorted(p.name for p in out.glob("*.png")) == ["a.png", "b.png"]
    errors = [json.loads(line) for line in (out / "errors.jsonl").read_text().splitlines()]
    assert [e["id"] for e in errors] == ["c"] and "no map named c" in errors[0]["reason"]
    assert [r["id"] for r in _records(out)] == ["a", "b"]
    # the near region (left half, disparity 1) is in focus: sharper than the right half
    res = np.asarray(Image.open(out / "a.png"), np.float32)
    src = np.asarray(Image.open(imgs / "a.png"), np.float32)
    assert np.abs(res[:, 4:28] - src[:, 4:28]).mean() < 0.5 * np.abs(res[:, 36:60] - src[:, 36:60]).mean()
    # add the missing map: a re-run renders only that one
    np.save(disps / "c.npy", np.load(disps / "a.npy"))
    before = (out / "a.png").stat().st_mtime_ns
    assert main(args) == 0
    assert "1 rendered, 0 failed (errors.jsonl), 2 done before" in capsys.readouterr().out
    assert (out / "a.png").stat().st_mtime_ns == before
    assert [r["id"] for r in _records(out)] == ["a", "b", "c"]


def test_glob_pattern(tmp_path, capsys):
    imgs, disps = _folder(tmp_path, maps=("a", "b", "c"))
    out = tmp_path / "out"
    assert main(["render", str(imgs / "[ab].png"), "--disparity", str(disps), "--focus-disparity", "0.5",
                 "--format", "jpg", "-o", str(out)]) == 0
    assert sorted(p.name for p in out.glob("*.jpg")) == ["a.jpg", "b.jpg"]


@pytest.mark.parametrize("extra, msg", [
    (["-o", "{t}/out.png"], "folder"),
    (["--mask", "{t}/m.png", "-o", "{t}/out"], "--mask"),
    (["--disparity", "{t}/imgs/a.png", "-o", "{t}/out"], "folder of maps"),
])
def test_folder_mode_bad_options_are_one_line(tmp_path, capsys, extra, msg):
    imgs, _ = _folder(tmp_path)
    assert main(["render", str(imgs)] + [e.format(t=tmp_path) for e in extra]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and msg in err
