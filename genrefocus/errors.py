"""The exception types every entry point turns into one line and exit code 2 (docs/design.md §8)."""

from __future__ import annotations


class InputError(ValueError):
    """A user-supplied input cannot be used; the message names the input and what to do.

    Subclasses ``ValueError`` so callers that already catch ``ValueError`` keep working.
    """

    def __init__(self, name: str, problem: str):
        self.name = name
        self.problem = problem
        super().__init__(f"{name}: {problem}")


class MissingWeightsError(FileNotFoundError):
    """Model weights are not on disk; the message says what to download and where to put it."""


#: the optional extras of setup.cfg and what each brings
EXTRAS = {"depth": "transformers, huggingface_hub (depth, SAM and text models)",
          "gpu": "diffusers, transformers, peft, accelerate (the generative pipeline on FLUX.1-dev)",
          "app": "gradio (the web app)", "video": "PyAV (.mp4 output)", "heif": "pillow-heif (HEIC photos)",
          "distributed": "ray (dataset builds on a cluster)", "train": "the generative extras + tensorboard"}


class MissingDependencyError(InputError):
    """An optional package is not installed; the message names the extra that installs it."""

    def __init__(self, package: str, extra: str, purpose: str):
        self.package, self.extra = package, extra
        super().__init__(purpose, f"needs {package}, which is not installed: pip install \"genrefocus[{extra}]\"")


def require(module: str, extra: str, purpose: str, package: str | None = None):
    """Import ``module`` or raise :class:`MissingDependencyError` naming ``extra``; returns the module."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependencyError(package or module.split(".")[0], extra, purpose) from None


__all__ = ["EXTRAS", "InputError", "MissingDependencyError", "MissingWeightsError", "require"]
