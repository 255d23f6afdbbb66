"""The rules the fault tests rely on, checked directly on the database (both backends): which
Slack threads a replica may take over, the compare-and-set on a thread's lease, the lease settings."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.threads import SlackThread, ThreadStore
from sync_core.settings import ConfigError, load_settings
from sync_core.store import Store
from sync_core.store.tables import utcnow


@pytest.fixture
def db(database_url):
    store = Store(database_url)
    yield store, ThreadStore(store.engine)
    store.close()


def submitted(store: Store, threads: ThreadStore, lease_seconds: float) -> int:
    """A run stored with its thread, as ``RunWorker.submit`` does, its thread leased for ``lease_seconds``."""
    run = store.create_run(["1001"], "U1", "slack")
    threads.add(SlackThread(run_id=run.id, root_run_id=run.id, user_id="U1", origin="command",
                            requested_channel="C1", lease_until=utcnow() + timedelta(seconds=lease_seconds)))
    return run.id


def test_a_just_submitted_run_is_not_taken_over(db):
    store, threads = db
    run_id = submitted(store, threads, 30)  # its replica is about to launch it
    assert threads.take_over_stale(30) == []
    assert store.acquire_run(run_id, "replica-a", timedelta(seconds=30))


def test_a_run_a_live_process_executes_is_not_taken_over_even_when_its_thread_lease_ran_out(db):
    store, threads = db
    run_id = submitted(store, threads, -1)
    assert store.acquire_run(run_id, "replica-a", timedelta(seconds=30))  # live: executing, lease renewed
    assert threads.take_over_stale(30) == []
    store.release_run(run_id, "replica-a")  # its owner's lease is gone (as if it died)
    [(taken, _)] = threads.take_over_stale(30)
    assert taken == run_id
    assert threads.take_over_stale(30) == []  # taken once


def test_a_finished_run_not_yet_reported_is_taken_over_and_a_reported_one_never(db):
    store, threads = db
    run_id = submitted(store, threads, -1)
    store.finish_run(run_id, [])
    assert [r for r, _ in threads.take_over_stale(30)] == [run_id]
    threads.reported(run_id)
    assert threads.take_over_stale(30) == []
    assert threads.renew_lease(run_id, 30) is None  # a reported thread's lease is never revived


def test_runs_driven_here_are_excluded(db):
    store, threads = db
    run_id = submitted(store, threads, -1)
    assert threads.take_over_stale(30, exclude={run_id}) == []
    assert [r for r, _ in threads.take_over_stale(30)] == [run_id]


def test_the_thread_lease_is_a_compare_and_set(db):
    store, threads = db
    run_id = submitted(store, threads, 30)
    held = threads.get(run_id).lease_until
    renewed = threads.renew_lease(run_id, 30, held)
    assert renewed is not None
    assert threads.renew_lease(run_id, 30, renewed) is not None  # the holder keeps renewing
    threads.set(run_id, lease_until=utcnow() - timedelta(seconds=1))  # it stalled past its lease
    [(_, theirs)] = threads.take_over_stale(30)
    assert threads.renew_lease(run_id, 30, renewed) is None  # the stalled holder learns it lost the thread
    assert threads.renew_lease(run_id, 30, theirs) is not None  # the new holder renews
    assert threads.renew_lease(run_id, 30, None) is not None  # unconditional (no holder value): still renews


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
