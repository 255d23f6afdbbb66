"""Salla's webhooks: each delivery authenticated, stored once, then synced through the run engine.

A delivery is checked as Salla sends it (``X-Salla-Security-Strategy``: ``Signature``, an HMAC-SHA256
of the raw body in ``X-Salla-Signature``; or ``Token``, the secret in ``Authorization``), read, and
stored in the inbox (``webhook_event``, unique per merchant, event and data id) before it is
answered. ``WebhookInbox.drain`` then turns the events not yet synced into one engine run (source
``webhook``) of their orders, by internal id, so replicas share the inbox and a killed process
loses nothing: a claim on events runs out like a lease. Each event keeps its delivery as received:
what it carried (the invoice with its items, or the order) spares Salla calls (``delivered.py``).

Salla sends ``order.status.updated`` (completed) and then, once the invoice is made,
``invoice.created`` for the same order. A status change waits ``status_grace`` for its invoice's
event, and one whose document kind an ``invoice.created`` of the order already brought is settled
by that event's run: no run, no Salla call, no "no invoice yet" alert for an invoice on its way.
A delivery Salla never makes is the daily audit's to find.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from hashlib import sha256

from sqlalchemy import or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from sync_core.engine import RunEngine, Work
from sync_core.input_rules import MAX_NUMBERS
from sync_core.salla.client import SallaClient
from sync_core.salla.models import DocumentKind, classify_invoice_type
from sync_core.salla.tokens import TokenManager
from sync_core.store import Store
from sync_core.store.database import update_rows
from sync_core.store.tables import RunSource, WebhookEvent, as_utc, utcnow

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
SYNCING_STATUSES = {"completed", "restored"}  # order.status.updated slugs that make invoices
INVOICE_CREATED, STATUS_UPDATED = "invoice.created", "order.status.updated"
SUBSCRIBED_EVENTS = (INVOICE_CREATED, STATUS_UPDATED)  # what `salla-sync webhooks subscribe` registers
STATUS_KINDS = {"completed": DocumentKind.INVOICE, "restored": DocumentKind.RETURN}  # what the status change makes
STATUS_GRACE = timedelta(minutes=2)  # how long a status change waits for its invoice.created
CLAIM_WINDOW = MAX_NUMBERS * 4  # pending events of each kind read at a time


async def subscribe(salla: SallaClient, url: str, secret: str) -> list[str]:
    """Register ``SUBSCRIBED_EVENTS`` for ``url``, signed with ``secret``, unless already registered
    (``salla-sync webhooks subscribe``); a line for each event."""
    registered = {(h.get("event"), h.get("url")) for h in await salla.webhooks()}
    said = []
    for event in SUBSCRIBED_EVENTS:
        if (event, url) in registered:
            said.append(f"{event}: already registered for {url}")
            continue
        hook = await salla.subscribe_webhook(event, url, name=f"salla-sync {event}", secret=secret)
        said.append(f"{event}: registered for {url} (id {hook['id']}, signed)")
    return said


class WebhookRefused(Exception):
    """A delivery that is not stored: the HTTP status and why."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def authentic(headers: Mapping[str, str], raw: bytes, secret: str) -> bool:
    """Whether the delivery carries the secret as its strategy says (constant-time comparisons)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    strategy = lowered.get("x-salla-security-strategy", "").strip().lower()
    if strategy == "signature":
        expected = hmac.new(secret.encode(), raw, sha256).hexdigest()
        return hmac.compare_digest(lowered.get("x-salla-signature", "").strip().lower().encode(), expected.encode())
    if strategy == "token":
        given = lowered.get("authorization", "").strip()
        if given.lower().startswith("bearer "):
            given = given[7:].strip()
        return hmac.compare_digest(given.encode(), secret.encode())
    return False


@dataclass(frozen=True)
class Delivery:
    merchant: str
    event: str
    data_id: str
    order_id: int | None  # the order to sync; None: nothing to sync (another event, another status)
    tokens: tuple[str, str, datetime | None] | None = None  # app.store.authorize: access, refresh, expiry
    kind: DocumentKind | None = None  # the document the event is about (see WebhookEvent.kind)
    payload: str | None = None  # the delivery as received, kept with an event to sync (WebhookEvent.payload)

    @property
    def key(self) -> tuple[str, str, str]:
        """What makes it one event: webhook_event's unique key."""
        return self.merchant, self.event, self.data_id


def read_delivery(raw: bytes) -> Delivery:
    """The envelope's parts the sync needs; ``WebhookRefused(400)`` when it is not one."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise WebhookRefused(400, "the body is not JSON") from None
    if not isinstance(body, dict) or not isinstance(body.get("event"), str) or not isinstance(body.get("data"), dict):
        raise WebhookRefused(400, "not a Salla webhook envelope (event, merchant, data)")
    data = body["data"]
    event = body["event"]
    order_id = kind = None
    if event == INVOICE_CREATED:
        order_id = _int(data.get("order_id"))
        raw_type = data.get("type")
        kind = classify_invoice_type(raw_type if isinstance(raw_type, str) else None)
    elif event == STATUS_UPDATED:
        order = data.get("order") if isinstance(data.get("order"), dict) else {}
        status = order.get("status") if isinstance(order.get("status"), dict) else {}
        slug = str(status.get("slug") or "").lower()
        if slug in SYNCING_STATUSES:
            order_id = _int(order.get("id"))
            kind = STATUS_KINDS[slug]
    tokens = None
    if event == "app.store.authorize":
        access, refresh = data.get("access_token"), data.get("refresh_token")
        if not isinstance(access, str) or not isinstance(refresh, str) or not access or not refresh:
            raise WebhookRefused(400, "app.store.authorize without both tokens")
        expires = _int(data.get("expires"))
        tokens = (access, refresh, datetime.fromtimestamp(expires, timezone.utc) if expires else None)
    return Delivery(merchant=str(body.get("merchant") or ""), event=event, data_id=str(data.get("id") or ""),
                    order_id=order_id, tokens=tokens, kind=kind,
                    payload=raw.decode("utf-8", errors="replace") if order_id is not None else None)


def _int(value: object) -> int | None:
    try:
        number = int(str(value))
    except ValueError:
        return None
    return number if number > 0 else None


class WebhookInbox:
    """The stored events, and turning them into engine runs."""

    def __init__(self, store: Store, engine: RunEngine, *, store_id: str | None = None,
                 tokens: TokenManager | None = None, status_grace: timedelta = STATUS_GRACE) -> None:
        self.store = store
        self.engine = engine
        self.store_id = store_id
        self.tokens = tokens  # where app.store.authorize's tokens go
        self.status_grace = status_grace
        self.wake = asyncio.Event()
        self._waiting: list[tuple[Delivery, asyncio.Future[bool]]] = []
        self._writer: asyncio.Task | None = None

    async def receive(self, delivery: Delivery) -> bool:
        """Store the delivery once, before it is answered; False when it is not stored: a duplicate,
        another store's event, or nothing to sync. Deliveries arriving together are stored in one
        transaction (a group commit). The tokens of ``app.store.authorize`` are stored at once."""
        if self.store_id and delivery.merchant != self.store_id:
            log.info("ignored a %s event of store %s (this deployment serves %s)", delivery.event, delivery.merchant,
                     self.store_id)
            return False
        if delivery.tokens is not None and self.tokens is not None:  # the store (re)authorised the app
            await self.tokens.authorized(*delivery.tokens)
            return True
        if delivery.order_id is None:
            return False
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        self._waiting.append((delivery, future))
        if self._writer is None or self._writer.done():
            self._writer = loop.create_task(self._write(), name="salla-sync-webhook-intake")
        stored = await future
        if stored:
            self.wake.set()
        return stored

    async def _write(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                stored = await asyncio.to_thread(self._insert, [d for d, _ in batch])
            except Exception as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), was_stored in zip(batch, stored, strict=True):
                if not future.done():
                    future.set_result(was_stored)

    def _insert(self, deliveries: list[Delivery]) -> list[bool]:
        """Each delivery stored unless it already was (or repeats one before it in the batch).

        The rows go in in the order of their unique key, whatever order they arrived in: replicas
        storing the same deliveries at once (Salla retries to whichever answers) then wait for one
        another on the first shared key instead of each holding a key the other needs, which
        PostgreSQL ends as a deadlock (seen: a replica answering 500)."""
        order = sorted(range(len(deliveries)), key=lambda i: deliveries[i].key)  # stable: a repeat stays second
        stored = [False] * len(deliveries)
        with Session(self.store.intake_engine) as session:
            connection = session.connection()
            for i in order:
                delivery = deliveries[i]
                savepoint = connection.begin_nested()
                try:
                    connection.execute(WebhookEvent.__table__.insert(), {  # type: ignore[attr-defined]
                        "merchant": delivery.merchant, "event": delivery.event, "data_id": delivery.data_id,
                        "order_id": delivery.order_id, "received_at": utcnow(),
                        "kind": delivery.kind.value if delivery.kind else None, "payload": delivery.payload})
                    savepoint.commit()
                    stored[i] = True
                except IntegrityError:  # Salla delivered it before: stored once
                    savepoint.rollback()
            session.commit()
        return stored

    async def drain(self) -> list[int]:
        """Runs for the events not yet synced (one run of at most 100 orders at a time); their ids."""
        runs = []
        while True:
            claimed = await asyncio.to_thread(self._claim)
            if not claimed:
                return runs
            orders = list(dict.fromkeys(e.order_id for e in claimed if e.order_id is not None))
            run = await self.engine.submit(Work(RunSource.WEBHOOK, "salla", [str(o) for o in orders]))
            assert run.id is not None
            await asyncio.to_thread(self._mark, [e.id for e in claimed], run.id)
            self.engine.launch(run.id)
            runs.append(run.id)

    def _claim(self) -> list[WebhookEvent]:
        """The events to sync now (of at most 100 orders), claimed for a lease. A status change waits
        for its invoice.created (``status_grace``), goes with one that is pending, and is settled by
        the run of one that came before with the same document kind."""
        now = utcnow()
        owner = self.engine.owner
        unclaimed = (col(WebhookEvent.run_id).is_(None),
                     or_(col(WebhookEvent.claimed_until).is_(None), col(WebhookEvent.claimed_until) < now))
        with Session(self.store.engine, expire_on_commit=False) as session:
            # Invoice events and status changes read apart: a burst of status changes still waiting
            # for their invoices must not hide those invoices' events behind them.
            kinds = (col(WebhookEvent.event) == INVOICE_CREATED, col(WebhookEvent.event) != INVOICE_CREATED)
            pending = sorted((event for kind in kinds for event in session.exec(
                select(WebhookEvent).where(*unclaimed, kind).order_by(col(WebhookEvent.id)).limit(CLAIM_WINDOW))),
                key=lambda e: e.id or 0)
            with_invoice = {e.order_id for e in pending if e.event == INVOICE_CREATED}
            statuses = [e for e in pending if e.event != INVOICE_CREATED and e.order_id not in with_invoice]
            waiting = {e.id for e in statuses}
            settled = self._settling_runs(session, statuses)
            taken = []
            for event in pending:
                if event.id in settled:
                    session.exec(update_rows(WebhookEvent).where(col(WebhookEvent.id) == event.id, *unclaimed)
                                 .values(run_id=settled[event.id]))
                    continue
                if event.id in waiting and as_utc(event.received_at) > now - self.status_grace:
                    continue  # its invoice.created is likely on its way
                won = session.exec(update_rows(WebhookEvent).where(col(WebhookEvent.id) == event.id, *unclaimed)
                                   .values(claimed_by=owner, claimed_until=now + self.engine.lease)).rowcount
                if won == 1:
                    taken.append(event)
                    if len({e.order_id for e in taken}) >= MAX_NUMBERS:
                        break
            session.commit()
            return taken

    @staticmethod
    def _settling_runs(session: Session, statuses: list[WebhookEvent]) -> dict[int, int]:
        """For each status change an earlier invoice.created of its order and kind brought: that
        event's run (by the status change's id)."""
        orders = {e.order_id for e in statuses if e.kind is not None}
        if not orders:
            return {}
        runs = {(order_id, kind): run_id for order_id, kind, run_id in session.exec(
            select(WebhookEvent.order_id, WebhookEvent.kind, WebhookEvent.run_id)
            .where(col(WebhookEvent.event) == INVOICE_CREATED, col(WebhookEvent.order_id).in_(orders),
                   col(WebhookEvent.run_id).is_not(None)))}
        return {e.id: runs[(e.order_id, e.kind)] for e in statuses
                if e.id is not None and (e.order_id, e.kind) in runs}

    def _mark(self, event_ids: list[int | None], run_id: int) -> None:
        with Session(self.store.engine) as session:
            session.exec(update_rows(WebhookEvent).where(col(WebhookEvent.id).in_(event_ids))
                         .values(run_id=run_id, claimed_by=None, claimed_until=None))
            session.commit()

    async def keep_draining(self, every: timedelta = timedelta(seconds=5)) -> None:
        """For the life of the process: drain when an event arrives, and now and then (a claim left
        by a process that died runs out)."""
        while True:
            try:
                await self.drain()
            except Exception as exc:  # the database away for a moment: the next round tries again
                log.warning("could not drain the webhook inbox (%s)", type(exc).__name__)
            try:
                await asyncio.wait_for(self.wake.wait(), timeout=every.total_seconds())
            except TimeoutError:
                pass
            self.wake.clear()
