"""Which Enerpize record a client number or a SKU is: remembered by this process, then in the
database (``store/id_map.py``, per tenant), then looked up in Enerpize (through a filter that works,
else one scan of the list), else created there; whatever is found or created is stored."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Protocol

from sync_core.enerpize.api import EnerpizeApi, EnerpizeRejected
from sync_core.enerpize.lookups import CLIENTS, PRODUCTS, ListSpec, Lookups, NoFilter
from sync_core.http import OutcomeUnknown


class IdMapping(Protocol):
    """Where found and created ids are kept across restarts (``sync_core.store.id_map``)."""

    def load(self, kind: str) -> dict[str, str]: ...
    def get(self, kind: str, key: str) -> str | None: ...
    def put(self, kind: str, key: str, enerpize_id: str) -> None: ...
    def forget(self, kind: str, keys: Iterable[str]) -> None: ...


# What each list's records are called in the id mapping.
_MAPPED = {CLIENTS.label: "client", PRODUCTS.label: "product"}


class RecordIds:
    def __init__(self, api: EnerpizeApi, lookups: Lookups, id_map: IdMapping | None = None) -> None:
        self.api = api
        self.lookups = lookups
        self.id_map = id_map
        # Ids of clients and products this process used (from the mapping, a look-up or a create).
        self._ids: dict[str, dict[str, str]] = {CLIENTS.label: {}, PRODUCTS.label: {}}
        self._mapping_read: set[str] = set()  # lists whose stored mapping is in ``_ids``
        # Lists read whole by this process (no filter on the tenant): key -> id of every record.
        self._scans: dict[str, dict[str, str]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def _lock(self, key: str) -> asyncio.Lock:
        return self._locks.setdefault(key, asyncio.Lock())

    async def _find_id(self, spec: ListSpec, key: str, *, again: bool = False) -> str | None:
        """The id of the record whose key is ``key``: through a filter that works on this tenant,
        else from one scan of the whole list (remembered; ``again`` reads it anew)."""
        try:
            found = await self.lookups.find_exact(spec, key)
            return None if found is None else str(found["id"])
        except NoFilter:
            pass
        async with self._lock(f"scan:{spec.label}"):
            if again or spec.label not in self._scans:
                self._scans[spec.label] = await self.lookups.scan_keys(spec)
        return self._scans[spec.label].get(key)

    async def _stored_id(self, spec: ListSpec, key: str) -> str | None:
        """The id the database remembers for this key: the whole mapping is read once per process,
        a key missing from it is asked for once more (another process may have stored it since)."""
        if self.id_map is None:
            return None
        kind = _MAPPED[spec.label]
        async with self._lock(f"mapping:{spec.label}"):
            if spec.label not in self._mapping_read:
                stored = await asyncio.to_thread(self.id_map.load, kind)
                for stored_key, stored_id in stored.items():
                    self._ids[spec.label].setdefault(stored_key, stored_id)
                self._mapping_read.add(spec.label)
                if key in stored:
                    return stored[key]
        return await asyncio.to_thread(self.id_map.get, kind, key)

    async def find_or_create(self, spec: ListSpec, key: str, body: dict, what: str) -> str:
        """The record's id: remembered (this process, then the database), else found in Enerpize by
        its unique key, else created there. A create that loses a race with another process (400,
        the key is unique) or whose answer is lost is followed by a second look. Whatever is found
        or created is stored, so the next process needs no look-up."""
        known = self._ids[spec.label]
        if key in known:
            return known[key]
        async with self._lock(f"{spec.label}:{key}"):
            if key in known:
                return known[key]
            found = await self._stored_id(spec, key)
            if found is None:
                found = await self._find_id(spec, key)
                if found is None:
                    try:
                        found = await self.api.post(spec.path, body, what)
                    except (EnerpizeRejected, OutcomeUnknown):
                        found = await self._find_id(spec, key, again=True)
                        if found is None:
                            raise
                if self.id_map is not None:
                    await asyncio.to_thread(self.id_map.put, _MAPPED[spec.label], key, found)
            known[key] = found
        return known[key]

    async def forget(self, *, client_number: str | None = None, skus: Iterable[str] = ()) -> None:
        """Drop these ids here and in the stored mapping, and the scans read so far: the next
        attempt looks them up afresh."""
        self._scans.clear()
        forget = {CLIENTS.label: [client_number] if client_number else [], PRODUCTS.label: list(skus)}
        for label, keys in forget.items():
            for key in keys:
                self._ids[label].pop(key, None)
            if self.id_map is not None and keys:
                await asyncio.to_thread(self.id_map.forget, _MAPPED[label], keys)
