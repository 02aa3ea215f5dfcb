"""The server's OpenAPI document checked by schemathesis: generated requests (bounded,
derandomized) to every operation, with and without a token, get no 5xx and answers that
match the document."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from expbook.server.app import create_server

from .conftest import make_token, seed

BOUNDED = settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
    database=None,
)


def _schema(tmp_path: Path, token: str | None, scope: str = "read"):
    """The served schema of a seeded store, and the headers of a token of project
    ``token`` with ``scope`` (None: no token)."""
    store = tmp_path / "store"
    seed(store)
    headers = {}
    if token is not None:
        _, secret = make_token(store, token, scope)
        headers = {"Authorization": f"Bearer {secret}"}
    app = create_server(store)
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
    return schema, headers


def _check_every_operation(schema, headers: dict[str, str], prefix: str = "") -> int:
    """Run the bounded examples of every operation (whose path starts with ``prefix``);
    returns how many operations ran."""
    from hypothesis import given

    ran = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if not operation.path.startswith(prefix):
            continue

        @given(case=operation.as_strategy())
        @BOUNDED
        def check(case) -> None:
            # every check but "schema-valid data is accepted": a filter expression that does
            # not parse, or a run id that does not exist, is schema-valid and a documented 400
            # or 404
            response = case.call_and_validate(
                headers=headers, excluded_checks=[positive_data_acceptance]
            )
            assert response.status_code < 500, (case.method, case.formatted_path)

        check()
        ran += 1
    return ran


@pytest.mark.parametrize("token", [None, "*", "nlp"])
def test_every_operation_matches_the_document(tmp_path: Path, token: str | None) -> None:
    """Without tokens (open loopback server), with a token for every project and with a
    project's token (runs of another project are 404s: documented answers too)."""
    schema, headers = _schema(tmp_path, token)
    assert _check_every_operation(schema, headers) >= 25


def test_without_a_token_every_operation_is_a_documented_401(tmp_path: Path) -> None:
    schema, _ = _schema(tmp_path, "*")  # the server has a token; the requests carry none
    assert _check_every_operation(schema, {}) >= 25
