"""The input contract (DESIGN §8) for files: clear errors for bad files, correct conversions."""

import numpy as np
import pytest
import torch
from PIL import Image

from genrefocus.errors import InputError
from genrefocus.io import load_depth, load_disparity, load_image, load_mask, save_image


def _rgb(h=40, w=60):
    rng = np.random.default_rng(0)
    return (rng.random((h, w, 3)) * 255).astype(np.uint8)


def test_bad_files_give_clear_errors(tmp_path):
    (tmp_path / "zero.png").write_bytes(b"")
    (tmp_path / "text.png").write_text("not an image")
    Image.fromarray(_rgb()).save(tmp_path / "ok.jpg", quality=95)
    data = (tmp_path / "ok.jpg").read_bytes()
    (tmp_path / "trunc.jpg").write_bytes(data[: len(data) // 2])
    Image.fromarray(_rgb(8, 60)).save(tmp_path / "tiny.png")
    cases = {"missing.png": "does not exist", "zero.png": "empty", "text.png": "not a readable image",
             "trunc.jpg": "truncated", "tiny.png": "smaller than 16"}
    for name, msg in cases.items():
        with pytest.raises(InputError, match=msg) as e:
            load_image(tmp_path / name)
        assert name in str(e.value) or "image" in str(e.value)
    with pytest.raises(InputError, match="pixel cap"):
        load_image(tmp_path / "ok.jpg", max_pixels=1000)


def test_modes_are_converted(tmp_path):
    rgb = _rgb()
    Image.fromarray(rgb[..., 0]).save(tmp_path / "gray.png")
    Image.fromarray(np.dstack([rgb, np.full(rgb.shape[:2], 128, np.uint8)])).save(tmp_path / "rgba.png")
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "cmyk.jpg")
    Image.fromarray(rgb).convert("P").save(tmp_path / "pal.png")
    g = load_image(tmp_path / "gray.png")
    assert g.shape == (1, 3, 40, 60) and torch.equal(g[:, 0], g[:, 1])
    np.testing.assert_allclose(g[0, 0].numpy(), rgb[..., 0] / 255.0, atol=1e-6)
    a = load_image(tmp_path / "rgba.png")
    np.testing.assert_allclose(a[0].permute(1, 2, 0).numpy(), rgb / 255.0, atol=1e-6)
    c = load_image(tmp_path / "cmyk.jpg")
    assert c.shape == (1, 3, 40, 60) and abs(float(c.mean()) - rgb.mean() / 255) < 0.05
    assert load_image(tmp_path / "pal.png").shape == (1, 3, 40, 60)


def test_16bit_png_keeps_precision(tmp_path):
    import cv2

    v = (np.arange(40 * 60 * 3, dtype=np.uint32) * 17 % 65536).astype(np.uint16).reshape(40, 60, 3)
    cv2.imwrite(str(tmp_path / "c16.png"), v[..., ::-1])  # OpenCV writes BGR
    x = load_image(tmp_path / "c16.png")
    np.testing.assert_allclose(x[0].permute(1, 2, 0).numpy(), v / 65535.0, atol=1e-6)
    g = v[..., 0]
    cv2.imwrite(str(tmp_path / "g16.png"), g)
    y = load_image(tmp_path / "g16.png")
    np.testing.assert_allclose(y[0, 0].numpy(), g / 65535.0, atol=1e-6)


def test_exif_rotation_is_applied(tmp_path):
    yy, xx = np.mgrid[0:40, 0:60]
    rgb = np.dstack([xx * 4, yy * 6, 255 - xx * 4]).astype(np.uint8)  # smooth, asymmetric
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise for display
    Image.fromarray(rgb).save(tmp_path / "rot.jpg", exif=exif.tobytes(), quality=100)
    x = load_image(tmp_path / "rot.jpg")
    assert x.shape == (1, 3, 60, 40)
    want = np.rot90(rgb, k=-1) / 255.0
    assert np.abs(x[0].permute(1, 2, 0).numpy() - want).mean() < 0.02


def test_depth_and_disparity_files(tmp_path):
    d = np.full((20, 30), 2.0, np.float32)
    np.save(tmp_path / "d.npy", d)
    torch.testing.assert_close(load_depth(tmp_path / "d.npy")[0, 0], torch.from_numpy(d))
    torch.testing.assert_close(load_disparity(tmp_path / "d.npy")[0, 0], torch.from_numpy(d))  # as given
    bad = d.copy()
    bad[0, 0] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    with pytest.raises(InputError, match="NaN"):
        load_depth(tmp_path / "nan.npy")
    np.save(tmp_path / "neg.npy", -d)
    with pytest.raises(InputError, match="negative"):
        load_depth(tmp_path / "neg.npy")
    np.save(tmp_path / "3d.npy", np.zeros((2, 20, 30), np.float32))
    with pytest.raises(InputError, match=r"\(H, W\)"):
        load_depth(tmp_path / "3d.npy")
    with pytest.raises(InputError, match="metres"):
        load_depth(tmp_path / "x.png") if (tmp_path / "x.png").write_bytes(b"x") else None
    ramp = (np.linspace(1000, 60000, 30)[None].repeat(20, 0)).astype(np.uint16)
    Image.fromarray(ramp).save(tmp_path / "disp16.png")
    disp = load_disparity(tmp_path / "disp16.png")[0, 0].numpy()
    assert disp.min() == 0.0 and disp.max() == 1.0
    Image.fromarray(np.full((20, 30), 7, np.uint8)).save(tmp_path / "const.png")
    with pytest.raises(InputError, match="constant"):
        load_disparity(tmp_path / "const.png")


def test_mask_and_atomic_save(tmp_path):
    m = np.zeros((20, 30), np.uint8)
    m[5:10, 5:20] = 255
    Image.fromarray(m).save(tmp_path / "m.png")
    mask = load_mask(tmp_path / "m.png")
    assert mask.dtype == torch.bool and int(mask.sum()) == 75
    img = torch.rand(1, 3, 20, 30)
    p = save_image(img, tmp_path / "out" / "x.png")
    back = load_image(p)
    assert float((back - img).abs().max()) <= 0.5 / 255 + 1e-6
    assert not list((tmp_path / "out").glob(".tmp-*"))
    with pytest.raises(InputError, match="extension"):
        save_image(img, tmp_path / "x.gifx")


def test_saved_files_get_the_usual_permissions(tmp_path):
    """Atomic writes go through mkstemp (0600); the file a user saves must not stay private."""
    import os

    from genrefocus.io import save_image

    umask = os.umask(0o022)
    try:
        p = save_image(torch.rand(1, 3, 8, 8), tmp_path / "x.png")
    finally:
        os.umask(umask)
    assert (p.stat().st_mode & 0o777) == 0o644


def test_atomic_write_text_replaces_whole_and_leaves_no_temporary(tmp_path):
    from genrefocus.io import atomic_write_text

    path = tmp_path / "sub" / "marker.json"
    atomic_write_text(path, "old")
    atomic_write_text(path, '{"ok": 1}')
    assert path.read_text() == '{"ok": 1}' and [p.name for p in path.parent.iterdir()] == ["marker.json"]
