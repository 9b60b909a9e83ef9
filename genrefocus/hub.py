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


def hub_cli() -> str:
    """The Hugging Face command-line tool of the installed ``huggingface_hub``: ``hf`` (0.34 and later;
    ``huggingface-cli`` is gone since 1.0) or ``huggingface-cli``."""
    try:
        from importlib.metadata import version

        major, minor = (int(x) for x in version("huggingface_hub").split(".")[:2])
    except Exception:  # noqa: BLE001 - not installed (it comes with the depth / gpu extras) or odd version
        return "hf"
    return "hf" if (major, minor) >= (0, 34) else "huggingface-cli"


def download_command(repo: str, files=(), local_dir: str | None = None) -> str:
    """The shell command that downloads ``repo`` (or some ``files`` of it) into ``local_dir``."""
    local_dir = local_dir or f"./{repo.split('/')[-1]}"
    return " ".join([hub_cli(), "download", repo, *files, "--local-dir", str(local_dir)])


def login_command() -> str:
    """The shell command that logs in to Hugging Face (gated models such as FLUX.1-dev)."""
    return "hf auth login" if hub_cli() == "hf" else "huggingface-cli login"


def hub_reachable(timeout_s: float = 3.0) -> bool:
    """Whether the Hugging Face Hub answers a TCP connection within ``timeout_s`` (``HF_ENDPOINT``, default
    huggingface.co:443). Offline, huggingface_hub retries with backoff for about a minute before failing;
    this check fails at once. ``HF_HUB_OFFLINE=1`` counts as unreachable."""
    import os
    import socket
    from urllib.parse import urlparse

    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return False
    url = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname, port), timeout=timeout_s):
            return True
    except OSError:
        return False


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
        if not hub_reachable():
            raise MissingWeightsError(
                f"{what}: {s!r} is not a local folder and the Hugging Face Hub cannot be reached (offline?): "
                f"download it on a connected machine with `{download_command(s)}` and pass that folder")
        return {}
    from .errors import require

    hub = require("huggingface_hub", "depth", f"{what} {s!r} (a Hugging Face Hub id)")
    try:
        hub.snapshot_download(s, local_files_only=True, allow_patterns=[marker])
    except Exception:  # noqa: BLE001 - not cached: same message
        raise MissingWeightsError(
            f"{what}: {s!r} is not in the local Hugging Face cache and downloads are off. Fetch it with "
            f"`{download_command(s)}` and pass that folder, or allow the download (--allow-download)") from None
    return {"local_files_only": True}


__all__ = ["download_command", "hub_cli", "hub_reachable", "is_hub_id", "login_command", "weights_source"]
