"""Salla's tokens encrypted at rest (``SALLA_SYNC_SECRET_KEY``, a Fernet key from ``cryptography``).

A stored token is ``enc:v1:<Fernet token>`` when encrypted, the plain token otherwise (a database
from before a key was set). With a key, plain rows are encrypted on the first start; encrypted rows
and no key, or the wrong key, stop start-up with one line saying so. The plain token never appears
in an error message.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken

PREFIX = "enc:v1:"


class TokenKeyError(RuntimeError):
    """The stored tokens cannot be read with the key in force (or without one)."""


def new_key() -> str:
    return Fernet.generate_key().decode()


def is_encrypted(value: str | None) -> bool:
    return bool(value) and value.startswith(PREFIX)


class TokenCipher:
    def __init__(self, key: str) -> None:
        try:
            self._fernet = Fernet(key.strip().encode())
        except (ValueError, TypeError):
            raise TokenKeyError("SALLA_SYNC_SECRET_KEY is not a key salla-sync made: make one with "
                                "\"salla-sync db new-key\"") from None

    def encrypt(self, value: str) -> str:
        return PREFIX + self._fernet.encrypt(value.encode()).decode()

    def decrypt(self, value: str) -> str:
        if not is_encrypted(value):
            return value  # stored before a key was set
        try:
            return self._fernet.decrypt(value[len(PREFIX):].encode()).decode()
        except InvalidToken:
            raise TokenKeyError("SALLA_SYNC_SECRET_KEY does not open the stored Salla tokens (a different key "
                                "encrypted them): set the key they were stored with") from None


def reveal(value: str, cipher: TokenCipher | None) -> str:
    """The token as stored, readable: refuses an encrypted one without a key."""
    if cipher is not None:
        return cipher.decrypt(value)
    if is_encrypted(value):
        raise TokenKeyError("the stored Salla tokens are encrypted and SALLA_SYNC_SECRET_KEY is not set: set it")
    return value
