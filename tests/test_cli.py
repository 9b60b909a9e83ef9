"""The command line: render on real data, clear errors, and the README demo."""

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from genrefocus.cli import main


def test_render_with_depth_and_mask(shared_data, tmp_path, capsys):
    d = shared_data / "genfocus"
    out = tmp_path / "bokeh.png"
    rc = main(["render", str(d / "AIF_example.png"), "--depth", str(d / "AIF_example_pred.npy"),
               "--mask", str(d / "AIF_mask.png"), "--K", "15", "--aperture", "polygon:6", "-o", str(out)])
    assert rc == 0 and out.is_file()
    with Image.open(out) as im:
        assert im.size == (512, 512)
    assert "focus disparity" in capsys.readouterr().out


def test_render_bokehme_png_disparity(shared_data, tmp_path):
    d = shared_data / "bokehme"
    out = tmp_path / "b.jpg"
    assert main(["render", str(d / "21.jpg"), "--disparity", str(d / "21_disparity.png"), "--png-8bit",
                 "--focus-disparity", str(90 / 255), "--K", "60", "--mode", "scatter", "-o", str(out)]) == 0
    ref = np.asarray(Image.open(d / "21_bokeh_classical_K60_df0.353_gamma4.jpg"), np.float64) / 255
    got = np.asarray(Image.open(out), np.float64) / 255
    assert 10 * np.log10(1 / np.mean((ref - got) ** 2)) > 38  # the CLI writes JPEG


@pytest.mark.parametrize("args, msg", [
    (["--focus", "9999,1"], "outside"),
    (["--focus", "1"], "expected x,y or x0,y0,x1,y1"),
    (["--K", "-3"], "K"),
    (["--aperture", "blob"], "unknown aperture"),
    (["--box", "5,5,5,5"], "empty"),
])
def test_render_errors(shared_data, tmp_path, capsys, args, msg):
    d = shared_data / "genfocus"
    rc = main(["render", str(d / "AIF_example.png"), "--depth", str(d / "AIF_example_pred.npy"), *args,
               "-o", str(tmp_path / "o.png")])
    assert rc == 2
    err = capsys.readouterr().err
    assert err.startswith("genrefocus") and ": error:" in err and msg in err


def test_missing_image(tmp_path, capsys):
    np.save(tmp_path / "d.npy", np.ones((32, 32), np.float32))
    rc = main(["render", str(tmp_path / "nope.jpg"), "--depth", str(tmp_path / "d.npy"), "-o", str(tmp_path / "o.png")])
    assert rc == 2 and "does not exist" in capsys.readouterr().err


def test_demo_console_script(tmp_path):
    out = tmp_path / "demo.png"
    r = subprocess.run([sys.executable, "-m", "genrefocus.cli", "demo", "-o", str(out)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().endswith("demo.png") and out.is_file()
    with Image.open(out) as im:
        assert im.size[0] > 800 and im.size[1] > 800
