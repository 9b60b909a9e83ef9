"""The command line: render on real data, clear errors, and the README demo."""

import subprocess
import sys

import numpy as np
import torch
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


def _subparsers():
    import argparse

    from genrefocus.cli import build_parser

    p = build_parser()
    sub = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices


def test_every_option_has_help_and_shows_its_default():
    """`render --help` shows K's and the focus's defaults, `-o` has help, `demo` options have descriptions,
    `app --help` shows the default port: every option of every command says what it is, and its default."""
    import argparse

    for name, parser in _subparsers().items():
        text = parser.format_help()
        for action in parser._actions:
            if action.help == argparse.SUPPRESS or isinstance(action, argparse._HelpAction):
                continue
            flag = "/".join(action.option_strings) or action.dest
            assert action.help, f"{name} {flag} has no help"
            shown = parser._get_formatter()._get_help_string(action)
            if action.default not in (None, False, argparse.SUPPRESS) and action.option_strings:
                assert "default" in shown.lower(), f"{name} {flag}: default {action.default!r} not shown"
        assert "(default:" in text, name
    assert "(default: 7860)" in _subparsers()["app"].format_help()
    assert "(default: 20.0)" in _subparsers()["render"].format_help()
    assert "default: the image centre" in _subparsers()["render"].format_help()


def test_an_unreachable_hub_fails_at_once(monkeypatch):
    """--allow-download offline: one error at once, not a minute of retries."""
    import time

    from genrefocus.errors import MissingWeightsError
    from genrefocus.hub import weights_source

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens on the discard port
    t0 = time.perf_counter()
    with pytest.raises(MissingWeightsError, match="cannot be reached"):
        weights_source("someone/some-model", "--depth-model", allow_download=True)
    assert time.perf_counter() - t0 < 5


def test_degenerate_and_infinite_maps(tmp_path, capsys):
    """Middlebury's disparity has inf where the stereo match failed. Kept as inf, the error says how to fix
    it; replaced by a huge number (np.nan_to_num) the map's real values collapse into 2 % of its range
    after normalisation, so nothing could be focused apart — a one-line warning says so."""
    from skimage import data

    from genrefocus.io import save_image

    left, _, disp = data.stereo_motorcycle()
    save_image(torch.from_numpy(left[::4, ::4].astype(np.float32) / 255).permute(2, 0, 1)[None], tmp_path / "m.png")
    np.save(tmp_path / "inf.npy", disp[::4, ::4].astype(np.float32))
    assert main(["render", str(tmp_path / "m.png"), "--disparity", str(tmp_path / "inf.npy"), "-o",
                 str(tmp_path / "o.png")]) == 2
    err = capsys.readouterr().err
    assert "NaN/inf" in err and "fill them" in err and "background" in err
    huge = np.nan_to_num(disp[::4, ::4].astype(np.float32))
    np.save(tmp_path / "degenerate.npy", huge / huge.max())  # normalised: real values ~1e-36, outliers 1
    assert main(["render", str(tmp_path / "m.png"), "--disparity", str(tmp_path / "degenerate.npy"), "--K", "30",
                 "-o", str(tmp_path / "o.png")]) == 0
    err = capsys.readouterr().err
    warnings = [x for x in err.splitlines() if "warning:" in x]
    assert len(warnings) == 1 and "outliers" in warnings[0] and "fill them" in warnings[0], err
