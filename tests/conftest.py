"""Shared fixtures. The database backend comes from SALLA_SYNC_TEST_DATABASE:
unset -> a SQLite file per test; a PostgreSQL URL -> a fresh database per test on that server."""

from __future__ import annotations

import os
import uuid

import pytest

PG_URL = os.environ.get("SALLA_SYNC_TEST_DATABASE", "")


def _pg_database(base_url: str):
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(base_url)
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def database_url(tmp_path):
    """A new, empty database for one test, on the backend under test."""
    if PG_URL.startswith("postgresql"):
        yield from _pg_database(PG_URL)
    else:
        yield f"sqlite:///{tmp_path / 'salla_sync.db'}"
