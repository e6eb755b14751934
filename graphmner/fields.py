"""Typed configuration fields: every value checked against its dataclass annotation and its allowed range,
once, where a config is built, so that a wrong value is one line naming its key, not a traceback later.

A field says what it allows in its annotation::

    epochs: Annotated[int, at_least(1)] = 3
    device: Annotated[str, matches(r"auto|cpu|mps|cuda(:\\d+)?", "auto, cpu, mps, cuda or cuda:N")] = "auto"
    fusion: Annotated[str, one_of("gnn", "dense")] = "gnn"

:func:`check_fields` reads the annotations (``int`` is not ``bool`` and not ``1.5``; ``float`` takes an
``int`` and no NaN or infinity; ``X | None``; ``list[X]``; ``dict[K, V]``) and the rules after them.
"""
from __future__ import annotations

import math
import re
import types
from dataclasses import dataclass, fields, is_dataclass
from typing import Annotated, Any, Union, get_args, get_origin, get_type_hints


class ConfigError(ValueError):
    """A configuration value that its field does not allow; the message names the key."""


@dataclass(frozen=True)
class Range:
    """``low <= value <= high`` (``low < value`` when ``low_open``); either bound may be None."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def check(self, value: Any) -> str | None:
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return self.text()
        if self.high is not None and (value >= self.high if self.high_open else value > self.high):
            return self.text()
        return None

    def text(self) -> str:
        parts = []
        if self.low is not None:
            parts.append(f"{'>' if self.low_open else '>='} {self.low:g}")
        if self.high is not None:
            parts.append(f"{'<' if self.high_open else '<='} {self.high:g}")
        return " and ".join(parts)


def at_least(low: float) -> Range:
    return Range(low=low)


def above(low: float) -> Range:
    return Range(low=low, low_open=True)


def between(low: float, high: float, high_open: bool = False) -> Range:
    return Range(low=low, high=high, high_open=high_open)


@dataclass(frozen=True)
class OneOf:
    """One of a few values."""

    values: tuple[Any, ...]

    def check(self, value: Any) -> str | None:
        return None if value in self.values else "one of " + ", ".join(map(str, self.values))


def one_of(*values: Any) -> OneOf:
    return OneOf(values)


@dataclass(frozen=True)
class Matches:
    """A string matching a regular expression as a whole; ``text`` says what that means."""

    pattern: str
    description: str

    def check(self, value: Any) -> str | None:
        return None if re.fullmatch(self.pattern, value) else self.description


def matches(pattern: str, description: str) -> Matches:
    return Matches(pattern, description)


NON_EMPTY = matches(r"(?s).*\S.*", "a non-empty string")

_PLURALS = {bool: "true/false values", int: "integers", float: "numbers", str: "strings"}


def check_fields(config: Any, where: str = "") -> None:
    """Check every field of a dataclass instance (not the dataclasses nested in it).

    Raises:
        ConfigError: ``config key 'train.epochs': 0 is not allowed (must be >= 1)`` for the first bad value.
    """
    hints = get_type_hints(type(config), include_extras=True)
    for f in fields(config):
        value = getattr(config, f.name)
        if is_dataclass(value):
            continue
        check_value(value, hints[f.name], f"{where}{f.name}")


def check_value(value: Any, hint: Any, key: str) -> None:
    """Check one value against a type hint (and the rules of an ``Annotated`` hint)."""
    problem = problem_of(value, hint)
    if problem is not None:
        raise ConfigError(f"config key '{key}': {_shown(value)} is not allowed ({problem})")


def problem_of(value: Any, hint: Any) -> str | None:
    """What is wrong with ``value`` for ``hint``, or None."""
    origin = get_origin(hint)
    if origin is Annotated:
        base, *rules = get_args(hint)
        problem = problem_of(value, base)
        if problem is not None or value is None:
            return problem
        for rule in rules:
            problem = rule.check(value)
            if problem is not None:
                return f"must be {problem}"
        return None
    if hint is Any:
        return None
    if origin in (Union, types.UnionType):
        options = get_args(hint)
        if value is None and type(None) in options:
            return None
        problems = [problem_of(value, option) for option in options if option is not type(None)]
        if any(p is None for p in problems):
            return None
        return problems[0] + (" or null" if type(None) in options else "")
    if hint is bool:
        return None if isinstance(value, bool) else "must be true or false"
    if hint is int:
        return None if isinstance(value, int) and not isinstance(value, bool) else "must be an integer"
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return "must be a number"
        return None if math.isfinite(value) else "must be a finite number"
    if hint is str:
        return None if isinstance(value, str) else "must be a string"
    if origin is list:
        if not isinstance(value, list):
            item = get_args(hint)[0]
            item = get_args(item)[0] if get_origin(item) is Annotated else item
            return f"must be a list of {_PLURALS.get(item, 'values')}"
        for item in value:
            problem = problem_of(item, get_args(hint)[0])
            if problem is not None:
                return f"an item {_shown(item)}: {problem}"
        return None
    if origin is dict:
        key_hint, value_hint = get_args(hint)
        if not isinstance(value, dict):
            return "must be a mapping"
        for k, v in value.items():
            problem = problem_of(k, key_hint) or problem_of(v, value_hint)
            if problem is not None:
                return f"entry {_shown(k)}: {problem}"
        return None
    return None  # a type this checker does not know (a dataclass is built and checked on its own)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
