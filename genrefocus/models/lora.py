"""Official Genfocus LoRA files: which modules they may touch, validation, and loading.

Keys are diffusers-format ``transformer.<module path>.lora_A.weight`` / ``.lora_B.weight``
(docs/design.md §4.1). Only the condition-branch modules below may carry a LoRA; a file with any other
key, an inconsistent rank or a shape that does not fit the transformer is rejected before loading
with one message naming the offending keys.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Union

import torch

from ..errors import InputError, MissingWeightsError
from ..hub import download_command
from .tasks import HF_LORA_REPO, LORA_FILES

#: Module paths (relative to the transformer) that official LoRAs wrap.
ROUTED_MODULES = re.compile(
    r"^(x_embedder"
    r"|transformer_blocks\.\d+\.(norm1\.linear|attn\.to_q|attn\.to_k|attn\.to_v|attn\.to_out\.0|ff\.net\.2)"
    r"|single_transformer_blocks\.\d+\.(norm\.linear|proj_mlp|attn\.to_q|attn\.to_k|attn\.to_v|proj_out))$"
)
_KEY = re.compile(r"^transformer\.(?P<module>.+)\.lora_(?P<ab>[AB])\.weight$")


def routed_module_names(transformer) -> list:
    """Names of the transformer's modules a condition-branch LoRA wraps (peft ``target_modules``)."""
    return [n for n, _ in transformer.named_modules() if ROUTED_MODULES.match(n)]


def missing_lora_message(kind: str, path: Path) -> str:
    fname = LORA_FILES.get(kind, Path(path).name)
    return (f"LoRA file {str(path)!r} not found. Download {fname} from Hugging Face {HF_LORA_REPO} "
            f"(`{download_command(HF_LORA_REPO, (fname,), Path(path).parent)}`) "
            f"and pass its path (or put it in the --lora-dir folder).")


def precheck_lora_file(path: Union[str, Path], kind: str = "lora") -> dict:
    """Check a LoRA file before any model is loaded: it exists, is safetensors (never a pickle), its
    keys are ``transformer.<routed module>.lora_A/B.weight`` and its values are finite. Returns
    ``{key: shape}`` and the metadata; the shapes are checked against the transformer by
    :func:`validate_lora_file` once it is loaded."""
    from safetensors import safe_open

    p = Path(path)
    if not p.is_file():
        raise MissingWeightsError(missing_lora_message(kind, p))
    try:
        fh = safe_open(str(p), framework="pt")
    except Exception as exc:  # noqa: BLE001 - any parse failure is a bad file
        raise InputError(str(p), f"not a readable safetensors file ({exc})") from None
    with fh:
        meta = fh.metadata() or {}
        shapes = {k: tuple(fh.get_slice(k).get_shape()) for k in fh.keys()}
        unknown = [k for k in shapes if not (_KEY.match(k) and ROUTED_MODULES.match(_KEY.match(k)["module"]))]
        if unknown:
            raise InputError(str(p), f"{len(unknown)} unknown LoRA keys (not transformer.<routed module>."
                                     f"lora_A/B.weight), e.g. {', '.join(sorted(unknown)[:4])}")
        if not shapes:
            raise InputError(str(p), "contains no LoRA weights")
        bad = []
        for k in shapes:  # a file of NaN/inf loads fine and renders black: refuse it here
            t = fh.get_tensor(k)
            if t.is_floating_point() and not bool(torch.isfinite(t).all()):
                bad.append(k)
    if bad:
        raise InputError(str(p), f"{len(bad)} LoRA tensors hold NaN/inf values (a corrupt or diverged file), "
                                 f"e.g. {', '.join(sorted(bad)[:3])}")
    return {"shapes": shapes, "metadata": meta}


def validate_lora_file(path: Union[str, Path], transformer, kind: str = "lora") -> dict:
    """Check an official-format LoRA file against ``transformer`` without loading it into the model.

    Returns ``{"rank": r, "modules": [...], "metadata": {...}}``. Raises :class:`MissingWeightsError`
    for a missing file and :class:`InputError` for unknown keys, mixed ranks or wrong shapes.
    """
    p = Path(path)
    checked = precheck_lora_file(p, kind)
    meta, shapes = checked["metadata"], checked["shapes"]
    modules = dict(transformer.named_modules())
    unknown, bad_shape, ranks, seen = [], [], set(), {}
    for key, shape in shapes.items():
        m = _KEY.match(key)
        if not m or not ROUTED_MODULES.match(m["module"]) or m["module"] not in modules:
            unknown.append(key)
            continue
        lin = modules[m["module"]]
        want_in, want_out = getattr(lin, "in_features", None), getattr(lin, "out_features", None)
        if m["ab"] == "A":
            ok = len(shape) == 2 and shape[1] == want_in
            r = shape[0] if len(shape) == 2 else None
        else:
            ok = len(shape) == 2 and shape[0] == want_out
            r = shape[1] if len(shape) == 2 else None
        if not ok:
            bad_shape.append(f"{key} {shape}")
        ranks.add(r)
        seen.setdefault(m["module"], set()).add(m["ab"])
    if unknown:
        raise InputError(str(p), f"{len(unknown)} unknown LoRA keys (not transformer.<routed module>."
                                 f"lora_A/B.weight for this model), e.g. {', '.join(sorted(unknown)[:4])}")
    if bad_shape:
        raise InputError(str(p), f"LoRA shapes do not fit the transformer: {', '.join(sorted(bad_shape)[:4])}")
    half = [k for k, v in seen.items() if v != {"A", "B"}]
    if half:
        raise InputError(str(p), f"modules with only one of lora_A / lora_B: {', '.join(sorted(half)[:4])}")
    if len(ranks) != 1:
        raise InputError(str(p), f"mixed LoRA ranks {sorted(r for r in ranks if r is not None)}")
    if not seen:
        raise InputError(str(p), "contains no LoRA weights")
    return {"rank": ranks.pop(), "modules": sorted(seen), "metadata": meta}


def load_lora(pipe, path: Union[str, Path], adapter_name: str, kind: str = "lora") -> dict:
    """Validate, then load with diffusers ``load_lora_weights`` as ``adapter_name``; returns the
    validation info (rank, modules, metadata such as our trainer's ``independent_conditions``)."""
    p = Path(path)
    info = validate_lora_file(p, pipe.transformer, kind)
    pipe.load_lora_weights(str(p.parent), weight_name=p.name, adapter_name=adapter_name)
    return info
