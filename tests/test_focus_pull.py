"""Focus pull: a rack-focus animation from one photo. The sharpness must move from the first point's
depth to the second's (measured on the written frames), with the requested count and size."""

import numpy as np
import pytest
import torch
from PIL import Image, ImageSequence

from genrefocus.cli import main
from genrefocus.optics import local_variance_of_laplacian


def _scene(tmp_path):
    """Two textured halves at different disparities: left near (1.0), right far (0.0)."""
    from conftest import photo

    img = photo("astronaut", (96, 128))
    disp = torch.zeros(96, 128)
    disp[:, :64] = 1.0
    Image.fromarray((img[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)).save(tmp_path / "p.png")
    np.save(tmp_path / "d.npy", disp.numpy())
    return tmp_path / "p.png", tmp_path / "d.npy"


def test_focus_pull_gif_moves_sharpness_from_one_point_to_the_other(tmp_path, capsys):
    src, disp = _scene(tmp_path)
    out = tmp_path / "pull.gif"
    assert main(["focus-pull", str(src), "--disparity", str(disp), "--from", "30,48", "--to", "100,48",
                 "--frames", "9", "--K", "12", "--batch", "4", "-o", str(out)]) == 0
    assert "9 frames" in capsys.readouterr().out
    with Image.open(out) as im:
        frames = [np.asarray(f.convert("RGB"), np.float32) / 255 for f in ImageSequence.Iterator(im)]
    assert len(frames) == 9 and frames[0].shape == (96, 128, 3)
    lv = [local_variance_of_laplacian(torch.from_numpy(f).permute(2, 0, 1)[None])[0, 0] for f in frames]
    left = [float(v[8:-8, 8:56].mean()) for v in lv]
    right = [float(v[8:-8, 72:-8].mean()) for v in lv]
    print("left sharpness", np.round(left, 5), "right", np.round(right, 5))
    assert left[0] > 3 * right[0] and right[-1] > 3 * left[-1]  # first frame: left sharp; last: right
    ratio = np.array(left) / np.array(right)
    assert np.all(np.diff(ratio) <= 1e-6 * ratio[:-1] + 1e-9)  # the focus moves one way only


def test_focus_pull_library_schedule():
    from conftest import photo
    from genrefocus.pipelines import PhysicalRefocusPipeline

    img = photo("chelsea", (48, 64))
    disp = torch.linspace(0, 1, 64).view(1, 1, 1, 64).expand(1, 1, 48, 64).contiguous()
    out = PhysicalRefocusPipeline(mode="fast").focus_pull(img, disparity=disp, focus=(2, 10), focus_end=(61, 10), frames=5,
                                                          K=5, K_end=10, ease="linear", batch=2, progress=False)
    assert out.frames.shape == (5, 3, 48, 64)
    assert out.K == pytest.approx([5, 6.25, 7.5, 8.75, 10])
    d = np.array(out.focus_disparity)
    assert d[0] < 0.1 and d[-1] > 0.9 and np.allclose(np.diff(d), np.diff(d)[0])


@pytest.mark.parametrize("args, msg", [
    (["--frames", "1"], "--frames"),
    (["--to", "999,5"], "--to"),
    (["--fps", "0"], "--fps"),
])
def test_focus_pull_bad_input_is_one_line(tmp_path, capsys, args, msg):
    src, disp = _scene(tmp_path)
    base = ["focus-pull", str(src), "--disparity", str(disp), "--from", "30,48", "--to", "100,48",
            "-o", str(tmp_path / "x.gif")]
    for i in range(0, len(args), 2):
        if args[i] in base:
            base[base.index(args[i]) + 1] = args[i + 1]
        else:
            base += args[i:i + 2]
    assert main(base) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and msg in err


def test_focus_pull_output_extension_checked_first(tmp_path, capsys):
    src, disp = _scene(tmp_path)
    assert main(["focus-pull", str(src), "--disparity", str(disp), "--from", "1,1", "--to", "2,2",
                 "-o", str(tmp_path / "x.png")]) == 2
    assert ".gif" in capsys.readouterr().err


def test_focus_pull_mp4(tmp_path):
    av = pytest.importorskip("av", reason="PyAV is an optional extra (video); .ci/run installs it")
    src, disp = _scene(tmp_path)
    out = tmp_path / "pull.mp4"
    assert main(["focus-pull", str(src), "--disparity", str(disp), "--from", "30,48", "--to", "100,48",
                 "--frames", "6", "--K", "12", "-o", str(out)]) == 0
    with av.open(str(out)) as f:
        frames = [fr.to_ndarray(format="rgb24") for fr in f.decode(video=0)]
    assert len(frames) == 6 and frames[0].shape == (96, 128, 3)
