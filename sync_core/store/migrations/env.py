"""Alembic environment of salla-sync, run from the installed package (no alembic.ini needed).

``sync_core.store.schema`` builds the Config and hands over an open connection in
``config.attributes["connection"]``; without one (plain ``alembic`` use), the URL comes from the
config's ``sqlalchemy.url`` or else ``DATABASE_URL``.
"""

from __future__ import annotations

import os

from alembic import context
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

from sync_core.store.schema import target_metadata

config = context.config


def render_item(type_, obj, autogen_context):
    """Write SQLModel's column types as plain SQLAlchemy ones, so revisions never import sqlmodel."""
    if type_ == "type" and isinstance(obj, AutoString):
        return f"sa.String(length={obj.length})" if obj.length else "sa.String()"
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _configure(**kwargs) -> None:
    context.configure(target_metadata=target_metadata(), render_as_batch=True, render_item=render_item,
                      compare_type=True, **kwargs)


def run_offline() -> None:
    _configure(url=config.get_main_option("sqlalchemy.url") or os.environ.get("DATABASE_URL"),
               literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    from sync_core.store.database import make_engine

    url = config.get_main_option("sqlalchemy.url") or os.environ.get("DATABASE_URL", "sqlite:///salla_sync.db")
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            _configure(connection=connection)
            with context.begin_transaction():
                context.run_migrations()
            connection.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
