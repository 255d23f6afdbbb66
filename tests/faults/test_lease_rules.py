"""The rules the fault tests rely on, checked directly on the database (both backends): which runs
a process may take over, the compare-and-set on a run's one lease, the lease settings."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sync_core.settings import ConfigError, load_settings
from sync_core.store import Store
from sync_core.store.runs import NewRun
from sync_core.store.tables import utcnow

LEASE = timedelta(seconds=30)


@pytest.fixture
def store(database_url):
    store = Store(database_url)
    yield store
    store.close()


def submitted(store: Store, owner: str = "replica-a", lease: timedelta = LEASE) -> int:
    """A run stored as the engine stores it: leased to the process that stored it, from that moment."""
    return store.create_runs([NewRun(["1001"], "U1", "slack")], owner=owner, lease=lease)[0].id


def expire(store: Store, run_id: int) -> None:
    """As if the run's owner stopped renewing a lease ago (it died, or stalled)."""
    with store.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE sync_run SET lease_until = %s WHERE id = %s" if conn.dialect.name == "postgresql"
                             else "UPDATE sync_run SET lease_until = ? WHERE id = ?",
                             (utcnow() - timedelta(seconds=1), run_id))


def test_a_just_submitted_run_is_not_taken_over(store):
    run_id = submitted(store)
    assert store.orphaned_runs() == []
    assert not store.acquire_run(run_id, "replica-b", LEASE)


def test_a_run_whose_owner_is_gone_is_taken_over_once(store):
    run_id = submitted(store)
    expire(store, run_id)
    assert [r.id for r in store.orphaned_runs()] == [run_id]
    assert store.acquire_run(run_id, "replica-b", LEASE)
    assert not store.acquire_run(run_id, "replica-c", LEASE)  # taken once
    assert store.orphaned_runs() == []


def test_a_finished_run_not_yet_reported_is_taken_over_and_a_reported_one_never(store):
    run_id = submitted(store)
    assert store.finish_run(run_id, "replica-a", []) is not None
    expire(store, run_id)
    assert [r.id for r in store.orphaned_runs()] == [run_id]  # its results were never posted
    assert store.acquire_run(run_id, "replica-b", LEASE)
    assert store.mark_reported(run_id, "replica-b")
    expire(store, run_id)
    assert store.orphaned_runs() == []
    assert not store.acquire_run(run_id, "replica-c", LEASE)
    assert store.renew_run(run_id, "replica-b", LEASE) is None  # a reported run's lease is never revived


def test_the_lease_is_a_compare_and_set_on_its_owner(store):
    run_id = submitted(store)
    assert store.renew_run(run_id, "replica-a", LEASE) is not None  # the holder keeps renewing
    expire(store, run_id)  # it stalled past its lease
    assert store.acquire_run(run_id, "replica-b", LEASE)
    assert store.renew_run(run_id, "replica-a", LEASE) is None  # the stalled holder learns it lost the run
    assert not store.advance_report(run_id, "replica-a", 1, LEASE)  # and can record nothing more
    assert store.renew_run(run_id, "replica-b", LEASE) is not None  # the new holder renews


def test_lease_settings():
    settings = load_settings(_env_file=None)
    assert (settings.salla_sync_lease_seconds, settings.salla_sync_claim_lease_seconds) == (30, 120)
    fast = load_settings(_env_file=None, salla_sync_lease_seconds=2, salla_sync_claim_lease_seconds=3,
                         salla_sync_http_timeout=1)
    assert (fast.salla_sync_lease_seconds, fast.salla_sync_claim_lease_seconds) == (2, 3)
    with pytest.raises(ConfigError, match="SALLA_SYNC_CLAIM_LEASE_SECONDS .*3 times SALLA_SYNC_HTTP_TIMEOUT"):
        load_settings(_env_file=None, salla_sync_claim_lease_seconds=30)  # the HTTP timeout is 20 s
    with pytest.raises(ConfigError, match="SALLA_SYNC_LEASE_SECONDS"):
        load_settings(_env_file=None, salla_sync_lease_seconds=0.1)
    with pytest.raises(ConfigError, match="SALLA_SYNC_LEASE_SECONDS"):
        load_settings(_env_file=None, salla_sync_lease_seconds="soon")


def test_daily_audit_time_setting():
    assert load_settings(_env_file=None).salla_sync_audit_at == "07:00"
    assert load_settings(_env_file=None, salla_sync_audit_at="6:30").salla_sync_audit_at == "06:30"
    for bad in ("7am", "25:00", "07:60"):
        with pytest.raises(ConfigError, match="SALLA_SYNC_AUDIT_AT .*HH:MM"):
            load_settings(_env_file=None, salla_sync_audit_at=bad)
