"""Declared schemas for the documents users hand barenet: TOML configs and model-file JSON.

A schema is a dict of key -> `Field` (the kinds of value allowed, a range, choices, a
pattern, the schema of list items). `check_table` refuses unknown keys (naming the
closest known one) and every value of the wrong kind or out of range, with one line:

    check_table({"lrr": 0.1}, {"lr": Field(NUMBER, low=0)}, "optimizer.")
    ConfigError: unknown config key 'optimizer.lrr' (did you mean 'optimizer.lr'?): ...

Kinds are JSON/TOML kinds: a bool is never an int, an int is a number.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import BarenetError, ConfigError
from ..registry import suggest

INT, NUMBER, BOOL, STR, LIST, TABLE, NULL = "integer", "number", "true or false", "string", "list", "table", "null"


@dataclass(frozen=True)
class Field:
    """What one key may hold: `kinds` (INT, NUMBER, ...), an inclusive range, choices, list items, a pattern."""

    kinds: tuple[str, ...]
    low: float | None = None
    high: float | None = None
    choices: tuple | None = None
    items: Field | None = None
    max_items: int | None = None
    pattern: str | None = None
    max_length: int = 10_000
    low_open: bool = False  # True: the value must be strictly above `low`
    high_open: bool = False  # True: the value must be strictly below `high`


def field(*kinds: str, **options) -> Field:
    """`Field(kinds, **options)` with the kinds as arguments: field(INT, low=1)."""
    return Field(tuple(kinds), **options)


def kind_of(value) -> str:
    """The schema kind of a parsed TOML/JSON value."""
    if value is None:
        return NULL
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int):
        return INT
    if isinstance(value, float):
        return NUMBER
    if isinstance(value, str):
        return STR
    if isinstance(value, (list, tuple)):
        return LIST
    return TABLE if isinstance(value, Mapping) else type(value).__name__


def printable(text, limit: int = 200) -> str:
    """`text` safe to print on one line: every non-printable character (ANSI escapes, newlines) escaped,
    the length capped."""
    text = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in str(text))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _describe(value) -> str:
    return printable(repr(value), 80)


def check_value(value, spec: Field, name: str, error: type[BarenetError] = ConfigError) -> None:
    """Raise `error` ("NAME must be ..., got VALUE") unless `value` fits `spec`."""
    kind = kind_of(value)
    allowed = kind in spec.kinds or (kind == INT and NUMBER in spec.kinds)
    if not allowed:
        raise error(f"{name} must be {' or '.join(_article(k) for k in spec.kinds)}, got {_describe(value)}")
    if kind in (INT, NUMBER):
        _check_number(value, spec, name, error)
    elif kind == STR:
        _check_text(value, spec, name, error)
    elif kind == LIST:
        if spec.max_items is not None and len(value) > spec.max_items:
            raise error(f"{name} may hold at most {spec.max_items} items, got {len(value)}")
        if spec.items is not None:
            for i, item in enumerate(value):  # config key 'a.b' -> config key 'a.b[3]'
                label = f"{name[:-1]}[{i}]'" if name.endswith("'") else f"{name}[{i}]"
                check_value(item, spec.items, label, error)
    if spec.choices is not None and kind not in (LIST, TABLE) and value not in spec.choices:
        raise error(f"{name} must be one of {', '.join(map(repr, spec.choices))}, got {_describe(value)}")


def _article(kind: str) -> str:
    return kind if kind in (BOOL, NULL) else ("an " if kind[0] in "aeiou" else "a ") + kind


def _check_number(value, spec: Field, name: str, error: type[BarenetError]) -> None:
    if not math.isfinite(value):
        raise error(f"{name} must be a finite number, got {value!r}")
    below = spec.low is not None and (value <= spec.low if spec.low_open else value < spec.low)
    above = spec.high is not None and (value >= spec.high if spec.high_open else value > spec.high)
    if below or above:
        low = "" if spec.low is None else f"{'>' if spec.low_open else '>='} {_number(spec.low)}"
        high = "" if spec.high is None else f"{'<' if spec.high_open else '<='} {_number(spec.high)}"
        raise error(f"{name} must be {' and '.join(p for p in (low, high) if p)}, got {value!r}")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _check_text(value: str, spec: Field, name: str, error: type[BarenetError]) -> None:
    if len(value) > spec.max_length:
        raise error(f"{name} is {len(value)} characters long; the most allowed is {spec.max_length}")
    if spec.pattern is not None and not re.fullmatch(spec.pattern, value):
        raise error(f"{name} {_describe(value)} is not allowed: use letters, digits, '.', '_' and '-' "
                    f"(not starting with '.')")


def check_table(table, schema: Mapping[str, Field], where: str = "", error: type[BarenetError] = ConfigError,
                what: str = "config key") -> None:
    """Every key of `table` known to `schema` and every value fitting its Field; `where` prefixes key names."""
    if not isinstance(table, Mapping):
        raise error(f"{what} {where.rstrip('.') or 'document'!r} must be a table, got {_describe(table)}")
    for key, value in table.items():
        if key not in schema:
            raise error(unknown_key(key, schema, where, what))
        check_value(value, schema[key], f"{what} {where + str(key)!r}", error)


def unknown_key(key, known, where: str = "", what: str = "config key") -> str:
    """"unknown config key 'a.b' (did you mean 'a.c'?): known keys in [a] are ..." (one line)."""
    hint = suggest(key, [str(k) for k in known])
    if hint:
        hint = hint.replace("'", f"'{where}", 1)
    section = where.rstrip(".")
    place = f" in [{section}]" if section else ""
    return (f"unknown {what} {printable(repr(where + str(key)), 80)}{hint}: known keys{place} are "
            f"{', '.join(sorted(map(str, known)))}")
