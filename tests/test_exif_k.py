"""K from EXIF with the thin-lens model (paper Eq. 3)."""

import math

import numpy as np
import pytest
from PIL import Image

from genrefocus.optics.exif_k import (focus_distance_from_mask, k_from_exif, read_exif, sensor_width_mm,
                                      thin_lens_k)


def test_thin_lens_closed_form():
    # 50 mm f/1.8 focused at 2 m on a 6000 px wide full-frame sensor (36 mm)
    K = thin_lens_k(50.0, 1.8, 2.0, 6000 / 36.0)
    want = 50 ** 2 * 2000 / (2 * 1.8 * (2000 - 50)) * (6000 / 36) / 1000
    assert K == pytest.approx(want)
    # the CoC radius for the background at infinity equals the thin-lens blur on the sensor
    coc_px = K * abs(0.0 - 1 / 2.0)
    sensor_mm = 50 ** 2 / (1.8 * (2000 - 50)) / 2  # radius = f^2/(N (D-f)) / 2 at Z = inf
    assert coc_px == pytest.approx(sensor_mm * 6000 / 36.0, rel=1e-9)
    with pytest.raises(ValueError):
        thin_lens_k(50.0, 1.8, 0.04, 100)


def _jpeg_with_exif(path, fields, size=(600, 400)):
    img = Image.new("RGB", size, (120, 120, 120))
    exif = Image.Exif()
    ifd = {}
    for tag, val in fields.items():
        if tag in (0x010F, 0x0110):
            exif[tag] = val
        else:
            ifd[tag] = val
    exif[0x8769] = ifd
    img.save(path, exif=exif.tobytes())
    return path


def test_k_from_exif_focal_plane_resolution(tmp_path):
    p = _jpeg_with_exif(tmp_path / "a.jpg", {0x829D: 2.0, 0x920A: 85.0, 0xA20E: 600 / 24.0, 0xA210: 4})
    ex = read_exif(p)
    assert ex["FNumber"] == 2.0 and ex["FocalLength"] == 85.0
    est = k_from_exif(ex, focus_distance_m=3.0)
    assert est.ok and est.sensor_source == "FocalPlaneXResolution"
    assert est.sensor_width_mm == pytest.approx(24.0)
    assert est.K == pytest.approx(thin_lens_k(85.0, 2.0, 3.0, 600 / 24.0))
    # working resolution half the size -> K halves
    est2 = k_from_exif(ex, 3.0, working_long_edge_px=300)
    assert est2.K == pytest.approx(est.K / 2)


def test_k_from_exif_crop_factor_and_table(tmp_path):
    ex = {"FNumber": 1.8, "FocalLength": 4.2, "FocalLengthIn35mmFilm": 26, "ImageSize": (4032, 3024)}
    w, src = sensor_width_mm(ex, (4032, 3024))
    diag = math.hypot(36, 24) * 4.2 / 26
    assert src == "FocalLengthIn35mmFilm" and w == pytest.approx(diag * 0.8)
    ex2 = {"FNumber": 2.8, "FocalLength": 50.0, "Make": "Canon", "Model": "Canon EOS 5D Mark IV",
           "ImageSize": (6720, 4480)}
    est = k_from_exif(ex2, 2.5)
    assert est.ok and est.sensor_source == "camera table" and est.sensor_width_mm == 36.0


@pytest.mark.parametrize("ex, Df, reason", [
    ({"FocalLength": 50.0, "ImageSize": (100, 100)}, 2.0, "FNumber"),
    ({"FNumber": 2.0, "ImageSize": (100, 100)}, 2.0, "FocalLength"),
    ({"FNumber": 2.0, "FocalLength": 50.0, "ImageSize": (100, 100), "Model": "Mystery"}, 2.0, "sensor size unknown"),
    ({"FNumber": 2.0, "FocalLength": 50.0, "FocalLengthIn35mmFilm": 50, "ImageSize": (100, 100)}, None, "focus distance"),
    ({"FNumber": 2.0, "FocalLength": 50.0, "FocalLengthIn35mmFilm": 50, "ImageSize": (100, 100)}, 0.03, "not beyond"),
    ({"FNumber": (0, 0), "FocalLength": 50.0, "ImageSize": (100, 100)}, 2.0, "FNumber"),
])
def test_k_from_exif_reasons(ex, Df, reason):
    est = k_from_exif(ex, Df)
    assert est.K is None and not est.ok
    assert "cannot estimate K" in est.reason and reason in est.reason


def test_focus_distance_from_mask():
    depth = np.full((10, 10), 5.0)
    depth[2:5, 2:5] = [[1.0, 2.0, 3.0]] * 3
    mask = np.zeros((10, 10))
    mask[2:5, 2:5] = 1
    assert focus_distance_from_mask(depth, mask) == 2.0
    assert focus_distance_from_mask(depth, np.zeros((10, 10))) is None
