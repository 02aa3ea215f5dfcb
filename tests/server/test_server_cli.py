"""``expbook server token create/list/revoke`` and the loopback rule of ``expbook server``."""

from __future__ import annotations

import json
from pathlib import Path

from expbook.server._auth import hash_secret
from expbook.store import SQLiteStore

from .test_server_remote import cli


def test_token_create_list_revoke(store_dir: Path, seeded) -> None:
    db = str(store_dir)
    code, out, err = cli(
        "server",
        "token",
        "create",
        "--project",
        "vision",
        "--scope",
        "write",
        "--name",
        "cluster",
        "--db",
        db,
    )
    assert code == 0, err
    secret = out.strip()
    assert secret.startswith("eb_") and "\n" not in secret
    assert "not shown again" in err
    with SQLiteStore(store_dir) as s:
        got = s.token_by_hash(hash_secret(secret))
    assert got is not None and (got["project"], got["scope"], got["name"]) == (
        "vision",
        "write",
        "cluster",
    )
    code, out, _ = cli(
        "server", "token", "create", "-p", "*", "--scope", "read", "--db", db, "--format", "json"
    )
    created = json.loads(out)
    assert created["token"].startswith("eb_") and created["scope"] == "read"
    code, out, _ = cli("server", "token", "list", "--db", db, "--format", "json")
    listed = json.loads(out)
    assert [t["scope"] for t in listed] == ["write", "read"]
    assert secret not in out and created["token"] not in out and hash_secret(secret) not in out
    assert all(t["revoked_at"] is None for t in listed)
    code, out, _ = cli("server", "token", "list", "--db", db)
    assert code == 0 and got["id"] in out and secret not in out
    code, out, _ = cli("server", "token", "revoke", got["id"], "--db", db)
    assert code == 0 and got["id"] in out
    code, out, _ = cli("server", "token", "list", "--db", db, "--format", "json")
    assert json.loads(out)[0]["revoked_at"] is not None
    code, _, err = cli("server", "token", "revoke", "tok_nothere", "--db", db)
    assert code == 1 and err.startswith("expbook: error: no token") and err.count("\n") == 1


def test_bad_token_options_are_one_line_errors(store_dir: Path, seeded) -> None:
    code, _, err = cli(
        "server", "token", "create", "--project", "p", "--scope", "root", "--db", str(store_dir)
    )
    assert code == 2 and "root" in err
    code, _, err = cli(
        "server", "token", "create", "--project", " ", "--scope", "read", "--db", str(store_dir)
    )
    assert code == 1 and "--project" in err and err.count("\n") == 1
    with SQLiteStore(store_dir) as s:
        assert s.tokens() == []


def test_no_tokens_means_loopback_only(store_dir: Path, seeded) -> None:
    code, _, err = cli("server", "--db", str(store_dir), "--host", "0.0.0.0", "--port", "9")
    assert code == 1 and err.count("\n") == 1
    assert "no tokens" in err and "127.0.0.1" in err
    # a revoked token is no token
    code, out, _ = cli(
        "server",
        "token",
        "create",
        "-p",
        "*",
        "--scope",
        "read",
        "--db",
        str(store_dir),
        "--format",
        "json",
    )
    cli("server", "token", "revoke", json.loads(out)["id"], "--db", str(store_dir))
    code, _, err = cli("server", "--db", str(store_dir), "--host", "0.0.0.0", "--port", "9")
    assert code == 1 and "no tokens" in err
