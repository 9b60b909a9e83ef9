"""HEIC/HEIF input (phone photos) through the optional pillow-heif plug-in, and a clear line without it."""

import builtins

import numpy as np
import pytest

from conftest import photo
from genrefocus.errors import InputError
from genrefocus.io import load_image


def test_heic_round_trip(tmp_path):
    pillow_heif = pytest.importorskip("pillow_heif", reason="optional extra heif; .ci/run installs it")
    rgb = (photo("astronaut", (64, 96))[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    pillow_heif.from_bytes(mode="RGB", size=(96, 64), data=rgb.tobytes()).save(tmp_path / "p.heic", quality=95)
    img = load_image(tmp_path / "p.heic")
    assert img.shape == (1, 3, 64, 96)
    got = img[0].permute(1, 2, 0).numpy()
    assert 20 * np.log10(1 / np.sqrt(np.mean((got - rgb / 255.0) ** 2))) > 30  # lossy codec, same picture


def test_heic_without_the_plugin_is_one_clear_error(tmp_path, monkeypatch):
    (tmp_path / "p.heic").write_bytes(b"\0\0\0\x18ftypheic" + b"\0" * 64)
    real_import = builtins.__import__

    def no_heif(name, *args, **kwargs):
        if name == "pillow_heif":
            raise ImportError("no pillow_heif")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_heif)
    with pytest.raises(InputError, match="pillow-heif"):
        load_image(tmp_path / "p.heic")
