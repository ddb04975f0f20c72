"""Schemathesis against barenet serve's OpenAPI schema: generated requests never get a 5xx, and every
response (successes and errors) matches the schema, on a bounded number of examples per operation."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

import barenet as bn

schemathesis = pytest.importorskip("schemathesis", reason="the schema test needs pip install schemathesis")
pytest.importorskip("fastapi", reason='barenet serve needs the serve extra: pip install "barenet[serve]"')
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import (  # noqa: E402
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from barenet.apps.serve.app import create_app  # noqa: E402
from barenet.apps.serve.limits import Limits  # noqa: E402

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


FOLDER = tempfile.TemporaryDirectory(prefix="barenet-schema-")  # removed when the test process ends


def tiny_app():
    path = Path(FOLDER.name) / "tiny.safetensors"
    bn.MLP([784, 16, 10], seed=0).save(path, extra={"dataset": "mnist", "input": {"scale": "unit"}})
    return create_app(path, Limits(max_batch=4))  # a small batch keeps the generated JSON bodies small


# schemathesis reads the schema when the module is collected (its from_fixture does not work with this pytest)
schema = schemathesis.openapi.from_asgi("/openapi.json", tiny_app())


@schema.parametrize()
@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
def test_the_api_keeps_its_schema(case):
    case.call_and_validate(checks=CHECKS)
