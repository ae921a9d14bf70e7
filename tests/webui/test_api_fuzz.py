"""Schemathesis against the served OpenAPI document: every operation, valid and invalid input, a fixed seed.

Every answer must be documented: no server error, a documented status code and content type, a body
that matches the documented schema, and the documented headers. Each operation runs with generated
ids (mostly 404s) and with a real case and task, so the form validation and the case view are fuzzed too.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import Api
from tests.factories import registration
from tests.webui.test_case_paths import complete, open_case

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]
EXAMPLES = 20


def _fuzz(operation: Any, mode: GenerationMode, **fixed: Any) -> None:
    @given(case=operation.as_strategy(generation_mode=mode, **fixed))
    @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case: Any) -> None:
        case.call_and_validate(checks=CHECKS)

    run()


def test_every_answer_is_documented(app: Flask, api: Any) -> None:
    reception: Api = api("reception1")  # a real token; reception may also open cases
    created = reception.post("/cases", {}).get_json()
    scored = open_case(reception)
    complete(reception, scored, registration())
    real_ids = {"case_id": created["case_id"], "task_id": created["first_task"]["id"],
                "score_id": reception.get(f"/cases/{scored}").get_json()["eligibility"][0]["id"]}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    bearer = {"Authorization": reception.headers["Authorization"]}
    operations = sorted(((path, method) for path, methods in schema.raw_schema["paths"].items() for method in methods),
                        key=lambda op: op[0] == "/auth/logout")  # logout ends the token: last
    assert len(operations) == 15
    for path, method in operations:
        operation = schema[path][method.upper()]
        headers = {} if path == "/auth/token" else bearer
        ids = {name: value for name, value in real_ids.items() if "{" + name + "}" in path}
        definition = schema.raw_schema["paths"][path][method]
        params = {p.get("in") for p in definition.get("parameters", [])}
        # Invalid input needs something to break: a body, or a parameter that is not fixed.
        breakable = "requestBody" in definition or bool(params)
        breakable_with_ids = "requestBody" in definition or bool(params - {"path"})
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            positive = mode == GenerationMode.POSITIVE
            if positive or breakable:
                _fuzz(operation, mode, headers=headers)
            if ids and (positive or breakable_with_ids):
                _fuzz(operation, mode, headers=headers, path_parameters=ids)
