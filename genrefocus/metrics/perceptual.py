"""Perceptual metrics from maintained libraries, optional and offline-aware.

LPIPS, DISTS (fidelity, lower is better), CLIP-IQA, MUSIQ, MANIQA (no-reference, higher is better)
come from **pyiqa** — the one maintained package that ships all five with the reference weights
(`pip install pyiqa`, our ``metrics`` extra; check its licence for commercial use). CLIP-I (cosine
similarity of CLIP image embeddings) uses transformers' ``CLIPModel`` directly. Weights are fetched
only when the caller allows it (``allow_download=True``, the benchmarks' ``--download-metrics``);
otherwise a metric whose weights are not in the local cache raises :class:`MetricUnavailable` at
once with what to download (no network retries), and reports show "n/a".
"""

from __future__ import annotations

from ..hub import download_command

from typing import Dict, Optional, Sequence

import torch

FIDELITY = ("lpips", "dists", "clip_i")
NO_REFERENCE = ("clipiqa", "musiq", "maniqa")
LOWER_IS_BETTER = {"lpips", "dists"}
CLIP_ID = "openai/clip-vit-base-patch32"


class MetricUnavailable(RuntimeError):
    """A perceptual metric cannot run here (library not installed, or weights not cached offline)."""


class _ClipI:
    def __init__(self, device, allow_download: bool = False):
        try:
            from transformers import CLIPModel
        except ImportError as exc:  # pragma: no cover - transformers is in the gpu/test extras
            raise MetricUnavailable(f"clip_i needs transformers ({exc})") from None
        try:
            self.model = CLIPModel.from_pretrained(CLIP_ID, local_files_only=not allow_download).eval().to(device)
        except (OSError, ValueError) as exc:
            raise MetricUnavailable(f"clip_i: weights not cached ({CLIP_ID}: {type(exc).__name__}); run once "
                                    f"online or `{download_command(CLIP_ID)}`") from None
        self.device = device

    @torch.no_grad()
    def __call__(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        def emb(x):
            x = torch.nn.functional.interpolate(x.to(self.device).float(), size=(224, 224), mode="bicubic",
                                                align_corners=False, antialias=True)
            mean = torch.tensor([0.4815, 0.4578, 0.4082], device=self.device).view(1, 3, 1, 1)
            std = torch.tensor([0.2686, 0.2613, 0.2758], device=self.device).view(1, 3, 1, 1)
            e = self.model.get_image_features(pixel_values=(x - mean) / std)
            e = e if isinstance(e, torch.Tensor) else e.pooler_output
            return torch.nn.functional.normalize(e, dim=-1)

        return (emb(pred) * emb(target)).sum(-1).cpu()


def create_metric(name: str, device: str = "cpu", allow_download: bool = False):
    """A callable ``metric(pred, target=None) -> (B,)`` or :class:`MetricUnavailable`. Weights come
    from the local cache only unless ``allow_download``."""
    if name == "clip_i":
        return _ClipI(device, allow_download)
    try:
        import pyiqa
    except ImportError:
        raise MetricUnavailable(f"{name}: pyiqa not installed (pip install pyiqa)") from None
    try:  # pyiqa keeps its weights in its own cache and fetches a missing file once (no retry loop)
        m = pyiqa.create_metric(name, device=device, as_loss=False)
    except Exception as exc:  # noqa: BLE001 - pyiqa raises various errors when its download fails
        raise MetricUnavailable(f"{name}: weights not cached ({type(exc).__name__}: {str(exc)[:120]})") from None

    def run(pred, target=None):
        with torch.no_grad():
            out = m(pred.float().clamp(0, 1), target.float().clamp(0, 1)) if name in FIDELITY else m(pred.float().clamp(0, 1))
        return out.flatten().cpu()

    return run


class PerceptualMetrics:
    """The requested metrics that can run here; ``unavailable`` maps the others to their reason."""

    def __init__(self, names: Sequence[str] = FIDELITY + NO_REFERENCE, device: str = "cpu",
                 allow_download: bool = False):
        self.metrics: Dict[str, object] = {}
        self.unavailable: Dict[str, str] = {}
        for n in names:
            try:
                self.metrics[n] = create_metric(n, device, allow_download)
            except MetricUnavailable as exc:
                self.unavailable[n] = str(exc)

    def __call__(self, pred: torch.Tensor, target: Optional[torch.Tensor] = None) -> Dict[str, float]:
        out = {}
        for n, m in self.metrics.items():
            if n in FIDELITY and target is None:
                continue
            out[n] = float(m(pred, target)[0]) if n in FIDELITY else float(m(pred)[0])
        return out
