"""Training configurations, one style for every trainer: a dataclass checked against a typed schema,
read from YAML, overridden with ``--set key=value`` or with command-line flags made from its fields.

A config class subclasses :class:`Config` and lists, besides its fields, ``RULES`` (``{field: (check,
requirement)}``), ``HELP`` (``{field: text}`` for ``--help``) and, when it has a ``model`` mapping of a
model's config fields, ``MODEL_CONFIG`` (that dataclass: its fields become flags and are checked too).
Every problem of a config — malformed YAML, unknown keys, wrong types, values out of range, missing
files — is collected and reported at once, as one :class:`~genrefocus.errors.InputError`, before
anything is loaded or started.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import typing
from dataclasses import asdict, fields
from pathlib import Path
from typing import ClassVar, Optional, Union

from ..errors import InputError

Rule = tuple


# ----------------------------------------------------------------------------------------- rules
def at_least(n) -> Rule:
    return (lambda v: v >= n, f"≥ {n}")


def positive() -> Rule:
    return (lambda v: math.isfinite(v) and v > 0, "a finite number > 0")


def nonnegative() -> Rule:
    return (lambda v: math.isfinite(v) and v >= 0, "a finite number ≥ 0")


def fraction() -> Rule:
    return (lambda v: 0 <= v <= 1, "a fraction in [0, 1]")


def one_of(*allowed) -> Rule:
    return (lambda v: v in allowed, f"one of {', '.join(str(a) for a in allowed)}")


def value_range() -> Rule:
    """A ``[low, high]`` pair with ``0 ≤ low < high`` (e.g. a K range)."""
    def ok(v):
        return (len(v) == 2 and all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
                                    for x in v) and 0 <= v[0] < v[1])
    return (ok, "[low, high] with 0 ≤ low < high")


# ----------------------------------------------------------------------------------------- types
def _hints(cls) -> dict:
    return typing.get_type_hints(cls)


def field_type(cls, name: str) -> tuple:
    """``(base type, optional)`` of a config field's annotation."""
    hint = _hints(cls)[name]
    args = typing.get_args(hint)
    if type(None) in args:
        return next(a for a in args if a is not type(None)), True
    return typing.get_origin(hint) or hint, False


def _type_problem(name: str, base, optional: bool, value) -> Optional[str]:
    if value is None:
        return None if optional else f"{name}: must not be null"
    if base is bool:
        return None if isinstance(value, bool) else f"{name}: expected true or false, got {value!r}"
    if base is int:
        return None if isinstance(value, int) and not isinstance(value, bool) else \
            f"{name}: expected an integer, got {value!r}"
    if base is float:
        return None if isinstance(value, (int, float)) and not isinstance(value, bool) else \
            f"{name}: expected a number, got {value!r}"
    if base is str:
        return None if isinstance(value, str) and value else f"{name}: expected a non-empty string, got {value!r}"
    if base is dict:
        return None if isinstance(value, dict) else f"{name}: expected a mapping, got {value!r}"
    if base in (tuple, list):
        return None if isinstance(value, (tuple, list)) else f"{name}: expected a list, got {value!r}"
    return None


def config_problems(cls, raw: dict) -> list:
    """Every problem of the mapping ``raw`` for config class ``cls`` (empty when valid): unknown keys,
    types, ``cls.RULES``, the ``model`` mapping against ``cls.MODEL_CONFIG``."""
    problems = []
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(raw) - known)
    if unknown:
        problems.append(f"unknown keys {unknown}")
    bad = set()
    for name in sorted(known & set(raw)):
        base, optional = field_type(cls, name)
        p = _type_problem(name, base, optional, raw[name])
        if p:
            problems.append(p)
            bad.add(name)
    for name, (check, need) in getattr(cls, "RULES", {}).items():
        if name in raw and raw[name] is not None and name not in bad:
            try:
                ok = check(raw[name])
            except (TypeError, ValueError):
                ok = False
            if not ok:
                problems.append(f"{name}: must be {need}, got {raw[name]!r}")
    model_cls = getattr(cls, "MODEL_CONFIG", None)
    if model_cls is not None and isinstance(raw.get("model"), dict):
        unknown = [k for k in raw["model"] if k not in model_cls.__dataclass_fields__]
        if unknown:
            problems.append(f"model: unknown field(s) {', '.join(unknown)} (known: "
                            f"{', '.join(model_cls.__dataclass_fields__)})")
        else:
            try:
                model_cls(**raw["model"])
            except (InputError, TypeError, ValueError) as exc:
                problems.append(f"model: {exc}")
    return problems


class Config:
    """Mixin of the trainers' dataclass configs: ``check()`` in ``__post_init__`` reports every problem
    (types, ``RULES``, :meth:`extra_problems`) as one :class:`InputError` named ``WHAT``."""

    WHAT: ClassVar[str] = "training config"
    RULES: ClassVar[dict] = {}
    HELP: ClassVar[dict] = {}
    MODEL_CONFIG: ClassVar[Optional[type]] = None

    def __post_init__(self):
        self.check()

    def extra_problems(self) -> list:
        """Problems beyond types and single-field rules (override)."""
        return []

    def check(self) -> None:
        problems = self.problems_of(asdict(self))
        if problems:
            raise InputError(self.WHAT, "; ".join(problems))

    @classmethod
    def problems_of(cls, raw: dict) -> list:
        """Every problem of the mapping ``raw`` as this config: :func:`config_problems`, then
        :meth:`extra_problems` on the values (skipped where a field of the wrong type breaks them)."""
        problems = config_problems(cls, raw)
        values = {f.name: (f.default if f.default is not dataclasses.MISSING else f.default_factory())
                  for f in fields(cls) if f.default is not dataclasses.MISSING
                  or f.default_factory is not dataclasses.MISSING}
        obj = object.__new__(cls)
        obj.__dict__.update({**values, **{k: v for k, v in raw.items() if k in values}})
        try:
            problems += [p for p in obj.extra_problems() if p not in problems]
        except (TypeError, ValueError, AttributeError, KeyError):  # a field of the wrong type, reported above
            pass
        return problems

    def to_dict(self) -> dict:
        return asdict(self)


# ----------------------------------------------------------------------------------------- sources
def _coerce_text(value: str, base):
    """A ``--set key=value`` string as ``base`` (unparseable text is kept and reported by the schema)."""
    import yaml

    low = value.lower()
    if low in ("none", "null"):
        return None
    if base is bool:
        return {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}.get(low, value)
    if base is int:
        try:
            return int(value)
        except ValueError:
            return value
    if base is float:
        try:
            return float(value)
        except ValueError:
            return value
    if base in (tuple, list, dict):
        try:
            return yaml.safe_load(value)
        except yaml.YAMLError:
            return value
    return value


def read_yaml(path: Union[str, Path]) -> dict:
    """A YAML mapping (one :class:`InputError` naming the file for every way it can be wrong)."""
    import yaml

    p = Path(path)
    if not p.is_file():
        raise InputError("--config", f"{str(p)!r} does not exist")
    try:
        raw = yaml.safe_load(p.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise InputError(str(p), f"is not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    except UnicodeDecodeError:
        raise InputError(str(p), "is not a text file") from None
    raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        raise InputError(str(p), f"must be a mapping of keys to values, got {type(raw).__name__}")
    return raw


def apply_overrides(cls, raw: dict, overrides=()) -> list:
    """Apply ``key=value`` strings to ``raw`` (``data.manifest=...``, ``model.width=32`` set a key of a
    mapping field); returns the problems of the overrides themselves."""
    problems = []
    known = {f.name: f for f in fields(cls)}
    for item in overrides or []:
        key, sep, value = str(item).partition("=")
        if not sep:
            problems.append(f"--set {item!r}: expected KEY=VALUE")
            continue
        head, dot, sub = key.partition(".")
        if head not in known:
            problems.append(f"--set {key}: unknown key")
        elif dot:
            if field_type(cls, head)[0] is not dict:
                problems.append(f"--set {key}: {head} is not a mapping")
            elif not isinstance(raw.get(head, {}), dict):
                problems.append(f"{head}: expected a mapping")
            else:
                raw.setdefault(head, {})[sub] = _coerce_text(value, str) if head == "data" else yaml_value(value)
        else:
            raw[key] = _coerce_text(value, field_type(cls, key)[0])
    return problems


def yaml_value(text: str):
    """``text`` read as a YAML scalar (``32`` → int, ``0.5`` → float, ``full`` → str)."""
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def load_config(cls, path: Union[str, Path, None] = None, overrides=(), values: Optional[dict] = None):
    """``cls`` from a YAML file (optional), then ``overrides`` (``key=value`` strings), then ``values``
    (already typed, e.g. command-line flags); every problem reported at once, naming the file."""
    raw = read_yaml(path) if path is not None else {}
    raw.pop("trainer", None)
    problems = apply_overrides(cls, raw, overrides)
    for k, v in (values or {}).items():
        if k == "model":
            raw.setdefault("model", {}).update(v)
        else:
            raw[k] = v
    problems += cls.problems_of(raw)
    if problems:
        raise InputError(str(path) if path is not None else cls.WHAT, "; ".join(problems))
    return cls(**raw)


# ----------------------------------------------------------------------------------------- flags
def add_config_arguments(parser: argparse.ArgumentParser, cls, aliases: Optional[dict] = None) -> None:
    """A ``--field-name`` flag for every scalar field of ``cls`` (and of ``cls.MODEL_CONFIG``, into
    ``model``), typed by the annotation, defaults shown; ``aliases`` ``{field: [extra flags]}``. Flags
    left out keep the config file's (or the default) value: read them with :func:`flag_values`."""
    aliases = aliases or {}
    groups = [("", cls)] + ([("model.", cls.MODEL_CONFIG)] if getattr(cls, "MODEL_CONFIG", None) else [])
    for prefix, c in groups:
        group = parser.add_argument_group("model" if prefix else "training")
        for f in fields(c):
            base, optional = field_type(c, f.name)
            if base not in (int, float, str, bool, tuple, list):
                continue
            default = (f.default if f.default is not dataclasses.MISSING else
                       f.default_factory() if f.default_factory is not dataclasses.MISSING else None)
            flags = [f"--{f.name.replace('_', '-')}"] + list(aliases.get(f.name, []))
            text = getattr(c, "HELP", {}).get(f.name, "")
            shown = f"{text} (default: {default})" if text else f"default: {default}"
            kw = dict(dest=f"{prefix}{f.name}", default=argparse.SUPPRESS, help=shown)
            if base is bool:
                kw.update(type=_bool_flag, metavar="true|false")
            elif base in (tuple, list):
                kw.update(nargs="+", type=yaml_value)
            else:
                kw["type"] = {int: _int_flag, float: float, str: str}[base]
            group.add_argument(*flags, **kw)


def _bool_flag(text: str) -> bool:
    low = text.lower()
    if low in ("true", "yes", "1"):
        return True
    if low in ("false", "no", "0"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _int_flag(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def flag_values(args: argparse.Namespace) -> dict:
    """The config values given as flags (``model.x`` collected into ``{"model": {...}}``)."""
    out: dict = {}
    for k, v in vars(args).items():
        if k.startswith("model."):
            out.setdefault("model", {})[k[6:]] = tuple(v) if isinstance(v, list) else v
        elif k not in ("trainer", "config", "set") and not k.startswith("_"):
            out[k] = tuple(v) if isinstance(v, list) else v
    return out


__all__ = ["Config", "add_config_arguments", "apply_overrides", "at_least", "config_problems", "field_type",
           "flag_values", "fraction", "load_config", "nonnegative", "one_of", "positive", "read_yaml", "value_range"]
