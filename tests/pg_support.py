"""PostgreSQL for the tests: the server in ``$EXPBOOK_TEST_PG`` (default: the one CI starts,
``postgresql://postgres@127.0.0.1:5432/test``), and a fresh schema per test, dropped after.

A test that needs PostgreSQL uses the real server; when it does not answer, the test fails
with the command that starts it (``.ci/run`` starts it before the tests)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"


def pg_url() -> str:
    return os.environ.get("EXPBOOK_TEST_PG") or DEFAULT_PG


def with_schema(url: str, schema: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}schema={schema}"


def drop_schema(schema: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(pg_url(), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@contextmanager
def fresh_schema(prefix: str = "t") -> Iterator[str]:
    """A store URL naming a new, empty schema (created by the store on first open), dropped
    when the block ends."""
    import psycopg

    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(pg_url(), autocommit=True, connect_timeout=5):
            pass
    except psycopg.OperationalError as e:
        raise AssertionError(
            f"PostgreSQL does not answer at {pg_url()} ({str(e).splitlines()[0]}): start it "
            "(`.ci/run` does: service postgresql start) or set EXPBOOK_TEST_PG"
        ) from None
    try:
        yield with_schema(pg_url(), schema)
    finally:
        drop_schema(schema)
