"""Shared fixtures: the ../shared/data folder (skip cleanly when absent) and small helpers."""

import os
from pathlib import Path

# No test may use the network: a missing Hub model must fail at once. These must be set before
# huggingface_hub is imported (it reads them at import time), hence here, first.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["GENREFOCUS_NO_DOC_TABLES"] = "1"  # eval scripts run on toy sizes here: keep docs/benchmarks.md

import numpy as np
import pytest
import torch

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)  # two workers on two cores


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real test data not found at {SHARED_DATA} (../shared/data beside the checkout)")
    return SHARED_DATA


def psnr_np(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    mse = float(np.mean((a - b) ** 2))
    return float("inf") if mse == 0 else float(10 * np.log10(1.0 / mse))


def photo(name: str, size=(96, 128)) -> torch.Tensor:
    """A scikit-image photo as (1, 3, H, W) in [0, 1], resized."""
    from skimage import data
    from skimage.transform import resize

    img = getattr(data, name)()
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, -1)
    img = resize(img[..., :3] / 255.0, size, anti_aliasing=True)
    return torch.from_numpy(img.transpose(2, 0, 1).astype(np.float32))[None]


def free_port() -> int:
    """A free TCP port on the loopback interface (for `accelerate launch --main_process_port`)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
