"""Quick checks of the Salla simulator, over real HTTP with httpx: orders, invoices, items,
the loose reference filter, rate limits, token rotation, faults and the call log."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from sandbox import CREDIT_NOTE_AR, TAX_INVOICE_AR, SallaSimulator, line, sample_store

ORDER_1001 = 418149270  # reference 1001
ORDER_1013 = 418149282  # reference 1013: four invoices


@pytest.fixture
def salla():
    with SallaSimulator(store=sample_store()) as sim:
        yield sim


def salla_client(sim: SallaSimulator) -> httpx.Client:
    return httpx.Client(base_url=sim.api_url, headers={"Authorization": f"Bearer {sim.access_token}"})


def refresh(sim: SallaSimulator, refresh_token: str) -> httpx.Response:
    return httpx.post(sim.token_url, data={
        "grant_type": "refresh_token", "refresh_token": refresh_token,
        "client_id": sim.client_id, "client_secret": sim.client_secret,
    })



def test_salla_reference_lookup_is_a_summary_and_the_order_has_the_customer(salla):
    with salla_client(salla) as c:
        body = c.get("/orders", params={"reference_id": 1001}).json()
        assert body["success"] is True and body["status"] == 200
        assert [o["id"] for o in body["data"]] == [ORDER_1001]
        assert "customer" not in body["data"][0]
        assert body["pagination"]["total"] == 1

        order = c.get(f"/orders/{ORDER_1001}").json()["data"]
        assert order["reference_id"] == 1001
        assert order["customer"]["first_name"] == "محمد"
        assert order["status"]["slug"] == "completed"

        assert c.get("/orders", params={"reference_id": 1099}).json()["data"] == []
        for missing in ("1099", "abc"):
            r = c.get(f"/orders/{missing}")
            assert r.status_code == 404
            assert r.json() == {"status": 404, "success": False, "error": {
                "code": "error", "message": "The content you are looking for is not available"}}


def test_salla_guest_orders(salla):
    with salla_client(salla) as c:
        assert c.get("/orders/418149273").json()["data"]["customer"] is None  # 1004
        assert "customer" not in c.get("/orders/418149284").json()["data"]  # 1015


def test_salla_invoice_pagination_and_detail():
    with SallaSimulator(store=sample_store(), invoices_per_page=1) as sim, salla_client(sim) as c:
        first = c.get("/orders/invoices", params={"order_id": ORDER_1013}).json()
        assert first["pagination"]["totalPages"] == 4 and first["pagination"]["perPage"] == 1
        ids = []
        for page in range(1, 5):
            data = c.get("/orders/invoices", params={"order_id": ORDER_1013, "page": page}).json()["data"]
            assert len(data) == 1 and "items" not in data[0]
            ids.append(data[0]["id"])
        assert ids == [560014, 560015, 560016, 560017]

        detail = c.get("/orders/invoices/560017").json()["data"]
        assert detail["type"] == "Credit Note"
        assert detail["items"][0]["quantity"] == 1
        assert detail["total"] == {"amount": 51.75, "currency": "SAR"}
        assert c.get("/orders/invoices/999").status_code == 404


def test_salla_interfaces_example_invoice(salla):
    with salla_client(salla) as c:
        inv = c.get("/orders/invoices/560001").json()["data"]
    assert inv["invoice_number"] == "INV-8841" and inv["order_id"] == ORDER_1001
    assert inv["tax"] == {"percent": "15.00", "amount": {"amount": "40.50", "currency": "SAR"}}
    assert inv["total"] == {"amount": 310.5, "currency": "SAR"}
    item = inv["items"][0]
    assert item["sku"] == "sam-ssd-256g" and item["total"]["amount"] == "287.50"


def test_salla_order_items_and_skuless_invoice_lines(salla):
    with salla_client(salla) as c:
        invoice = c.get("/orders/invoices/560012").json()["data"]  # order 1010
        items = c.get("/orders/items", params={"order_id": 418149279}).json()["data"]
    by_id = {i["id"]: i for i in items}
    keyboard, wrap = invoice["items"]
    assert keyboard["sku"] is None and by_id[keyboard["item_id"]]["sku"] == "kb-ar-01"
    assert wrap["sku"] == "" and by_id[wrap["item_id"]]["sku"] == ""


def test_salla_arabic_invoice_types(salla):
    with salla_client(salla) as c:
        types = [i["type"] for i in c.get("/orders/invoices", params={"order_id": 418149283}).json()["data"]]
    assert types == [TAX_INVOICE_AR, CREDIT_NOTE_AR]


@pytest.mark.parametrize("mode", ["substring", "ignore"])
def test_salla_loose_reference_filter(mode):
    store = sample_store()
    store.add_order(10010, lines=[line("x", "1")])
    with SallaSimulator(store=store, loose_reference_filter=mode) as sim, salla_client(sim) as c:
        refs = [o["reference_id"] for o in c.get("/orders", params={"reference_id": 1001}).json()["data"]]
    if mode == "substring":
        assert refs == [10010, 1001]  # the near miss comes first
    else:  # the filter is ignored: the first page of all orders, newest first
        assert len(refs) == 15 and refs[0] == 10010 and 1001 not in refs


def test_salla_orders_added_after_start_are_served(salla):
    order = salla.store.add_order(1050, customer=salla.store.add_customer("ليلى", "الشهري"),
                                  lines=[line("قلم", "2.00", quantity=5, sku="pen")])
    salla.store.add_invoice(order)
    with salla_client(salla) as c:
        assert c.get("/orders", params={"reference_id": 1050}).json()["data"][0]["id"] == order.id
        invoices = c.get("/orders/invoices", params={"order_id": order.id}).json()["data"]
    assert invoices[0]["total"]["amount"] == 11.5


def test_salla_rate_limit_headers_and_429():
    with SallaSimulator(store=sample_store(), bucket=(2, 0.01)) as sim, salla_client(sim) as c:
        r1 = c.get("/orders/418149270")
        r2 = c.get("/orders/418149270")
        r3 = c.get("/orders/418149270")
        assert (r1.status_code, r2.status_code, r3.status_code) == (200, 200, 429)
        assert r1.headers["X-RateLimit-Limit"] == "2"
        assert [r1.headers["X-RateLimit-Remaining"], r2.headers["X-RateLimit-Remaining"]] == ["1", "0"]
        assert int(r3.headers["Retry-After"]) >= 1
        assert int(r3.headers["X-RateLimit-Reset"]) > time.time()
        assert r3.json()["error"]["code"] == "too_many_requests"
        assert sim.throttled_count == 1


def test_salla_token_rotation_and_reuse_revokes_everything(salla):
    first_access, first_refresh = salla.access_token, salla.refresh_token
    salla.expire_access_token()
    with salla_client(salla) as c:
        r = c.get(f"/orders/{ORDER_1001}")
    assert r.status_code == 401
    assert r.json() == {"status": 401, "success": False, "error": {
        "code": "Unauthorized", "message": "The access token is invalid"}}

    granted = refresh(salla, first_refresh)
    assert granted.status_code == 200
    tokens = granted.json()
    assert tokens["access_token"] == salla.access_token != first_access
    assert tokens["refresh_token"] == salla.refresh_token != first_refresh
    assert tokens["expires_in"] == 1209600 and tokens["token_type"] == "bearer"
    assert tokens["expires"] > time.time()
    assert salla.refresh_count == 1
    with salla_client(salla) as c:
        assert c.get(f"/orders/{ORDER_1001}").status_code == 200

    reused = refresh(salla, first_refresh)
    assert reused.status_code == 401 and reused.json()["error"] == "invalid_grant"
    assert salla.revoked
    with salla_client(salla) as c:
        assert c.get(f"/orders/{ORDER_1001}").status_code == 401
    assert refresh(salla, tokens["refresh_token"]).status_code == 401

    salla.reinstall()
    with salla_client(salla) as c:
        assert c.get(f"/orders/{ORDER_1001}").status_code == 200


async def test_salla_concurrent_refreshes_with_one_token_revoke():
    with SallaSimulator(refresh_latency=0.05) as sim:
        form = {"grant_type": "refresh_token", "refresh_token": sim.refresh_token,
                "client_id": sim.client_id, "client_secret": sim.client_secret}
        async with httpx.AsyncClient() as c:
            answers = await asyncio.gather(*(c.post(sim.token_url, data=form) for _ in range(2)))
        assert sorted(r.status_code for r in answers) == [200, 401]
        assert sim.revoked and sim.refresh_count == 1


def test_salla_faults_and_call_log(salla):
    salla.fail_next(503, path_contains="/invoices", retry_after=2)
    salla.drop_next(path_contains="/items")
    with salla_client(salla) as c:
        assert c.get(f"/orders/{ORDER_1001}").status_code == 200
        failed = c.get("/orders/invoices", params={"order_id": ORDER_1001})
        assert failed.status_code == 503 and failed.headers["Retry-After"] == "2"
        assert failed.json()["success"] is False
        with pytest.raises(httpx.RemoteProtocolError):
            c.get("/orders/items", params={"order_id": ORDER_1001})
        assert c.get("/orders/invoices", params={"order_id": ORDER_1001}).status_code == 200
    assert salla.calls[1] == ("GET", "/admin/v2/orders/invoices", {"order_id": str(ORDER_1001)}, None)
    assert salla.call_count(path_contains="/orders/invoices") == 2
    salla.reset_counters()
    assert salla.calls == [] and salla.call_count() == 0
