"""The team server's access tokens in the SQLite store (mixed into :class:`SQLiteStore`).

The store keeps what it is given: the server hashes each secret before it gets here, and
no method returns the hash.
"""

from __future__ import annotations

from typing import Any

from .sqlite_core import StoreCore, _reads

_TOKEN_COLUMNS = "id, project, scope, name, created_at, revoked_at, last_used_at"
_TOKEN_KEYS = ("id", "project", "scope", "name", "created_at", "revoked_at", "last_used_at")


class TokensPath(StoreCore):
    """Access tokens of ``expbook server``: add, list, look up by hash, revoke, touch."""

    def add_token(
        self,
        *,
        token_id: str,
        project: str,
        scope: str,
        name: str | None,
        secret_hash: str,
        created_at: float,
    ) -> None:
        with self.atomic():
            self._conn.execute(
                f"INSERT INTO tokens ({_TOKEN_COLUMNS}, secret_hash) "
                "VALUES (?,?,?,?,?,NULL,NULL,?)",
                (token_id, project, scope, name, created_at, secret_hash),
            )

    @_reads
    def tokens(self) -> list[dict[str, Any]]:
        """Every token (revoked ones too), oldest first, without its hash."""
        if "tokens" not in self._tables:  # a store from before 0007_tokens, read-only
            return []
        rows = self._q(f"SELECT {_TOKEN_COLUMNS} FROM tokens ORDER BY created_at, id")
        return [dict(zip(_TOKEN_KEYS, r)) for r in rows]

    @_reads
    def token_by_hash(self, secret_hash: str) -> dict[str, Any] | None:
        if "tokens" not in self._tables:
            return None
        rows = self._q(f"SELECT {_TOKEN_COLUMNS} FROM tokens WHERE secret_hash=?", (secret_hash,))
        return dict(zip(_TOKEN_KEYS, rows[0])) if rows else None

    def revoke_token(self, token_id: str) -> bool:
        import time

        with self.atomic():
            row = self._conn.execute(
                "SELECT revoked_at FROM tokens WHERE id=?", (token_id,)
            ).fetchone()
            if row is None:
                return False
            if row[0] is None:
                self._conn.execute(
                    "UPDATE tokens SET revoked_at=? WHERE id=?", (time.time(), token_id)
                )
            return True

    def touch_token(self, token_id: str, when: float) -> None:
        with self.atomic():
            self._conn.execute("UPDATE tokens SET last_used_at=? WHERE id=?", (when, token_id))
