"""Parsing command-line values shared by every entry point (one clear error naming the option)."""

from __future__ import annotations

import argparse
import math

from .errors import InputError

#: the physical renderers (:func:`genrefocus.optics.render.render_bokeh`), named here so command
#: lines can offer them without importing torch
RENDER_MODES = ("bokehme", "scatter", "fast", "layered")
DEFAULT_RENDER_MODE = "layered"


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


def check_int(name: str, value, low: int = 1, high=None) -> int:
    """An integer option within ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        rng = f"≥ {low}" if high is None else f"in [{low}, {high}]"
        raise InputError(name, f"must be an integer {rng}, got {value!r}")
    return value


def check_float(name: str, value, low=None, high=None, open_low: bool = False) -> float:
    """A finite number option within the given bounds."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (low is None or (value > low if open_low else value >= low)) and (high is None or value <= high)
    if not ok:
        bounds = " ".join(x for x in ((f"> {low:g}" if open_low else f"≥ {low:g}") if low is not None else "",
                                      f"≤ {high:g}" if high is not None else "") if x)
        raise InputError(name, f"must be a finite number {bounds}".rstrip() + f", got {value!r}")
    return float(value)


def parse_size(text: str, name: str, order: str = "WxH", minimum: int = 16) -> tuple:
    """``"640x480"`` → ``(H, W)`` (``order`` says which side comes first in the text)."""
    parts = str(text).lower().split("x")
    try:
        a, b = (int(v) for v in parts)
    except ValueError:
        raise InputError(name, f"expected {order} (two integers joined by x), got {text!r}") from None
    h, w = (b, a) if order == "WxH" else (a, b)
    if min(h, w) < minimum or max(h, w) > 65536:
        raise InputError(name, f"sides must be in [{minimum}, 65536] px, got {text!r}")
    return h, w


def check_dir(path, name: str):
    """An existing folder."""
    from pathlib import Path

    p = Path(path)
    if not p.is_dir():
        raise InputError(name, f"{str(p)!r} is not an existing folder")
    return p


def parse_named(items, name: str, taken=()) -> dict:
    """``NAME=VALUE`` items (a repeated option such as ``--also``) → ``{NAME: VALUE}`` in order; a missing
    ``=``, an empty side, or a name already used or in ``taken`` is an error naming the option."""
    out = {}
    for item in items:
        key, sep, value = str(item).partition("=")
        if not sep or not key or not value or key in out or key in taken:
            raise InputError(name, f"NAME=VALUE with a new name, got {item!r}")
        out[key] = value
    return out


class TaggedValue(argparse.Action):
    """An argparse action storing ``(tag, value, option)``: several flags filling one destination, each with
    its own meaning (``--focus SPEC``, ``--point x,y``, ``--mask FILE`` → one focus), and the option the
    user typed kept for error messages."""

    def __init__(self, *args, tag: str = "spec", **kwargs):
        self.tag = tag
        super().__init__(*args, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, (self.tag, values, option_string))


def int_arg(low: int = 1, high=None):
    """An argparse ``type=`` for an integer within ``[low, high]`` (its problem: one usage line)."""
    from .entry import checked

    return checked(lambda t: check_int("n", int(t) if t.lstrip("-").isdigit() else t, low, high))


def float_arg(low=None, high=None):
    """An argparse ``type=`` for a finite number within ``[low, high]``."""
    from .entry import checked

    def convert(text):
        try:
            value = float(text)
        except ValueError:
            raise InputError("n", f"expected a number, got {text!r}") from None
        return check_float("n", value, low, high)
    return checked(convert)
