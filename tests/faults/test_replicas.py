"""Two bot processes (HTTP mode) on one database share the work safely."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from faults_harness import add_orders, wait_for

from sandbox import SallaStore


def start_replicas(cluster, count: int = 2):
    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(cluster.bot, [f"replica-{chr(ord('a') + i)}" for i in range(count)]))


def submit_at_once(cluster, submissions) -> list[int]:
    """[(bot, numbers, channel, user)]: modals opened one by one, then all submitted at the same moment."""
    views = [cluster.open_modal(bot, user=user, channel=channel) for bot, _, channel, user in submissions]
    barrier = threading.Barrier(len(submissions))

    def submit(args):
        (bot, numbers, _, user), view = args
        barrier.wait()
        cluster.submit_view(bot, view, numbers, user=user)

    with ThreadPoolExecutor(len(submissions)) as pool:
        list(pool.map(submit, zip(submissions, views)))
    return [cluster.run_in(channel) for _, _, channel, _ in submissions]


@pytest.mark.parametrize("dialect", ["none", "plain"])
def test_the_same_orders_submitted_to_both_replicas_at_once_while_enerpize_loses_answers(make_cluster, dialect):
    """Both replicas race for every invoice; meanwhile Enerpize stores some creates and loses their
    answers (connections dropped, then answers held past the client's timeout). The tenant's lists
    filter nothing, or only in Daftra's documented spelling."""
    store = SallaStore()
    workload = add_orders(store, 30, first_reference=30_000)
    cluster = make_cluster(store, dialect=dialect)
    a, b = start_replicas(cluster)
    cluster.enerpize.lose_next_create(count=4, mode="drop")
    cluster.enerpize.lose_next_create(count=2, mode="hang")

    run_a, run_b = submit_at_once(cluster, [(a, workload.numbers, "C0REPA", "U0ALICE"),
                                            (b, workload.numbers, "C0REPB", "U0BOB")])
    cluster.wait_reported(run_a, run_b)

    assert cluster.enerpize.faults.pending == []  # every lost answer happened
    for run_id in (run_a, run_b):  # one document per invoice, both threads complete
        check = cluster.check_run(run_id, workload)
        assert check.created_documents == check.expected_documents
    documents = {(r.salla_invoice_id, r.enerpize_id) for run_id in (run_a, run_b)
                 for r in cluster.db.run_records(run_id) if r.salla_invoice_id is not None}
    assert len(documents) == len(workload.po_numbers)  # both runs name the same document for each invoice
    assert sum(cluster.documents().values()) == len(workload.po_numbers)


@pytest.mark.parametrize("dialect", ["none", "plain"])
def test_a_replica_dies_holding_a_run_and_the_other_completes_it(make_cluster, dialect):
    store = SallaStore()
    workload = add_orders(store, 30, first_reference=31_000)
    cluster = make_cluster(store, dialect=dialect)
    a, b = start_replicas(cluster)

    run_id = cluster.submit(a, workload.numbers, channel="C0DIES")
    wait_for(lambda: cluster.results_stored(run_id) >= 8, interval=0.01, what="8 results")
    a.kill()  # b is not restarted, nor is a: b's periodic look for orphaned runs finds it
    stored_at_kill = cluster.results_stored(run_id)
    assert stored_at_kill < len(workload.numbers)

    cluster.wait_reported(run_id)
    assert a.proc.poll() is not None and b.proc.poll() is None
    check = cluster.check_run(run_id, workload)
    assert check.created_documents == check.expected_documents
    assert f"resuming run {run_id}" in (cluster.tmp_path / "replica-b.log").read_text()
