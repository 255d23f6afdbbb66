"""Shared fixtures. The database backend comes from SALLA_SYNC_TEST_DATABASE:
unset -> a SQLite file per test; a PostgreSQL URL -> a fresh database per test on that server
(the URL names a role that may create databases; its own database is only used to connect).

``database_url`` is a new database already migrated to head (copied from a template built once
per session, which is much faster than migrating each one); ``empty_database_url`` is a new
database with nothing in it, for tests of the migrations themselves. On PostgreSQL only the tests
that use one of the two run (the others do not touch a database and run on SQLite anyway).
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
import warnings

import pytest

PG_URL = os.environ.get("SALLA_SYNC_TEST_DATABASE", "")
BACKEND = "postgresql" if PG_URL.startswith("postgresql") else "sqlite"


def pytest_report_header(config):
    if BACKEND == "postgresql":
        from sqlalchemy.engine import make_url

        return f"database backend: PostgreSQL ({make_url(PG_URL).render_as_string(hide_password=True)})"
    return "database backend: SQLite (set SALLA_SYNC_TEST_DATABASE=postgresql+psycopg://... for PostgreSQL)"


DATABASE_FIXTURES = {"database_url", "empty_database_url"}


def pytest_collection_modifyitems(config, items):
    """On PostgreSQL, run only the tests that open a database: the others run the very same code on
    either backend, and the SQLite run has them already."""
    if BACKEND != "postgresql":
        return
    kept, same = [], []
    for item in items:
        (kept if DATABASE_FIXTURES & set(getattr(item, "fixturenames", ())) else same).append(item)
    if same:
        config.hook.pytest_deselected(items=same)
        items[:] = kept


def _admin():
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    url = make_url(PG_URL)
    return url, create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool)


def _pg_database(template: str | None = None):
    from sqlalchemy import text

    url, admin = _admin()
    name = f"t_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        _drop(admin, name)
        admin.dispose()


def _drop(admin, name: str) -> None:
    """Drop a test database, ending its sessions. An autovacuum worker in it makes a role without
    pg_signal_backend fail to (it is not the role's session): try again, then leave it behind."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    for attempt in range(10):
        try:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            return
        except DBAPIError as exc:
            error = exc
            time.sleep(0.1 * (attempt + 1))
    warnings.warn(f"could not drop the test database {name}: {error.orig}", stacklevel=1)


def _migrate(url: str) -> None:
    from sync_core.store.schema import upgrade
    from sync_core.store.database import make_engine

    engine = make_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()  # a PostgreSQL template must have no connections; SQLite checkpoints its WAL


@pytest.fixture(scope="session")
def _template_database(tmp_path_factory):
    """A database at head, built once: a PostgreSQL template database, or a SQLite file to copy."""
    if BACKEND == "postgresql":
        databases = _pg_database()
        url = next(databases)
        _migrate(url)
        from sqlalchemy.engine import make_url

        yield make_url(url).database
        databases.close()
    else:
        path = tmp_path_factory.mktemp("template") / "salla_sync.db"
        _migrate(f"sqlite:///{path}")
        assert not os.path.exists(f"{path}-wal"), "the template's WAL was not checkpointed"
        yield str(path)


@pytest.fixture
def database_url(tmp_path, _template_database):
    """A new database for one test, on the backend under test, its schema at head and no rows."""
    if BACKEND == "postgresql":
        yield from _pg_database(template=_template_database)
    else:
        path = tmp_path / "salla_sync.db"
        shutil.copyfile(_template_database, path)
        yield f"sqlite:///{path}"


@pytest.fixture
def empty_database_url(tmp_path):
    """A new database with no tables at all, on the backend under test."""
    if BACKEND == "postgresql":
        yield from _pg_database()
    else:
        yield f"sqlite:///{tmp_path / 'salla_sync.db'}"


@pytest.fixture(autouse=True)
def _restore_logging():
    """Code under test may call setup_logging(); put the root logger back afterwards."""
    import logging

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
