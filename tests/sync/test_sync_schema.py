"""schemathesis over the write API's operations with a write token (the server's schema
test covers them without a token and with read tokens): no 5xx, answers as documented."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import given

from expbook.server.app import create_server
from server.conftest import make_token, seed
from server.test_schema import BOUNDED


@pytest.mark.parametrize("project", ["*", "nlp"])
def test_write_operations_match_the_document(tmp_path: Path, project: str) -> None:
    from schemathesis.specs.openapi.checks import positive_data_acceptance

    store = tmp_path / "store"
    seed(store)
    _, secret = make_token(store, project, "write")
    headers = {"Authorization": f"Bearer {secret}"}
    app = create_server(store)
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
    ran = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if not operation.path.startswith("/api/v1/runs/"):
            continue

        @given(case=operation.as_strategy())
        @BOUNDED
        def check(case) -> None:
            response = case.call_and_validate(
                headers=headers, excluded_checks=[positive_data_acceptance]
            )
            assert response.status_code < 500, (case.method, case.formatted_path)

        check()
        ran += 1
    assert ran == 6  # PUT run, POST points, GET received, heartbeat, media, values
