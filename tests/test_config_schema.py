"""Property-based tests of the configuration schema: every key, every kind, every typo."""

from __future__ import annotations

import tomllib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from barenet.errors import ConfigError
from barenet.io.schema import BOOL, INT, LIST, NUMBER, STR, TABLE, kind_of, printable
from barenet.runs import config as cfg
from barenet.runs.schema import SCHEMA

KEYS = [(section, key) for section, table in SCHEMA.items() for key in table]
VALUES = {INT: st.integers(-10**20, 10**20), NUMBER: st.floats(allow_nan=True, allow_infinity=True),
          BOOL: st.booleans(), STR: st.text(max_size=20), LIST: st.lists(st.integers(), max_size=3),
          TABLE: st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)}
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def override(section: str, key: str) -> str:
    return f"{section}.{key}" if section else key


def resolve_one(section: str, key: str, value) -> dict:
    return cfg.resolve(overrides={override(section, key): value})


@FAST
@given(st.sampled_from(KEYS), st.sampled_from(sorted(VALUES)), st.data())
def test_a_value_of_a_kind_the_key_does_not_take_is_one_line_naming_the_key(place, kind, data):
    section, key = place
    spec = SCHEMA[section][key]
    allowed = set(spec.kinds) | ({INT} if NUMBER in spec.kinds else set())
    if kind in allowed:
        return
    value = data.draw(VALUES[kind])
    with pytest.raises(ConfigError) as error:
        resolve_one(section, key, value)
    message = str(error.value)
    assert "\n" not in message and f"'{override(section, key)}" in message


@FAST
@given(st.sampled_from([k for k in KEYS if INT in SCHEMA[k[0]][k[1]].kinds]), st.integers(-10**30, 10**30))
def test_integers_outside_the_declared_range_are_refused(place, value):
    section, key = place
    spec = SCHEMA[section][key]
    inside = (spec.low is None or value >= spec.low) and (spec.high is None or value <= spec.high)
    if inside:
        return
    with pytest.raises(ConfigError, match="must be"):
        resolve_one(section, key, value)


@FAST
@given(st.sampled_from([k for k in KEYS if k[0]]), st.text(min_size=1, max_size=30))
def test_unknown_keys_are_refused_in_every_section_and_printed_safely(place, key):
    section, _ = place
    if key in SCHEMA[section] or "." in key:
        return
    with pytest.raises(ConfigError, match="unknown config key") as error:
        resolve_one(section, key, 1)
    assert "\n" not in str(error.value) and "\x1b" not in str(error.value)


@pytest.mark.parametrize("section, key", [k for k in KEYS if len(k[1]) >= 4])
def test_a_one_letter_typo_names_the_key_meant(section, key):
    typo = key[:-1] + ("x" if key[-1] != "x" else "y")
    with pytest.raises(ConfigError, match=rf"did you mean '{override(section, key)}'\?"):
        resolve_one(section, typo, 1)


@pytest.mark.parametrize("typo, meant", [("lrr", "lr"), ("momentom", "momentum"), ("nesterv", "nesterov")])
def test_optimizer_option_typos_name_the_option(typo, meant):
    with pytest.raises(ConfigError, match=rf"did you mean 'optimizer.{meant}'\?"):
        cfg.resolve(overrides={f"optimizer.{typo}": 0.1})


@FAST
@given(st.text(max_size=40), st.lists(st.text(max_size=20), max_size=4))
def test_any_description_and_hints_survive_a_round_trip_through_config_toml(description, hints):
    config = cfg.resolve(overrides={"description": description, "hints": hints})
    again = cfg.merge(cfg.DEFAULTS, tomllib.loads(cfg.to_toml(config)))
    assert again == config


@FAST
@given(st.text(max_size=30))
def test_run_names_are_plain_file_names_or_refused(name):
    try:
        config = cfg.resolve(overrides={"name": name})
    except ConfigError as error:
        assert "\n" not in str(error)
        return
    assert config["name"] == name and "/" not in name and "\\" not in name
    assert not name.startswith(".") and name.isprintable() and len(name) <= 100


@FAST
@given(st.text(max_size=50))
def test_printable_leaves_no_control_character(text):
    shown = printable(text)
    assert shown.isprintable()
    assert "\n" not in shown and "\x1b" not in shown


def test_kinds_are_toml_kinds():
    assert [kind_of(v) for v in (True, 1, 1.0, "a", [1], {"a": 1})] == [BOOL, INT, NUMBER, STR, LIST, TABLE]


def test_every_recipe_passes_the_schema():
    for name in cfg.recipe_names():
        cfg.resolve(recipe=name)
