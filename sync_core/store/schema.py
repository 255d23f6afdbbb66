"""The database schema, versioned with Alembic and run from the installed package.

The migration environment lives in ``sync_core/store/migrations`` (``env.py``, ``versions/``);
Alembic is configured here in code, so no ``alembic.ini`` is needed in the working directory.

``ensure_schema`` is what a process calls at start-up (``Store(create=True)``):

- a new, empty database is upgraded to head (when ``allow_create``);
- a database at head costs one query;
- a database behind head raises ``SchemaBehind``: migrating is the operator's step
  (``salla-sync db upgrade``), never a side effect of starting a new version;
- a database made by ``SQLModel.metadata.create_all`` before migrations existed (our tables but
  no ``alembic_version``) is stamped with the revision whose tables it has, then judged as above.

Upgrades and stamps run under a lock shared by every process using the database (a PostgreSQL
advisory lock, a lock file beside a SQLite file), so processes starting together on a new
database do not race to create the same tables.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache, lru_cache
from pathlib import Path

from sqlalchemy import MetaData, inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from sync_core.store.locks import DatabaseLock

log = logging.getLogger(__name__)
# Alembic's INFO lines ("Context impl SQLiteImpl.", one per step) would reach the application's
# log on every new database; what matters is logged here. Left alone if someone set its level.
if logging.getLogger("alembic").level == logging.NOTSET:
    logging.getLogger("alembic").setLevel(logging.WARNING)

SCRIPT_LOCATION = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "alembic_version"
MIGRATION_LOCK = "migrate"
MIGRATION_LOCK_TIMEOUT = 300.0  # seconds to wait for another process's migration

# Modules whose SQLModel tables live in our database (their metadata is what autogenerate and the
# drift check compare against): the core's, and those other packages name as entry points in the
# group ``salla_sync.tables`` (the Slack bot's threads), so the core names no surface.
CORE_TABLES = "sync_core.store.tables"
TABLE_ENTRY_POINTS = "salla_sync.tables"


def table_modules() -> list[str]:
    from importlib.metadata import entry_points

    return [CORE_TABLES, *sorted(ep.value for ep in entry_points(group=TABLE_ENTRY_POINTS))]


class SchemaError(RuntimeError):
    """The database's schema is not one this version can use as it is."""


class SchemaBehind(SchemaError):
    def __init__(self, current: str | None, head: str) -> None:
        self.current, self.head = current, head
        super().__init__(f'the database schema is at {current or "base"}, this version needs {head}: '
                         'run "salla-sync db upgrade"')


class SchemaMissing(SchemaError):
    def __init__(self, head: str) -> None:
        self.head = head
        super().__init__(f'the database has no tables, this version needs schema {head}: run "salla-sync db upgrade"')


class SchemaUnknown(SchemaError):
    """Tables we cannot place in our history, or a revision newer than this version knows."""


# --- Alembic configuration -------------------------------------------------------------------

def target_metadata() -> MetaData:
    from sqlmodel import SQLModel

    for module in table_modules():
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name is None or not module.startswith(exc.name):
                raise
    return SQLModel.metadata


def alembic_config(connection: Connection | None = None, *, url: str | None = None):
    """An Alembic ``Config`` for our migrations; ``connection`` is used by env.py when given."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION).replace("%", "%%"))
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@lru_cache(maxsize=1)
def _script():
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    head = _script().get_current_head()
    assert head is not None, "no migrations found"
    return head


def revisions() -> list[str]:
    """Every revision, oldest first."""
    return [script.revision for script in reversed(list(_script().walk_revisions()))]


def _version(conn: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


def current_revision(engine: Engine) -> str | None:
    """The database's revision; None for an empty database or one without ``alembic_version``."""
    with engine.connect() as conn:
        return _version(conn)


def _run_upgrade(conn: Connection, target: str) -> None:
    from alembic.runtime.environment import EnvironmentContext

    script = _script()
    if conn.in_transaction():
        conn.commit()
    if conn.dialect.name == "sqlite":
        # pysqlite runs DDL outside transactions; open one ourselves so the upgrade is atomic (and
        # costs one sync to disk, not one per statement). Alembic sees an outer transaction and
        # leaves it to us. PostgreSQL: Alembic runs the whole upgrade in one transaction itself.
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    def steps(rev, _context):
        return script._upgrade_revs(target, rev)

    try:
        with EnvironmentContext(alembic_config(conn), script, fn=steps, destination_rev=target):
            script.run_env()
    except BaseException:
        conn.rollback()
        raise
    if conn.in_transaction():
        conn.commit()


def _stamp(conn: Connection, revision: str) -> None:
    from alembic.runtime.migration import MigrationContext

    MigrationContext.configure(conn).stamp(_script(), revision)
    if conn.in_transaction():
        conn.commit()


@contextmanager
def _locked(engine: Engine) -> Iterator[Connection]:
    with DatabaseLock(engine, MIGRATION_LOCK, timeout=MIGRATION_LOCK_TIMEOUT), engine.connect() as conn:
        yield conn


# --- what the application calls ----------------------------------------------------------------

def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Apply the migrations up to ``revision``; returns (before, after).

    A database from before migrations is stamped first (as ``ensure_schema`` would)."""
    with _locked(engine) as conn:
        before = _version(conn)
        if before is None:
            before = _adopt_legacy(conn)
        _run_upgrade(conn, revision)
        after = _version(conn)
        if after != before:
            log.info("database schema upgraded: %s -> %s", before or "empty", after)
        return before, after


def _fast_version(engine: Engine) -> str | None:
    try:
        with engine.connect() as conn:
            return conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
    except DBAPIError:
        return None  # no version table (or no database): the careful path decides


def ensure_schema(engine: Engine, *, allow_create: bool) -> None:
    """Make sure the database is at head, creating the schema only on an empty database."""
    head = head_revision()
    if _fast_version(engine) == head:
        return
    with _locked(engine) as conn:
        current = _version(conn)
        if current is None:
            tables = set(inspect(conn).get_table_names())
            has_version_table = VERSION_TABLE in tables
            tables.discard(VERSION_TABLE)
            if not tables:
                if not allow_create:
                    raise SchemaMissing(head)
                _run_upgrade(conn, "head")
                log.info("created the database schema (%s)", head)
                return
            if has_version_table:  # managed by Alembic, but stamped down to nothing
                raise SchemaBehind(None, head)
            current = _adopt_legacy(conn)
        if current == head:
            return
        if current not in revisions():
            raise SchemaUnknown(f"the database schema is at {current}, which this version does not know "
                                f"(its newest is {head}): is a newer salla-sync using this database?")
        raise SchemaBehind(current, head)


# --- databases created before migrations existed ------------------------------------------------

def _columns(conn: Connection, tables: set[str]) -> dict[str, frozenset[str]]:
    inspector = inspect(conn)
    return {name: frozenset(column["name"] for column in inspector.get_columns(name)) for name in tables}


@cache
def _tables_at(revision: str) -> dict[str, frozenset[str]]:
    """The tables and columns a database has at ``revision`` (built in a scratch SQLite database)."""
    from sqlalchemy import create_engine

    scratch = create_engine("sqlite://")
    try:
        with scratch.connect() as conn:
            _run_upgrade(conn, revision)
            names = set(inspect(conn).get_table_names()) - {VERSION_TABLE}
            return _columns(conn, names)
    finally:
        scratch.dispose()


def _adopt_legacy(conn: Connection) -> str | None:
    """Stamp a database made by ``create_all`` with the revision it matches; None if it is empty."""
    names = set(inspect(conn).get_table_names()) - {VERSION_TABLE}
    if not names:
        return None
    found = _columns(conn, names)
    for revision in reversed(revisions()):
        if _tables_at(revision) == found:
            _stamp(conn, revision)
            log.warning("the database had no schema version; its tables match revision %s, stamped it", revision)
            return revision
    raise SchemaUnknown(f"the database has tables ({', '.join(sorted(names))}) but no {VERSION_TABLE}, and they "
                        "match no schema revision of this version: fix it by hand, then stamp it")
