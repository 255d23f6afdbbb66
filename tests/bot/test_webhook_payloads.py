"""What Salla's deliveries carry spares its shared rate budget: the bodies are the documented ones
(``sandbox.salla_webhooks``), registered and signed through the simulator as Salla does it, and
each test counts the calls the automatic sync made to Salla."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from test_webhooks import SECRET, STORE, documents, drain

from bot.app import deps_of
from sandbox import line
from sandbox.salla_webhooks import invoice_created, order_status_updated
from sync_core import webhooks

ALERTS = "C0ALERTS"
HOOK_URL = "https://bot.example.sa/salla/webhooks"


@pytest.fixture
async def subscribed(make_bot):
    """A bot with the alerts channel, and the store's webhooks registered as `webhooks subscribe` does."""
    bot = await make_bot(salla_webhook_secret=SECRET, salla_store_id=STORE, salla_sync_alerts_channel=ALERTS)
    await webhooks.subscribe(deps_of(bot.app).service.salla, HOOK_URL, SECRET)
    return bot


def inbox(bot):
    return deps_of(bot.app).webhooks


async def send(bot, body) -> None:
    assert await bot.salla.deliver(body, to=bot.url) == [200]


def salla_calls(bot) -> list[str]:
    return [f"{c.method} {c.path}" for c in bot.salla.calls]


async def test_an_invoice_created_costs_one_salla_call_and_syncs_the_invoice_as_delivered(subscribed):
    bot = subscribed
    order = bot.salla.store.order_by_reference(1001)
    invoice = order.invoices[0]
    await send(bot, invoice_created(STORE, order, invoice))
    bot.salla.reset_counters()
    [run_id] = await drain(bot)
    assert salla_calls(bot) == [f"GET /admin/v2/orders/{order.id}"]  # the order: its number, its payment
    [result] = bot.store.run_results(run_id)
    assert (result.status.value, result.salla_reference) == ("Success", 1001)
    assert result.documents[0].total == invoice.total
    assert documents(bot) == Counter({f"SALLA-{invoice.id}": 1})
    assert bot.slack.top_level(ALERTS) == []


async def test_a_status_change_waits_for_its_invoice_and_both_make_one_run_without_an_alert(subscribed):
    bot = subscribed
    order = bot.salla.store.order_by_reference(1003)  # two tax invoices
    await send(bot, order_status_updated(STORE, order, change_id=7001))
    assert await drain(bot) == []  # its invoices' events are on their way: nothing synced, no alert
    bot.salla.reset_counters()
    for invoice in order.invoices:
        await send(bot, invoice_created(STORE, order, invoice))
    [run_id] = await drain(bot)
    # The order came whole with the status change; it asks for every invoice: one list, no reads.
    assert salla_calls(bot) == ["GET /admin/v2/orders/invoices"]
    [result] = bot.store.run_results(run_id)
    assert result.status.value == "Success" and len(result.documents) == 2
    assert documents(bot) == Counter({f"SALLA-{i.id}": 1 for i in order.invoices})
    assert bot.slack.top_level(ALERTS) == []


async def test_a_status_change_after_its_invoice_is_settled_by_that_run_without_a_call(subscribed):
    bot = subscribed
    order = bot.salla.store.order_by_reference(1001)
    await send(bot, invoice_created(STORE, order, order.invoices[0]))
    [run_id] = await drain(bot)
    bot.salla.reset_counters()
    await send(bot, order_status_updated(STORE, order, change_id=7002))
    assert await drain(bot) == []
    assert salla_calls(bot) == []
    with bot.store.engine.connect() as connection:
        rows = connection.exec_driver_sql("SELECT event, run_id FROM webhook_event").all()
    assert sorted(rows) == [("invoice.created", run_id), ("order.status.updated", run_id)]


async def test_a_status_change_alone_syncs_after_the_grace_with_the_delivered_order(subscribed):
    bot = subscribed
    order = bot.salla.store.order_by_reference(1001)
    await send(bot, order_status_updated(STORE, order, change_id=7003))
    assert await drain(bot) == []
    inbox(bot).status_grace = timedelta(0)  # no invoice.created came in time
    bot.salla.reset_counters()
    [run_id] = await drain(bot)
    invoice = order.invoices[0]
    assert salla_calls(bot) == ["GET /admin/v2/orders/invoices", f"GET /admin/v2/orders/invoices/{invoice.id}"]
    assert bot.store.run_results(run_id)[0].status.value == "Success"
    assert documents(bot) == Counter({f"SALLA-{invoice.id}": 1})


async def test_a_credit_note_whose_invoice_never_synced_lists_the_order_and_creates_the_invoice_first(subscribed):
    bot = subscribed
    order = bot.salla.store.order_by_reference(1002)  # tax invoice + credit note; only the note is delivered
    invoice, note = order.invoices
    await send(bot, invoice_created(STORE, order, note))
    [run_id] = await drain(bot)
    [result] = bot.store.run_results(run_id)
    assert [d.kind.value for d in result.documents] == ["invoice", "return"]
    assert all(d.status.value == "Success" for d in result.documents)
    assert documents(bot) == Counter({f"SALLA-{invoice.id}": 1, f"SALLA-{note.id}": 1})


async def test_an_order_whose_internal_id_is_another_orders_reference_number_is_the_one_synced(subscribed):
    bot = subscribed
    order = bot.salla.store.order_by_reference(1001)
    # Another order whose merchant-facing number happens to be 1001's internal id.
    decoy = bot.salla.store.add_order(order.id, lines=[line("decoy", "5")], date="2026-11-21 10:00:00")
    bot.salla.store.add_invoice(decoy)
    await send(bot, invoice_created(STORE, order, order.invoices[0]))
    [run_id] = await drain(bot)
    [result] = bot.store.run_results(run_id)
    assert (result.salla_order_id, result.salla_reference) == (order.id, 1001)
    assert documents(bot) == Counter({f"SALLA-{order.invoices[0].id}": 1})


async def test_a_delivered_invoice_that_does_not_add_up_fails_as_a_read_one_would_and_is_alerted(subscribed):
    bot = subscribed
    order = bot.salla.store.add_order(2001, lines=[line("x", "100")], date="2026-11-22 10:00:00")
    bad = bot.salla.store.add_bad_invoice(order, off_by="1.00")
    await send(bot, invoice_created(STORE, order, bad))
    [run_id] = await drain(bot)
    [result] = bot.store.run_results(run_id)
    assert result.status.value == "Failed" and "totals differ" in result.documents[0].reason
    [alert] = bot.slack.top_level(ALERTS)
    assert "Order `2001` *Failed*" in alert.as_text()
    assert documents(bot) == Counter()


async def test_the_simulator_delivers_only_what_is_registered_and_signs_it_as_registered(subscribed, make_bot):
    bot = subscribed
    order = bot.salla.store.order_by_reference(1004)
    unregistered = {"event": "order.created", "merchant": int(STORE), "data": {"id": order.id}}
    assert await bot.salla.deliver(unregistered, to=bot.url) == []
    stale = await make_bot(salla_webhook_secret="another-secret", salla_store_id=STORE)
    assert await bot.salla.deliver(invoice_created(STORE, order, order.invoices[0]), to=stale.url) == [401]


async def test_a_burst_of_waiting_status_changes_does_not_hide_the_invoices_behind_them(subscribed, monkeypatch):
    bot = subscribed
    monkeypatch.setattr(webhooks, "CLAIM_WINDOW", 5)  # the burst is bigger than one read of the inbox
    waiting = [bot.salla.store.order_by_reference(r) for r in (1002, 1003, 1004, 1005, 1006, 1001)]
    for n, order in enumerate(waiting):
        await send(bot, order_status_updated(STORE, order, change_id=8000 + n))
    order = waiting[-1]
    await send(bot, invoice_created(STORE, order, order.invoices[0]))
    [run_id] = await drain(bot)  # at once: the invoice did not wait behind the status changes
    assert bot.store.get_run(run_id).number_list == [str(order.id)]
    assert documents(bot) == Counter({f"SALLA-{order.invoices[0].id}": 1})
