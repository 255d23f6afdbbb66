"""New runs arriving together are stored together (one commit), each with its rows; a bad one fails alone."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import event

from sync_core.intake import RunIntake
from sync_core.store import Store
from sync_core.store.runs import NewRun
from sync_core.store.tables import SyncRecord


@pytest.fixture
def store(database_url):
    store = Store(database_url)
    yield store
    store.close()


def _record(number: str):
    return lambda run_id: [SyncRecord(run_id=run_id, number=number, status="Success")]


async def test_a_burst_of_runs_is_stored_in_few_commits_each_with_its_rows(store):
    commits = []
    event.listen(store.intake_engine, "commit", lambda conn: commits.append(1))
    intake = RunIntake(store)
    runs = await asyncio.gather(*(intake.add(NewRun([str(1000 + i)], f"U{i}", "slack", None, _record(str(1000 + i))))
                                  for i in range(20)))
    assert len({run.id for run in runs}) == 20
    assert len(commits) < 20  # the ones that arrived while a commit was under way went together
    for i, run in enumerate(runs):
        stored = store.get_run(run.id)
        assert stored is not None and stored.requested_by == f"U{i}" and stored.number_list == [str(1000 + i)]
        assert stored.state == "pending" and stored.total == 1
        assert [(r.number, r.status) for r in store.run_records(run.id)] == [(str(1000 + i), "Success")]


async def test_one_bad_run_in_a_burst_fails_alone(store):
    intake = RunIntake(store)
    good = [NewRun(["1001"], "U1", "slack"), NewRun(["1002"], "U2", "slack")]
    bad = NewRun(["1003"], "U3", "slack", retry_of=987654321)  # no such run: the foreign key refuses it
    outcomes = await asyncio.gather(intake.add(good[0]), intake.add(bad), intake.add(good[1]), return_exceptions=True)
    assert isinstance(outcomes[1], Exception)
    stored = [store.get_run(run.id) for run in (outcomes[0], outcomes[2])]
    assert [run.requested_by for run in stored if run is not None] == ["U1", "U2"]
    assert [run.requested_by for run in store.recent_runs(10)] == ["U2", "U1"]  # nothing of U3's
