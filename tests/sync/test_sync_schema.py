"""schemathesis over the write API's operations with a write token (the server's schema
test covers them without a token and with read tokens): no 5xx, answers as documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.test_schema import _check_every_operation, _schema


@pytest.mark.parametrize("project", ["*", "nlp"])
def test_write_operations_match_the_document(tmp_path: Path, project: str) -> None:
    schema, headers = _schema(tmp_path, project, "write")
    # PUT run, POST points, GET received, heartbeat, media, values
    assert _check_every_operation(schema, headers, "/api/v1/runs/") == 6
