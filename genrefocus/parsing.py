"""Parsing command-line values shared by every entry point (one clear error naming the option)."""

from __future__ import annotations

import math

from .errors import InputError


def parse_floats(text: str, n: int, name: str, finite: bool = True) -> tuple:
    """``"1,2"`` → ``(1.0, 2.0)``: exactly ``n`` comma-separated numbers, finite unless
    ``finite=False``; otherwise :class:`InputError` naming the option."""
    try:
        vals = tuple(float(v) for v in str(text).split(","))
    except ValueError:
        raise InputError(name, f"expected {n} comma-separated numbers, got {text!r}") from None
    if len(vals) != n:
        raise InputError(name, f"expected {n} comma-separated numbers, got {text!r}")
    if finite and not all(math.isfinite(v) for v in vals):
        raise InputError(name, f"values must be finite numbers, got {text!r}")
    return vals
