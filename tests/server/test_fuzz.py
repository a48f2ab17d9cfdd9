"""Fuzz every operation from the served OpenAPI schema (schemathesis), signed as a counter
device so requests get past authentication: no input may produce a server error, and every
answer must be signed and match the schema (status, media type, body). Bounded: a few
examples per operation."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
import schemathesis
from http_message_signatures import HTTPMessageSignaturesException
from hypothesis import HealthCheck, Phase, given, reject, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.server.live import start_server

EXAMPLES_PER_OPERATION = 12


@pytest.mark.slow
def test_no_input_produces_a_server_error(tmp_path: Path):
    server = start_server(tmp_path)
    try:
        counter = server.device("counter")
        schema = schemathesis.openapi.from_url(f"{server.base}/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 19
        for operation in operations:
            @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
                      derandomize=True, phases=[Phase.explicit, Phase.generate],
                      suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy())
            def call(case: schemathesis.Case) -> None:
                kwargs = case.as_transport_kwargs(base_url=server.base)
                try:
                    reply = counter.session.request(**kwargs, timeout=10)
                except (requests.exceptions.InvalidHeader, UnicodeError, ValueError,
                        HTTPMessageSignaturesException):
                    reject()  # the client refused to send it; nothing reached the server
                counter.verifier.verify(reply)
                assert reply.status_code < 500, (case.path, reply.status_code, reply.text)
                if reply.status_code >= 400:
                    assert reply.json()["error"]["code"], reply.text
                # the served schema is accurate: documented status, media type and body
                case.validate_response(reply, checks=[
                    not_a_server_error, status_code_conformance, content_type_conformance,
                    response_schema_conformance])

            call()
    finally:
        server.stop()
    log = server.log.read_text(encoding="utf-8") if server.log else ""
    assert "unhandled error" not in log
