"""The one model-folder format (DPDeblurNet, JDRL, UiD): written atomically with its ``model_type``, read by
type, older folders still loading, and every way a folder can be wrong refused in one line before a weight
is copied."""

import json
import shutil

import pytest
import torch

from genrefocus.errors import InputError, MissingWeightsError
from genrefocus.models.dp_deblur import DPDeblurConfig, DPDeblurNet
from genrefocus.models.folder import read_model_type
from genrefocus.models.jdrl import JDRLConfig, JDRLDeblur
from genrefocus.models.registry import load_model
from genrefocus.models.uid import UiDConfig, UiDModel
from genrefocus.pipelines.dual_pixel import DEFAULT_CHECKPOINT, UID_CHECKPOINT


@pytest.mark.parametrize("model", [DPDeblurNet(DPDeblurConfig(width=4, scales=2)),
                                   JDRLDeblur(JDRLConfig(width=4, levels=2, map_width=4)),
                                   UiDModel(UiDConfig(stages=2, n_kernels=8, feat=4, cost=4, hidden=4))])
def test_round_trip_by_type(model, tmp_path):
    folder = model.save_pretrained(tmp_path / "m")
    cfg = json.loads((folder / "config.json").read_text())
    assert cfg["model_type"] in ("dp_deblur", "jdrl", "uid") and not list(folder.glob(".tmp-*"))
    back = load_model(folder)
    assert type(back) is type(model) and back.config == model.config
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), back.state_dict().values()))


def test_the_shipped_uid_folder_without_model_type_still_loads(tmp_path):
    """The UiD checkpoint was written before folders carried a model_type (its config.json has none)."""
    assert "model_type" not in json.loads((UID_CHECKPOINT / "config.json").read_text())
    assert isinstance(load_model(UID_CHECKPOINT), UiDModel) and read_model_type(UID_CHECKPOINT) == "uid"
    assert isinstance(load_model(DEFAULT_CHECKPOINT), DPDeblurNet)


def _copy(tmp_path, name="m"):
    dst = tmp_path / name
    shutil.copytree(DEFAULT_CHECKPOINT, dst)
    return dst


def test_a_config_with_an_unknown_field_is_one_line(tmp_path):
    folder = _copy(tmp_path)
    cfg = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**cfg, "nope": 1}))
    with pytest.raises(InputError, match="unknown field.*nope"):
        load_model(folder)


def test_weights_of_another_model_are_refused_before_loading(tmp_path):
    """A valid config.json beside another model's weights (a FLUX LoRA file saved as model.safetensors)."""
    from safetensors.torch import save_file

    folder = _copy(tmp_path)
    save_file({"transformer.x_embedder.lora_A.weight": torch.zeros(4, 64)}, str(folder / "model.safetensors"))
    with pytest.raises(InputError, match="do not fit the dp_deblur model"):
        load_model(folder)
    wider = _copy(tmp_path, "wider")  # the same names, other shapes
    cfg = json.loads((wider / "config.json").read_text())
    (wider / "config.json").write_text(json.dumps({**cfg, "width": cfg["width"] * 2}))
    with pytest.raises(InputError, match="another shape"):
        load_model(wider)


def test_missing_or_broken_files(tmp_path):
    with pytest.raises(MissingWeightsError, match="no config.json"):
        load_model(tmp_path)
    folder = _copy(tmp_path)
    (folder / "model.safetensors").write_bytes(b"\x80\x04 pickle")
    with pytest.raises(InputError, match="not a readable safetensors"):
        load_model(folder)
    (folder / "config.json").write_text("[1, 2]")
    with pytest.raises(InputError, match="JSON object"):
        load_model(folder)
    with pytest.raises(InputError, match="holds a 'dp_deblur' model, not 'jdrl'"):
        JDRLDeblur.from_pretrained(DEFAULT_CHECKPOINT)
