"""Enerpize ids the sync found or created, kept in the database (``enerpize_id_map``).

A client is looked up by its ``client_number``, a product by its SKU; on a tenant whose lists
filter nothing each look-up is a scan of the whole list. Remembering the id of every record found
or created, per tenant, means a warm tenant needs no client or product look-up at all, even
after a restart or in another process on the same database.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, delete, select

from sync_core.store.tables import EnerpizeIdMapping, utcnow


def tenant_of(api_url: str) -> str:
    """The tenant an api2 URL names, as the mapping is keyed (case and a trailing slash aside)."""
    return api_url.strip().rstrip("/").lower()


class EnerpizeIdMap:
    """``kind`` ("client", "product") + key -> Enerpize id, for one tenant. Synchronous and short:
    the Enerpize client calls it through ``asyncio.to_thread``."""

    def __init__(self, engine: Engine, api_url: str) -> None:
        self.engine = engine
        self.tenant = tenant_of(api_url)

    def load(self, kind: str) -> dict[str, str]:
        """Every mapping of ``kind`` for this tenant (read once per process)."""
        with Session(self.engine) as session:
            rows = session.exec(select(EnerpizeIdMapping.key, EnerpizeIdMapping.enerpize_id)
                                .where(EnerpizeIdMapping.tenant == self.tenant, EnerpizeIdMapping.kind == kind))
            return {key: enerpize_id for key, enerpize_id in rows}

    def get(self, kind: str, key: str) -> str | None:
        with Session(self.engine) as session:
            row = session.get(EnerpizeIdMapping, (self.tenant, kind, key))
            return row.enerpize_id if row is not None else None

    def put(self, kind: str, key: str, enerpize_id: str) -> None:
        """Remember (or correct) one mapping; replicas writing the same one at once both succeed."""
        values = dict(tenant=self.tenant, kind=kind, key=key, enerpize_id=enerpize_id, updated_at=utcnow())
        table = EnerpizeIdMapping.__table__  # type: ignore[attr-defined]
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(table).values(**values)
        statement = statement.on_conflict_do_update(
            index_elements=["tenant", "kind", "key"],
            set_={"enerpize_id": statement.excluded.enerpize_id, "updated_at": statement.excluded.updated_at})
        with Session(self.engine) as session:
            session.connection().execute(statement)
            session.commit()

    def forget(self, kind: str, keys: Iterable[str]) -> None:
        """Drop mappings Enerpize may no longer honour (it refused a document that used them)."""
        keys = list(keys)
        if not keys:
            return
        with Session(self.engine) as session:
            session.exec(delete(EnerpizeIdMapping)
                         .where(col(EnerpizeIdMapping.tenant) == self.tenant, col(EnerpizeIdMapping.kind) == kind,
                                col(EnerpizeIdMapping.key).in_(keys))
                         .execution_options(synchronize_session=False))
            session.commit()
