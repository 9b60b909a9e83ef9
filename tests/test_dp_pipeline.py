"""DPRefocusPipeline and `genrefocus dp-refocus`: prompts, padding, errors, CLI on a real DP capture."""

import pytest
import torch

from genrefocus.errors import InputError, MissingWeightsError
from genrefocus.models.dp_model import UiDConfig, UiDModel
from genrefocus.pipelines.dual_pixel import DPRefocusPipeline


@pytest.fixture(scope="module")
def pipe():
    torch.manual_seed(0)
    return DPRefocusPipeline(UiDModel(UiDConfig(stages=3, n_kernels=8)))


def test_prompts_and_sizes(pipe):
    left, right = torch.rand(1, 3, 30, 45), torch.rand(1, 3, 30, 45)  # not multiples of 4: padded, cropped
    m = torch.zeros(30, 45)
    m[5:10, 5:12] = 1
    for kw in (dict(mask=m), dict(point=(20, 15)), dict(box=(3, 4, 20, 25))):
        out = pipe(left, right, **kw)
        assert out.refocused.shape == (1, 3, 30, 45) and out.disparity.shape == (1, 1, 30, 45)
        assert out.mask.any()
    box_mask = pipe.focus_mask(left, box=(3, 4, 20, 25))
    assert int(box_mask.sum()) == 17 * 21


def test_errors(pipe):
    x = torch.rand(1, 3, 32, 32)
    with pytest.raises(InputError, match="exactly one"):
        pipe(x, x)
    with pytest.raises(InputError, match="outside"):
        pipe(x, x, point=(40, 3))
    with pytest.raises(InputError, match="empty"):
        pipe(x, x, mask=torch.zeros(32, 32))
    with pytest.raises(InputError, match="same size"):
        pipe(x, torch.rand(1, 3, 32, 16), point=(3, 3))
    with pytest.raises(MissingWeightsError, match="OWLv2"):
        pipe(x, x, text="the cat")


def test_cli_on_a_real_dp_capture(shared_data, tmp_path, capsys):
    from PIL import Image

    from genrefocus.cli import main

    torch.manual_seed(0)
    UiDModel(UiDConfig(stages=3, n_kernels=8, feat=8, cost=4)).save_pretrained(tmp_path / "uid")
    rc = main(["dp-refocus", "--input", str(shared_data / "dp_pairs" / "pixel_00.gif"), "--point", "256,256",
               "--checkpoint", str(tmp_path / "uid"), "-o", str(tmp_path / "r.png"), "--aif-output",
               str(tmp_path / "a.png")])
    assert rc == 0
    with Image.open(tmp_path / "r.png") as im:
        assert im.size == (512, 512)
    rc = main(["dp-refocus", "--input", str(shared_data / "dp_pairs" / "pixel_00.gif"), "--point", "256,256",
               "--checkpoint", str(tmp_path / "missing"), "-o", str(tmp_path / "x.png")])
    assert rc == 2 and "UiD checkpoint" in capsys.readouterr().err
