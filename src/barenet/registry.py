"""The one registry helper: build an object from a name, a `{"name": ..., **options}` dict, or an instance.

Losses, optimizers, schedules and initializers each keep a table of their kinds and
call `build`, so every `get(spec)` accepts the same forms and fails with the same
kind of one-line message naming what is known.

    build("sgd", OPTIMIZERS, "optimizer")                      # SGD()
    build({"name": "sgd", "lr": 0.1}, OPTIMIZERS, "optimizer") # SGD(lr=0.1)
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .errors import ConfigError


def split_spec(spec: Any, default_name: str | None = None) -> tuple[Any, dict]:
    """(name, options) from a name or a `{"name": ..., **options}` dict."""
    if isinstance(spec, Mapping):
        options = dict(spec)
        return options.pop("name", default_name), options
    return spec, {}


def lookup(name: Any, registry: Mapping[str, Any], kind: str, aliases: Mapping[str, str] | None = None) -> str:
    """The registry key for `name` (through `aliases`); ConfigError listing every known name otherwise."""
    aliases = aliases or {}
    key = aliases.get(name, name) if isinstance(name, str) else name
    if key not in registry:
        known = ", ".join(sorted([*registry, *aliases]))
        raise ConfigError(f"unknown {kind} {name!r}{suggest(name, [*registry, *aliases])}: use one of {known}")
    return key


def suggest(name: Any, known: Iterable[str]) -> str:
    """" (did you mean 'x'?)" for the known name closest to `name`, or "" when none is close."""
    if not isinstance(name, str):
        return ""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_options(constructor: Callable, options: Mapping[str, Any], what: str) -> None:
    """ConfigError naming the first option `constructor` does not take, and the closest one it does."""
    try:
        parameters = inspect.signature(constructor).parameters
    except (TypeError, ValueError):  # a builtin without a signature: let the call decide
        return
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return
    known = [n for n, p in parameters.items() if n != "self" and p.kind is not inspect.Parameter.VAR_POSITIONAL]
    for option in options:
        if option not in known:
            raise ConfigError(f"unknown option {option!r} for {what}{suggest(option, known)}: "
                              f"its options are {', '.join(known)}")


def build(spec: Any, registry: Mapping[str, Callable], kind: str, aliases: Mapping[str, str] | None = None,
          default_name: str | None = None) -> Any:
    """Call the registered constructor that `spec` names with the options it gives."""
    name, options = split_spec(spec, default_name)
    key = lookup(name, registry, kind, aliases)
    check_options(registry[key], options, f"{kind} {key!r}")
    try:
        return registry[key](**options)
    except TypeError as exc:
        raise ConfigError(f"bad options for {kind} {key!r}: {exc}") from None


def config_repr(obj: Any, config: Mapping[str, Any], always: tuple[str, ...] = ()) -> str:
    """`Name(key=value, ...)` with the options of `config` that differ from the constructor's defaults.

    `name` is left out; keys in `always` are shown even at their default.
    """
    import inspect

    try:
        defaults = {key: p.default for key, p in inspect.signature(type(obj)).parameters.items()
                    if p.default is not inspect.Parameter.empty}
    except (TypeError, ValueError):  # no readable signature: show everything
        defaults = {}
    shown = {key: value for key, value in config.items()
             if key != "name" and (key in always or key not in defaults or defaults[key] != value)}
    return f"{type(obj).__name__}({', '.join(f'{key}={value!r}' for key, value in shown.items())})"
