"""The Salla tokens encrypted at rest (both backends): sealed on the first start with a key, read
back only with it, rotated to a new key; the tokens never appear in the database or an error."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from sync_core.store import Store
from sync_core.store.token_cipher import TokenCipher, TokenKeyError, new_key


@pytest.fixture
def store(database_url):
    store = Store(database_url)
    yield store
    store.close()


def stored(store: Store) -> tuple[str, str]:
    with store.engine.connect() as conn:
        return tuple(conn.execute(text("SELECT access_token, refresh_token FROM salla_token WHERE id = 1")).one())


def test_plain_tokens_are_sealed_with_a_key_and_read_back_only_with_it(store):
    store.save_tokens("access-PLAIN-1", "refresh-PLAIN-1", None)  # a database from before the key
    assert stored(store) == ("access-PLAIN-1", "refresh-PLAIN-1")
    key = new_key()
    store.cipher = TokenCipher(key)
    assert store.seal_stored_tokens() and not store.seal_stored_tokens()  # once
    access, refresh = stored(store)
    assert access.startswith("enc:v1:") and "PLAIN" not in access + refresh
    row = store.load_tokens_row()
    assert (row.access_token, row.refresh_token) == ("access-PLAIN-1", "refresh-PLAIN-1")
    store.save_tokens("access-PLAIN-2", "refresh-PLAIN-2", None)
    assert "PLAIN" not in "".join(stored(store))
    assert store.load_tokens("access-ENV", "refresh-ENV").access_token == "access-ENV"  # new first tokens, sealed
    assert "ENV" not in "".join(stored(store))

    store.cipher = None
    with pytest.raises(TokenKeyError, match="encrypted and SALLA_SYNC_SECRET_KEY is not set") as missing:
        store.seal_stored_tokens()
    store.cipher = TokenCipher(new_key())
    with pytest.raises(TokenKeyError, match="does not open the stored Salla tokens") as wrong:
        store.load_tokens_row()
    assert "ENV" not in str(missing.value) + str(wrong.value) and key not in str(wrong.value)


def test_rotating_the_key(store):
    old, new = new_key(), new_key()
    store.cipher = TokenCipher(old)
    store.save_tokens("access-3", "refresh-3", None)
    before = stored(store)
    assert store.reseal_tokens(TokenCipher(new))
    assert stored(store) != before
    store.cipher = TokenCipher(new)
    assert store.load_tokens_row().refresh_token == "refresh-3"
    store.cipher = TokenCipher(old)
    with pytest.raises(TokenKeyError):
        store.load_tokens_row()


def test_a_key_salla_sync_did_not_make_is_refused_in_words():
    with pytest.raises(TokenKeyError, match='make one with "salla-sync db new-key"'):
        TokenCipher("not-a-key")
