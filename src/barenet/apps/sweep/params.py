"""The search space of a sweep: one `--param KEY=SPEC` per config key, checked by the config schema.

    optimizer.lr=log:1e-3..1        a float drawn log-uniformly from [0.001, 1]
    optimizer.momentum=0.8..0.99    a float drawn uniformly
    train.epochs=2..10              an integer range: both ends written as integers, on a key that is no float
    train.batch_size=log:16..512    an integer drawn log-uniformly
    int:2..6, float:1..5            the kind of a range, forced
    train.batch_size=32,64,128      one of the choices (',' or '/' between them)
    model.layers=784,128,10/784,256,128,10
                                    choices of a list-valued key: '/' between them (or [..],[..])

Every value is read as TOML (numbers, true/false, [lists]; bare words are strings). Each choice
and both ends of a range are laid over the base configuration and checked like `--set`, before
anything trains.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from ...errors import ConfigError
from ...runs import config as cfg

KINDS = ("float", "int", "log")
INTEGER = re.compile(r"[+-]?\d+")
SYNTAX = "KEY=log:LOW..HIGH, KEY=LOW..HIGH, KEY=int:LOW..HIGH or KEY=A,B,C (KEY=A/B/C for lists)"


@dataclass(frozen=True)
class Param:
    """One swept config key: a float or int range (`log` for log-uniform), or `choices` with their `labels`
    (the text the user wrote; Optuna stores labels, since it cannot store lists)."""

    key: str
    kind: str  # "float" | "int" | "choice"
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    choices: tuple = ()
    labels: tuple[str, ...] = field(default=())

    def suggest(self, trial) -> Any:
        """The value for this trial (an optuna.Trial): a number, or one of the choices."""
        if self.kind == "float":
            return trial.suggest_float(self.key, self.low, self.high, log=self.log)
        if self.kind == "int":
            return trial.suggest_int(self.key, int(self.low), int(self.high), log=self.log)
        return self.value_of(trial.suggest_categorical(self.key, list(self.labels)))

    def value_of(self, label) -> Any:
        """The config value of a stored parameter (a choice's label, or the number itself)."""
        return self.choices[self.labels.index(label)] if self.kind == "choice" else label

    def describe(self) -> str:
        """The spec in canonical form, e.g. "optimizer.lr=log:0.001..1" or "train.batch_size=32/64"."""
        if self.kind == "choice":
            return f"{self.key}={'/'.join(self.labels)}"
        prefix = "log:" if self.log else f"{self.kind}:"
        return f"{self.key}={prefix}{self.low:g}..{self.high:g}"


def parse_param(item: str, base: dict) -> Param:
    """"KEY=SPEC" -> Param, each value checked against the config schema laid over `base`."""
    key, sep, spec = (part.strip() for part in item.partition("="))
    if not sep or not key or not spec:
        raise ConfigError(f"--param takes {SYNTAX}; got {item!r}")
    current = _current(base, key)
    param = _parse_range(key, spec, current) if _is_range(spec) else _parse_choices(key, spec, current)
    for value in param.choices or (param.low, param.high):
        try:
            cfg.check(cfg.apply_override(base, key, value))
        except ConfigError as exc:
            raise ConfigError(f"--param {item}: {exc}") from None
    return param


def parse_params(items: list[str], base: dict) -> list[Param]:
    """Every --param, at least one, each key once."""
    if not items:
        raise ConfigError(f"a sweep needs at least one --param ({SYNTAX}), e.g. --param optimizer.lr=log:1e-3..1")
    params = [parse_param(item, base) for item in items]
    keys = [p.key for p in params]
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        raise ConfigError(f"--param {repeated[0]} is given twice: give each key once")
    return params


def _current(base: dict, key: str) -> Any:
    section, _, name = key.partition(".")
    table = base.get(section)
    return table.get(name) if isinstance(table, dict) and name else table


def _is_range(spec: str) -> bool:
    return ".." in spec and not spec.startswith("[")


def _parse_range(key: str, spec: str, current: Any) -> Param:
    prefix, colon, bounds = spec.partition(":")
    if not colon:
        prefix, bounds = "", spec
    if prefix and prefix not in KINDS:
        raise ConfigError(f"--param {key}={spec}: unknown range kind {prefix!r}: use log:, int: or float:")
    low_text, _, high_text = (part.strip() for part in bounds.partition(".."))
    low, high = (_number(key, text) for text in (low_text, high_text))
    written_as_ints = bool(INTEGER.fullmatch(low_text) and INTEGER.fullmatch(high_text))
    is_int = prefix == "int" or (prefix != "float" and written_as_ints and not isinstance(current, float))
    if not low < high:
        raise ConfigError(f"--param {key}={spec}: a range needs LOW < HIGH")
    if prefix == "log" and low <= 0:
        raise ConfigError(f"--param {key}={spec}: a log range needs LOW > 0")
    if is_int and not (float(low).is_integer() and float(high).is_integer()):
        raise ConfigError(f"--param {key}={spec}: an integer range needs whole numbers at both ends")
    kind = "int" if is_int else "float"
    return Param(key, kind, int(low) if is_int else low, int(high) if is_int else high, log=prefix == "log")


def _number(key: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"--param {key}: {text!r} is not a number; a range is LOW..HIGH, e.g. 1e-3..1") from None
    if not math.isfinite(value):
        raise ConfigError(f"--param {key}: range ends must be finite numbers, got {text!r}")
    return value


def _parse_choices(key: str, spec: str, current: Any) -> Param:
    """Choices split on '/', else on ',' outside brackets; for a list-valued key a bare "784,128,10" is one list."""
    if "/" in spec:
        labels = [part.strip() for part in spec.split("/")]
    elif isinstance(current, list) and not spec.startswith("["):
        labels = [spec]
    else:
        labels = split_outside_brackets(spec)
    if any(not label for label in labels):
        raise ConfigError(f"--param {key}={spec}: an empty choice; separate choices with ',' or '/'")
    if len(set(labels)) < len(labels):
        raise ConfigError(f"--param {key}={spec}: a choice is given twice")
    values = tuple(_value(label, isinstance(current, list)) for label in labels)
    return Param(key, "choice", choices=values, labels=tuple(labels))


def _value(text: str, as_list: bool) -> Any:
    """A choice's text as TOML ("0.1" -> 0.1, "true" -> True, "784,128,10" -> [784, 128, 10] for list keys)."""
    if as_list and not text.startswith("["):
        text = f"[{text}]"
    try:
        return cfg.parse_toml(f"v = {text}", "--param")["v"]
    except ConfigError:
        return text


def split_outside_brackets(text: str) -> list[str]:
    """Split on commas outside brackets: "[784,64,10],[784,128,10]" -> two parts."""
    parts, depth, current = [], 0, ""
    for char in text:
        depth += (char == "[") - (char == "]")
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    return [*parts, current.strip()]
