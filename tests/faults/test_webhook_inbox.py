"""Salla's webhooks against real bot processes: a bot killed with 50 events in its inbox loses none,
and two replicas draining one inbox sync each invoice once."""

from __future__ import annotations

import urllib.request
from concurrent.futures import ThreadPoolExecutor

from faults_harness import add_orders, wait_for
from sqlalchemy import text

from sandbox import SallaStore, salla_webhooks

SECRET = "salla-webhook-secret-0123"
STORE = "1305146709"
ENV = {"SALLA_WEBHOOK_SECRET": SECRET, "SALLA_STORE_ID": STORE}


def deliveries(store: SallaStore, workload) -> list[bytes]:
    """invoice.created for every invoice of the workload (a returned order has two events)."""
    bodies = []
    for number in workload.numbers:
        order = store.order_by_reference(int(number))
        for invoice in order.invoices if order is not None else []:
            bodies.append(salla_webhooks.raw(salla_webhooks.invoice_created(STORE, order, invoice)))
    return bodies


def deliver(bot, raw: bytes) -> int:
    request = urllib.request.Request(bot.url + "/salla/webhooks", data=raw, method="POST",
                                     headers=salla_webhooks.headers(raw, secret=SECRET))
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status


def unsynced(cluster) -> int:
    """Events not yet in a run that reported."""
    with cluster.db.engine.connect() as conn:
        return conn.execute(text(
            "SELECT count(*) FROM webhook_event e LEFT JOIN sync_run r ON r.id = e.run_id "
            "WHERE e.run_id IS NULL OR r.reported_at IS NULL")).scalar()


def check_once(cluster, workload) -> None:
    documents = cluster.documents()
    assert all(count == 1 for count in documents.values()), "a document created twice"
    assert set(documents) == workload.po_numbers  # every invoice of every event, once


def test_a_bot_killed_with_50_events_in_its_inbox_loses_none(make_cluster):
    store = SallaStore()
    workload = add_orders(store, 50, first_reference=60_000)
    cluster = make_cluster(store, **ENV)
    cluster.salla.latency = 0.05  # slow enough that the kill lands mid-way
    bot = cluster.bot("hooked-a")
    bodies = deliveries(store, workload)
    assert all(deliver(bot, raw) == 200 for raw in bodies)
    wait_for(lambda: len(cluster.documents()) >= 5, what="the first documents")
    bot.kill()
    assert len(cluster.documents()) < len(workload.po_numbers)
    cluster.bot("hooked-b")  # the restart
    wait_for(lambda: unsynced(cluster) == 0, what="every event synced and reported")
    check_once(cluster, workload)


def test_two_replicas_draining_one_inbox_sync_each_invoice_once(make_cluster):
    store = SallaStore()
    workload = add_orders(store, 50, first_reference=61_000)
    cluster = make_cluster(store, **ENV)
    with ThreadPoolExecutor(2) as pool:
        a, b = pool.map(cluster.bot, ["replica-a", "replica-b"])
    bodies = deliveries(store, workload)
    with ThreadPoolExecutor(8) as pool:  # every event delivered to both replicas, as Salla's retries do
        answers = list(pool.map(lambda pair: deliver(pair[0], pair[1]),
                                [(bot, raw) for raw in bodies for bot in (a, b)]))
    assert set(answers) == {200}
    wait_for(lambda: unsynced(cluster) == 0, what="every event synced and reported")
    check_once(cluster, workload)
    with cluster.db.engine.connect() as conn:
        stored = conn.execute(text("SELECT count(*) FROM webhook_event")).scalar()
    assert stored == len(bodies)  # each delivery stored once, whichever replica took it
