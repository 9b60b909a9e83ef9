"""DualPixelPipeline and `genrefocus dp-refocus`: prompts, padding, errors, CLI on a real DP capture."""

import numpy as np
import pytest
import torch

from genrefocus.errors import InputError
from genrefocus.models.uid import UiDConfig, UiDModel
from genrefocus.pipelines.dual_pixel import DualPixelPipeline
from genrefocus.optics.focus import Focus


@pytest.fixture(scope="module")
def pipe():
    torch.manual_seed(0)
    return DualPixelPipeline(UiDModel(UiDConfig(stages=3, n_kernels=8)))


def test_prompts_and_sizes(pipe):
    left, right = torch.rand(1, 3, 30, 45), torch.rand(1, 3, 30, 45)  # not multiples of 4: padded, cropped
    m = torch.zeros(30, 45)
    m[5:10, 5:12] = 1
    for focus in (m, (20, 15), (3, 4, 20, 25), "near", Focus.disparity(0.0), None):
        out = pipe(left, right, focus=focus)
        assert out.image.shape == (1, 3, 30, 45) and out.disparity.shape == (1, 1, 30, 45)
        assert out.mask.any() and out.meta["disparity_units"] == "px"
    box = pipe(left, right, focus=(3, 4, 20, 25))
    assert int(box.mask.sum()) == 17 * 21


def test_errors(pipe):
    x = torch.rand(1, 3, 32, 32)
    with pytest.raises(InputError, match="outside"):
        pipe(x, x, focus=(40, 3))
    with pytest.raises(InputError, match="empty"):
        pipe(x, x, focus=torch.zeros(32, 32))
    with pytest.raises(InputError, match="same size"):
        pipe(x, torch.rand(1, 3, 32, 16), focus=(3, 3))
    with pytest.raises(InputError, match="OWLv2"):
        pipe(x, x, focus="text:the cat")
    with pytest.raises(InputError, match="outside the map's range"):
        pipe(x, x, focus="d=50")


def test_cli_on_a_real_dp_capture(shared_data, tmp_path, capsys):
    from PIL import Image

    from genrefocus.cli import main

    torch.manual_seed(0)
    UiDModel(UiDConfig(stages=3, n_kernels=8, feat=8, cost=4)).save_pretrained(tmp_path / "uid")
    rc = main(["dp-refocus", "--input", str(shared_data / "dp_pairs" / "pixel_00.gif"), "--point", "256,256",
               "--checkpoint", str(tmp_path / "uid"), "-o", str(tmp_path / "r.png"), "--aif-output",
               str(tmp_path / "a.png"), "--disparity-output", str(tmp_path / "d.npy")])
    assert rc == 0
    with Image.open(tmp_path / "r.png") as im:
        assert im.size == (512, 512)
    assert np.load(tmp_path / "d.npy").shape == (512, 512)
    rc = main(["dp-refocus", "--input", str(shared_data / "dp_pairs" / "pixel_00.gif"), "--point", "256,256",
               "--checkpoint", str(tmp_path / "missing"), "-o", str(tmp_path / "x.png")])
    assert rc == 2 and "--checkpoint" in capsys.readouterr().err


def _tiny_owlv2(tmp_path):
    """A randomly initialized OWLv2 with an in-memory character tokenizer (no download)."""
    import json

    from transformers import (CLIPTokenizer, Owlv2Config, Owlv2ForObjectDetection, Owlv2ImageProcessorPil,
                              Owlv2Processor)

    vocab = {"!": 0, "<|startoftext|>": 1, "<|endoftext|>": 2}
    for c in "abcdefghijklmnopqrstuvwxyz":
        vocab[c] = len(vocab)
        vocab[c + "</w>"] = len(vocab)
    (tmp_path / "vocab.json").write_text(json.dumps(vocab))
    (tmp_path / "merges.txt").write_text("#version: 0.2\n")
    tok = CLIPTokenizer(str(tmp_path / "vocab.json"), str(tmp_path / "merges.txt"), pad_token="!")
    proc = Owlv2Processor(image_processor=Owlv2ImageProcessorPil(size={"height": 32, "width": 32}), tokenizer=tok)
    cfg = Owlv2Config(text_config=dict(vocab_size=len(vocab), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                       num_attention_heads=2, max_position_embeddings=16, bos_token_id=1,
                                       eos_token_id=2, pad_token_id=0),
                      vision_config=dict(image_size=32, patch_size=8, hidden_size=16, intermediate_size=32,
                                         num_hidden_layers=1, num_attention_heads=2), projection_dim=16)
    torch.manual_seed(0)
    return proc, Owlv2ForObjectDetection(cfg)


def test_text_prompt_through_owlv2(tmp_path):
    from genrefocus.perception.segmentation import TextBoxDetector

    det = TextBoxDetector(*_tiny_owlv2(tmp_path))
    image = torch.rand(1, 3, 40, 60)
    x0, y0, x1, y1 = det(image, "cat")
    assert 0 <= x0 <= x1 <= 60 and 0 <= y0 <= y1 <= 40
    # The pipeline turns the detected box into the focus region (box → SAM, here no SAM: the box).
    pipe = DualPixelPipeline(UiDModel(UiDConfig(stages=3, n_kernels=8)), text_detector=lambda im, text: (10, 5, 30, 25))
    out = pipe(image, image.clone(), focus=Focus.text("cat"))
    m = out.mask
    assert int(m.sum()) == 20 * 20 and bool(m[0, 0, 5, 10]) and not bool(m[0, 0, 4, 10])
    assert out.image.shape == (1, 3, 40, 60)


@pytest.mark.parametrize("kw, name", [({"axis": "diagonal"}, "axis"), ({"tile": 32}, "tile"),
                                      ({"tile": 128, "overlap": 64}, "overlap"), ({"fill_disparity": "yes"}, "fill_disparity"),
                                      ({"reuse_capture": 1}, "reuse_capture")])
def test_dp_options_refuse_bad_values(kw, name):
    from genrefocus.pipelines.dual_pixel import DPOptions

    with pytest.raises(InputError, match=name):
        DPOptions(**kw)
