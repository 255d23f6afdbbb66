"""Helpers shared by the simulator tests: an httpx client for the Enerpize simulator and a
minimal Enerpize invoice body."""

from __future__ import annotations

import httpx

from sandbox import EnerpizeSimulator


def enerpize_client(sim: EnerpizeSimulator, **kwargs) -> httpx.Client:
    return httpx.Client(base_url=sim.api_url, headers={"apikey": sim.api_key}, **kwargs)



def _invoice_body(client_id: str, po: str, **head) -> dict:
    return {
        "Invoice": {"client_id": client_id, "date": "2026-11-20", "currency_code": "SAR",
                    "po_number": po, **head},
        "InvoiceItem": [{"item": "SSD 256GB", "unit_price": "125.00", "quantity": 2, "tax1": "1"}],
    }
