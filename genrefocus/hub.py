"""Where model weights come from: a local folder, the Hugging Face cache, or (only when allowed) the Hub.

A Hub download of a model that is not cached either takes minutes (FLUX.1-dev is 24 GB) or, offline,
retries for minutes before failing. Entry points therefore never download unless told to
(``--allow-download``): :func:`weights_source` checks the local cache without any network access and
fails at once with the command that fetches the weights.
"""

from __future__ import annotations

from pathlib import Path
from typing import Union

from .errors import InputError, MissingWeightsError


def is_hub_id(path_or_id: Union[str, Path]) -> bool:
    """``"owner/name"`` that is not an existing local path."""
    s = str(path_or_id)
    return not Path(s).exists() and s.count("/") == 1 and not s.startswith((".", "/", "~")) and " " not in s


def weights_source(path_or_id: Union[str, Path], what: str, allow_download: bool = False,
                   marker: str = "config.json") -> dict:
    """Check that ``path_or_id`` can be loaded without surprises and return the extra
    ``from_pretrained`` keywords (``local_files_only``).

    * a local folder must exist and hold ``marker`` (``model_index.json`` for a pipeline);
    * a Hub id must be in the local Hugging Face cache — else :class:`MissingWeightsError` with the
      download command, unless ``allow_download``.
    """
    s = str(path_or_id)
    if not is_hub_id(s):
        p = Path(s).expanduser()
        if not p.exists():
            raise MissingWeightsError(f"{what}: {s!r} does not exist (a local folder or a Hub id such as owner/name)")
        if p.is_dir() and not (p / marker).is_file():
            raise InputError(what, f"{s!r} is not a model folder (no {marker})")
        return {}
    if allow_download:
        return {}
    try:
        from huggingface_hub import snapshot_download

        snapshot_download(s, local_files_only=True, allow_patterns=[marker])
    except Exception:  # noqa: BLE001 - not cached (or no huggingface_hub): same message
        raise MissingWeightsError(
            f"{what}: {s!r} is not in the local Hugging Face cache and downloads are off. Fetch it with "
            f"`huggingface-cli download {s} --local-dir ./{s.split('/')[-1]}` and pass that folder, or allow "
            "the download (--allow-download)") from None
    return {"local_files_only": True}


__all__ = ["is_hub_id", "weights_source"]
