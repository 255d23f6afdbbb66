"""The Salla tokens in force, and the lock that makes their refresh single-flight across processes."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlmodel import Session

from sync_core.store.locks import DatabaseLock
from sync_core.store.tables import SallaToken, utcnow

TOKEN_REFRESH_LOCK = "salla-token-refresh"
TOKEN_REFRESH_WAIT = 60.0  # seconds; a refresh is one HTTP call with its own timeout


def _fingerprint(access: str, refresh: str) -> str:
    return hashlib.sha256(f"{access}\0{refresh}".encode()).hexdigest()[:16]


class TokenStore:
    """The store's Salla tokens (mixed into ``Store``: ``self.engine``)."""

    def token_refresh_lock(self, timeout: float | None = TOKEN_REFRESH_WAIT) -> DatabaseLock:
        """The lock that makes a Salla token refresh single-flight across processes.

        ``with store.token_refresh_lock():`` or ``async with store.token_refresh_lock():`` (the
        async form waits in a worker thread). PostgreSQL: ``pg_advisory_lock`` held on a dedicated
        connection; SQLite: ``flock`` on ``<database file>.salla-token-refresh.lock``; neither
        blocks other writers, so ``save_tokens`` works while it is held. Raises ``LockTimeout``
        after ``timeout`` seconds (None waits for ever). After taking it, re-read the row with
        ``load_tokens_row()``: another process may have refreshed meanwhile.
        """
        return DatabaseLock(self.engine, TOKEN_REFRESH_LOCK, timeout=timeout)

    def load_tokens_row(self) -> SallaToken | None:
        """The stored tokens as they are now (no seeding from the environment)."""
        with Session(self.engine, expire_on_commit=False) as session:
            return session.get(SallaToken, 1)

    def load_tokens(self, env_access: str | None, env_refresh: str | None) -> SallaToken | None:
        """The tokens in force: the stored ones, unless the environment holds newer first tokens."""
        with Session(self.engine, expire_on_commit=False) as session:
            row = session.get(SallaToken, 1)
            if env_access and env_refresh:
                seed = _fingerprint(env_access, env_refresh)
                if row is None or row.seeded_from != seed:
                    row = row or SallaToken(id=1, access_token=env_access, refresh_token=env_refresh)
                    row.access_token, row.refresh_token = env_access, env_refresh
                    row.expires_at, row.seeded_from, row.updated_at = None, seed, utcnow()
                    session.add(row)
                    session.commit()
            return row

    def save_tokens(self, access_token: str, refresh_token: str, expires_at: datetime | None) -> None:
        """Both new tokens in one transaction: never one without the other."""
        with Session(self.engine) as session:
            row = session.get(SallaToken, 1)
            if row is None:
                row = SallaToken(id=1, access_token=access_token, refresh_token=refresh_token)
            row.access_token, row.refresh_token = access_token, refresh_token
            row.expires_at, row.updated_at = expires_at, utcnow()
            session.add(row)
            session.commit()
