"""The Salla tokens in force, and the lock that makes their refresh single-flight across processes."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlmodel import Session

from sync_core.store.locks import DatabaseLock
from sync_core.store.token_cipher import TokenCipher, is_encrypted, reveal
from sync_core.store.tables import SallaToken, utcnow

TOKEN_REFRESH_LOCK = "salla-token-refresh"
TOKEN_REFRESH_WAIT = 60.0  # seconds; a refresh is one HTTP call with its own timeout


def _fingerprint(access: str, refresh: str) -> str:
    return hashlib.sha256(f"{access}\0{refresh}".encode()).hexdigest()[:16]


class TokenStore:
    """The store's Salla tokens (mixed into ``Store``: ``self.engine``, ``self.cipher``: the tokens
    are encrypted at rest with it when it is set; see ``token_cipher.py``)."""

    cipher: TokenCipher | None = None

    def _readable(self, row: SallaToken | None) -> SallaToken | None:
        if row is None:
            return None
        return SallaToken(id=row.id, access_token=reveal(row.access_token, self.cipher),
                          refresh_token=reveal(row.refresh_token, self.cipher), expires_at=row.expires_at,
                          seeded_from=row.seeded_from, updated_at=row.updated_at)

    def _sealed(self, value: str) -> str:
        return self.cipher.encrypt(value) if self.cipher is not None else value

    def seal_stored_tokens(self) -> bool:
        """With a key: encrypt tokens stored in plain text (a database from before the key). Without
        one: refuse encrypted tokens. True when the row was rewritten."""
        with Session(self.engine) as session:
            row = session.get(SallaToken, 1)
            if row is None:
                return False
            self._readable(row)  # a wrong key, or a missing one, stops here, in words
            if self.cipher is None or (is_encrypted(row.access_token) and is_encrypted(row.refresh_token)):
                return False
            row.access_token = self._sealed(reveal(row.access_token, self.cipher))
            row.refresh_token = self._sealed(reveal(row.refresh_token, self.cipher))
            session.add(row)
            session.commit()
            return True

    def reseal_tokens(self, new: TokenCipher) -> bool:
        """Encrypt the stored tokens with ``new`` (read with the key in force); True when there were any."""
        with Session(self.engine) as session:
            row = session.get(SallaToken, 1)
            if row is None:
                return False
            access, refresh = reveal(row.access_token, self.cipher), reveal(row.refresh_token, self.cipher)
            row.access_token, row.refresh_token = new.encrypt(access), new.encrypt(refresh)
            session.add(row)
            session.commit()
        self.cipher = new
        return True

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
            return self._readable(session.get(SallaToken, 1))

    def load_tokens(self, env_access: str | None, env_refresh: str | None) -> SallaToken | None:
        """The tokens in force: the stored ones, unless the environment holds newer first tokens."""
        with Session(self.engine, expire_on_commit=False) as session:
            row = session.get(SallaToken, 1)
            if env_access and env_refresh:
                seed = _fingerprint(env_access, env_refresh)
                if row is None or row.seeded_from != seed:
                    row = row or SallaToken(id=1, access_token="", refresh_token="")
                    row.access_token, row.refresh_token = self._sealed(env_access), self._sealed(env_refresh)
                    row.expires_at, row.seeded_from, row.updated_at = None, seed, utcnow()
                    session.add(row)
                    session.commit()
            return self._readable(row)

    def save_tokens(self, access_token: str, refresh_token: str, expires_at: datetime | None) -> None:
        """Both new tokens in one transaction: never one without the other."""
        with Session(self.engine) as session:
            row = session.get(SallaToken, 1)
            if row is None:
                row = SallaToken(id=1, access_token="", refresh_token="")
            row.access_token, row.refresh_token = self._sealed(access_token), self._sealed(refresh_token)
            row.expires_at, row.updated_at = expires_at, utcnow()
            session.add(row)
            session.commit()
