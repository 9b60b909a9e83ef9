"""The one exception type every entry point raises for bad user input (DESIGN §8)."""

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
