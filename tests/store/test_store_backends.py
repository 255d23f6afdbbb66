"""The store's operations behave the same on SQLite and PostgreSQL (run the suite on both)."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.pool import NullPool

from sync_core.results import DocumentResult, OrderResult, SyncStatus
from sync_core.salla.models import DocumentKind
from sync_core.store import AlreadySynced, Claim, ClaimBusy, Store
from sync_core.store.runs import NewRun
from sync_core.store.tables import LedgerState

BIG = 3_000_000_000  # a Salla id past 2^31: PostgreSQL's INTEGER would refuse it


@pytest.fixture
def store(database_url):
    store = Store(database_url)
    yield store
    store.close()


MINUTE = timedelta(minutes=1)


def new_run(store: Store, numbers: list[str], *, owner: str | None = "proc", source: str = "cli",
            retry_of: int | None = None, requested_by: str = "U1"):
    """A run stored as the engine stores it: leased to ``owner`` from the start (None: to nobody)."""
    return store.create_runs([NewRun(numbers, requested_by, source, retry_of)], owner=owner,
                             lease=MINUTE if owner else None)[0]


def synced_count(store: Store) -> int:
    with store.engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM ledger WHERE state = :s"),
                            {"s": LedgerState.SYNCED.value}).scalar()


def claim(store: Store, invoice: int = 560001, order: int = 418149270, lease: timedelta | None = None, run=None):
    return store.claim(invoice, salla_order_id=order, kind="invoice", po_number=f"SALLA-{invoice}", run_id=run,
                       lease=lease)


def test_claim_complete_and_already_synced(store):
    first = claim(store)
    assert isinstance(first, Claim) and not first.taken_over
    assert isinstance(claim(store), ClaimBusy)
    assert store.extend_claim(first)
    store.complete_claim(first, enerpize_id="77", enerpize_number="INV-0077", amount="310.50", currency="SAR")
    again = claim(store)
    assert again == AlreadySynced(560001, "77", "INV-0077", "310.50", "SAR")
    assert store.synced(560001) == again
    assert synced_count(store) == 1
    assert store.synced_invoice_of_order(418149270) == "77"
    assert not store.extend_claim(first)  # the claim is spent


def test_release_frees_the_invoice(store):
    first = claim(store)
    store.release_claim(first)
    second = claim(store)
    assert isinstance(second, Claim) and not second.taken_over and second.token != first.token
    assert store.synced(560001) is None and synced_count(store) == 0


def test_a_claim_whose_lease_ran_out_is_taken_over_once(store):
    stale = claim(store, lease=timedelta(seconds=-1))
    taken = claim(store)
    assert isinstance(taken, Claim) and taken.taken_over
    assert not store.extend_claim(stale)  # the old holder lost it
    busy = claim(store)
    assert isinstance(busy, ClaimBusy) and busy.lease_until is not None
    assert busy.lease_until.tzinfo is not None and busy.lease_until > datetime.now(timezone.utc)


def test_abandon_ends_the_lease_so_the_next_attempt_takes_over(store):
    first = claim(store)
    store.abandon_claim(first)
    second = claim(store)
    assert isinstance(second, Claim) and second.taken_over


def test_concurrent_claims_from_separate_stores_give_one_claim(database_url):
    stores = [Store(database_url) for _ in range(6)]
    barrier = threading.Barrier(len(stores))
    outcomes = []

    def go(s):
        barrier.wait()
        outcomes.append(claim(s))

    threads = [threading.Thread(target=go, args=(s,)) for s in stores]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    finally:
        for s in stores:
            s.close()
    assert len(outcomes) == len(stores)
    assert sum(isinstance(o, Claim) for o in outcomes) == 1
    assert all(isinstance(o, (Claim, ClaimBusy)) for o in outcomes)


def test_salla_ids_past_two_to_the_31(store):
    first = claim(store, invoice=BIG, order=BIG + 1)
    store.complete_claim(first, enerpize_id="1", enerpize_number="INV-1", amount="1.00", currency="SAR")
    assert store.synced(BIG).salla_invoice_id == BIG
    assert store.synced_invoice_of_order(BIG + 1) == "1"
    run = new_run(store, [str(BIG)])
    store.add_result(run.id, owner="proc", lease=MINUTE, result=OrderResult(str(BIG), SyncStatus.SUCCESS, salla_order_id=BIG + 1, salla_reference=BIG + 2,
                                         documents=(DocumentResult(DocumentKind.INVOICE, SyncStatus.SUCCESS,
                                                                   salla_invoice_id=BIG, enerpize_id="1"),)))
    [record] = store.run_records(run.id)
    assert (record.salla_order_id, record.salla_reference, record.salla_invoice_id) == (BIG + 1, BIG + 2, BIG)


def test_runs_and_records(store):
    run = new_run(store, ["1001", "1002", "1003"])
    assert run.id is not None and run.state == "pending" and run.total == 3
    assert run.created_at.tzinfo is not None
    assert store.start_run(run.id, "proc", MINUTE) and store.get_run(run.id).state == "running"
    results = [
        OrderResult("1001", SyncStatus.SUCCESS, salla_order_id=418149270, salla_reference=1001, documents=(
            DocumentResult(DocumentKind.INVOICE, SyncStatus.SUCCESS, salla_invoice_id=560001, enerpize_id="7",
                           enerpize_number="INV-7", total=Decimal("310.5"), currency="SAR"),
            DocumentResult(DocumentKind.RETURN, SyncStatus.SUCCESS, salla_invoice_id=560002, enerpize_id="8",
                           enerpize_number="RR-8", total=Decimal("10"), currency="SAR", already_synced=True))),
        OrderResult("1002", SyncStatus.NOT_FOUND),
        OrderResult("1003", SyncStatus.FAILED, reason="Enerpize rejected the invoice: no"),
    ]
    assert not store.add_result(run.id, results[0], owner="another", lease=MINUTE)  # not its run: nothing written
    for result in results:
        assert store.add_result(run.id, result, owner="proc", lease=MINUTE)
    assert store.finish_run(run.id, "another", results) is None
    finished = store.finish_run(run.id, "proc", results)
    assert (finished.state, finished.succeeded, finished.failed, finished.not_found) == ("finished", 1, 1, 1)
    assert finished.finished_at.tzinfo is not None and finished.reported_at is None  # still to report

    records = store.run_records(run.id)
    assert [(r.number, r.status, r.kind) for r in records] == [
        ("1001", "Success", "invoice"), ("1001", "Success", "return"),
        ("1002", "Record not found", None), ("1003", "Failed", None)]
    assert records[0].amount == "310.50" and records[1].amount == "10.00"
    assert store.run_results(run.id) == results  # the results read back as they were, "already synced" too
    assert [r.number for r in store.log(status="Failed")] == ["1003"]
    assert [r.number for r in store.log(limit=2)] == ["1003", "1002"]

    other = new_run(store, ["1003"], source="slack", retry_of=run.id, requested_by="U2")
    assert [r.id for r in store.recent_runs()] == [other.id, run.id]
    assert store.get_run(other.id).retry_of == run.id
    assert store.get_run(12345) is None


def test_one_lease_per_run_until_it_is_reported(store):
    mine = new_run(store, ["1001"])  # leased to its process from the moment it is stored
    nobodys = new_run(store, ["1002"], owner=None)
    assert [r.id for r in store.orphaned_runs()] == [nobodys.id]
    assert not store.acquire_run(mine.id, "proc-b", MINUTE)
    assert store.acquire_run(mine.id, "proc", MINUTE)  # its owner again: a renewal
    assert store.renew_run(mine.id, "proc", MINUTE).owner == "proc"
    assert store.renew_run(mine.id, "proc-b", MINUTE) is None

    assert store.acquire_run(nobodys.id, "proc-b", timedelta(seconds=-1))  # taken, with a spent lease...
    assert [r.id for r in store.orphaned_runs()] == [nobodys.id]
    assert [r.id for r in store.orphaned_runs(sources=["slack"])] == []
    assert store.acquire_run(nobodys.id, "proc-c", MINUTE)  # ... so the next one takes it over
    assert store.renew_run(nobodys.id, "proc-b", MINUTE) is None  # the old owner learns it at its next renewal

    assert store.request_cancel(mine.id, by="U2") and store.request_cancel(mine.id, by="U3")
    assert store.get_run(mine.id).cancel_requested_by == "U2"  # the first to ask is named
    assert store.finish_run(mine.id, "proc", [], cancelled=True).state == "cancelled"
    assert not store.request_cancel(mine.id, by="U3")  # over: nothing left to cancel
    assert store.acquire_run(mine.id, "proc", MINUTE)  # finished, not reported: still its owner's
    assert not store.advance_report(mine.id, "proc-b", 1, MINUTE)
    assert store.advance_report(mine.id, "proc", 1, MINUTE) and store.get_run(mine.id).report_cursor == 1
    assert not store.mark_reported(mine.id, "proc-b")
    assert store.mark_reported(mine.id, "proc")
    reported = store.get_run(mine.id)
    assert reported.reported_at is not None and reported.owner is None and reported.lease_until is None
    assert not store.acquire_run(mine.id, "proc", MINUTE)  # reported: never taken again
    assert mine.id not in [r.id for r in store.orphaned_runs()]


def test_tokens_round_trip_with_their_zone(store):
    assert store.load_tokens(None, None) is None
    seeded = store.load_tokens("env-access", "env-refresh")
    assert (seeded.access_token, seeded.refresh_token, seeded.expires_at) == ("env-access", "env-refresh", None)
    expires = datetime(2026, 12, 1, 12, 0, tzinfo=timezone(timedelta(hours=3)))
    store.save_tokens("new-access", "new-refresh", expires)
    row = store.load_tokens("env-access", "env-refresh")  # the same env tokens: the stored ones win
    assert (row.access_token, row.refresh_token) == ("new-access", "new-refresh")
    assert row.expires_at == expires and row.expires_at.utcoffset() == timedelta(0)
    assert store.load_tokens("other-access", "other-refresh").access_token == "other-access"  # new env tokens win


def test_a_claim_released_between_the_failed_insert_and_the_read_is_taken_afresh(store, database_url):
    """The row was there (insert refused), then gone when read: the claim is tried again, without
    waiting for a second connection (a SQLite store has one: a nested session would wait in vain)."""
    held = claim(store)
    assert isinstance(held, Claim)
    other = create_engine(database_url, poolclass=NullPool)  # "another process", outside the store's pool

    refused = []

    def note_refusal(context) -> None:
        if context.statement.lstrip().upper().startswith("INSERT INTO LEDGER"):
            refused.append(True)

    def release_it(*_) -> None:  # once the refused insert's connection is back in the pool
        if refused and len(refused) == 1:
            refused.append(True)
            with other.begin() as conn:
                conn.execute(text("DELETE FROM ledger WHERE salla_invoice_id = 560001"))

    event.listen(store.engine, "handle_error", note_refusal)
    event.listen(store.engine.pool, "checkin", release_it)
    try:
        started = time.monotonic()
        again = claim(store)
        assert time.monotonic() - started < 10  # not the pool's 30 s timeout
    finally:
        event.remove(store.engine, "handle_error", note_refusal)
        event.remove(store.engine.pool, "checkin", release_it)
        other.dispose()
    assert len(refused) == 2  # the race happened
    assert isinstance(again, Claim) and not again.taken_over and again.token != held.token
