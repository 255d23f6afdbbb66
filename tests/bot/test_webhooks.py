"""``POST /salla/webhooks``: Salla's deliveries authenticated as Salla sends them, stored once, and
synced through the run engine, each invoice once whatever arrives twice or out of order."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import pytest

from bot.app import deps_of
from sandbox import salla_webhooks

SECRET = "salla-webhook-secret-0123"
STORE = "1305146709"


@pytest.fixture
async def hooked(make_bot):
    return await make_bot(salla_webhook_secret=SECRET, salla_store_id=STORE)


def envelope(event: str, data: dict, merchant: str = STORE) -> bytes:
    return json.dumps({"event": event, "merchant": merchant, "created_at": "Sun Jun 26 2022 12:21:48 GMT+0300",
                       "data": data}).encode()


def signed(raw: bytes, secret: str = SECRET) -> dict[str, str]:
    return salla_webhooks.headers(raw, secret=secret)


async def deliver(bot, raw: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    async with bot.http.post(bot.url + "/salla/webhooks", data=raw, headers=headers) as response:
        return response.status, await response.json()


def invoice_created(bot, reference: int) -> bytes:
    order = bot.salla.store.order_by_reference(reference)
    invoice = order.invoices[0]
    return envelope("invoice.created", {"id": invoice.id, "order_id": order.id, "type": "Tax Invoice"})


def documents(bot) -> Counter:
    return Counter(d.po_number for docs in bot.enerpize.documents.values() for d in docs)


async def drain(bot) -> list[int]:
    runs = await deps_of(bot.app).webhooks.drain()
    await bot.idle()
    return runs


async def test_an_invoice_delivered_twice_is_stored_once_and_synced_once(hooked):
    bot = hooked
    raw = invoice_created(bot, 1001)
    assert await deliver(bot, raw, signed(raw)) == (200, {"ok": True, "stored": True})
    assert await deliver(bot, raw, signed(raw)) == (200, {"ok": True, "stored": False})  # Salla retried it
    [run_id] = await drain(bot)
    run = bot.store.get_run(run_id)
    order = bot.salla.store.order_by_reference(1001)
    assert run.source == "webhook" and run.number_list == [str(order.id)]
    assert run.reported_at is not None and run.state == "finished"
    assert documents(bot) == Counter({f"SALLA-{order.invoices[0].id}": 1})
    assert await drain(bot) == []  # nothing left
    assert bot.slack.calls("chat.postMessage") == []  # successes are quiet


async def test_events_of_one_order_in_any_order_sync_it_once(hooked):
    bot = hooked
    order = bot.salla.store.order_by_reference(1002)
    status = envelope("order.status.updated", {"id": 991, "order": {"id": order.id, "status": {"slug": "restored"}}})
    raw = invoice_created(bot, 1002)
    for body in (status, raw):
        assert (await deliver(bot, body, signed(body)))[0] == 200
    [run_id] = await drain(bot)
    assert bot.store.get_run(run_id).number_list == [str(order.id)]
    assert all(count == 1 for count in documents(bot).values()) and len(documents(bot)) == 2  # invoice + return


async def test_an_event_while_a_person_syncs_the_same_order_makes_one_document(hooked):
    bot = hooked
    raw = invoice_created(bot, 1004)
    await deliver(bot, raw, signed(raw))
    await asyncio.gather(bot.sync("1004"), drain(bot))
    await bot.idle()
    assert list(documents(bot).values()) == [1]


@pytest.mark.parametrize("headers", [
    {},  # unsigned
    {"X-Salla-Security-Strategy": "Signature", "X-Salla-Signature": "00" * 32},  # forged
    {"X-Salla-Security-Strategy": "Token", "Authorization": "Bearer an-old-secret"},  # stale secret
    {"X-Salla-Security-Strategy": "None"},
])
async def test_forged_unsigned_or_stale_deliveries_get_401_and_store_nothing(hooked, headers):
    bot = hooked
    raw = invoice_created(bot, 1001)
    status, _ = await deliver(bot, raw, {"Content-Type": "application/json", **headers})
    assert status == 401
    assert await drain(bot) == []


async def test_token_strategy_and_other_answers(hooked):
    bot = hooked
    raw = invoice_created(bot, 1001)
    token = {"X-Salla-Security-Strategy": "Token", "Authorization": f"Bearer {SECRET}"}
    assert await deliver(bot, raw, token) == (200, {"ok": True, "stored": True})
    other = envelope("invoice.created", {"id": 1, "order_id": 2}, merchant="999")
    assert await deliver(bot, other, signed(other)) == (200, {"ok": True, "stored": False})  # another store: ignored
    garbage = b"{not json"
    assert (await deliver(bot, garbage, signed(garbage)))[0] == 400
    huge = b" " * (1024 * 1024 + 1)
    assert (await deliver(bot, huge, signed(huge)))[0] == 413
    pending = envelope("order.status.updated", {"id": 5, "order": {"id": 1, "status": {"slug": "pending"}}})
    assert await deliver(bot, pending, signed(pending)) == (200, {"ok": True, "stored": False})  # nothing to sync
    assert len(await drain(bot)) == 1  # only the token-authenticated one


async def test_without_a_secret_the_endpoint_is_not_there(bot):
    raw = b"{}"
    status, _ = await deliver(bot, raw, signed(raw))
    assert status == 404


async def test_app_store_authorize_stores_the_new_tokens_and_they_are_used(hooked):
    bot = hooked
    access, refresh = bot.salla.reinstall()  # the merchant reinstalled the app: the old tokens are dead
    raw = envelope("app.store.authorize", {"id": 7, "access_token": access, "refresh_token": refresh,
                                           "expires": 1_900_000_000, "scope": "orders.read", "token_type": "bearer"})
    assert await deliver(bot, raw, signed(raw)) == (200, {"ok": True, "stored": True})
    row = bot.store.load_tokens_row()
    assert (row.access_token, row.refresh_token) == (access, refresh)
    assert row.expires_at.year == 2030
    bot.salla.reset_counters()
    await bot.sync("1001")
    assert bot.salla.refresh_count == 0  # the new access token worked as handed over
    missing = envelope("app.store.authorize", {"id": 8, "access_token": "only-one"})
    assert (await deliver(bot, missing, signed(missing)))[0] == 400
