"""Local simulators of the Salla Merchant API, the Enerpize api2 and the Slack Web API, over real HTTP.

Used by the tests, ``salla-sync demo`` and the benchmark. Each simulator runs its own aiohttp
server on 127.0.0.1 (a free port) in a background thread:

    from sandbox import EnerpizeSimulator, SallaSimulator, sample_store

    with SallaSimulator(store=sample_store()) as salla, EnerpizeSimulator() as enerpize:
        ...  # SALLA_API_URL=salla.api_url, SALLA_TOKEN_URL=salla.token_url,
             # ENERPIZE_API_URL=enerpize.api_url
"""

from sandbox.enerpize_books import INVOICES, REFUND_RECEIPTS, Document, EnerpizeBooks
from sandbox.enerpize_sim import EnerpizeSimulator
from sandbox.salla_sim import SallaSimulator
from sandbox.salla_store import (
    CREDIT_NOTE,
    CREDIT_NOTE_AR,
    TAX_INVOICE,
    TAX_INVOICE_AR,
    Customer,
    Invoice,
    InvoiceItem,
    Line,
    Order,
    OrderItem,
    SallaStore,
    line,
)
from sandbox.sample_store import RECORD_NOT_FOUND, sample_store
from sandbox.server import LoopbackServer
from sandbox.simulator import Call
from sandbox.slack_sim import SlackRequest, SlackSimulator, sign

__all__ = [
    "CREDIT_NOTE", "CREDIT_NOTE_AR", "INVOICES", "REFUND_RECEIPTS", "RECORD_NOT_FOUND",
    "TAX_INVOICE", "TAX_INVOICE_AR", "Call", "Customer", "Document", "EnerpizeBooks",
    "EnerpizeSimulator", "Invoice", "InvoiceItem", "Line", "LoopbackServer", "Order", "OrderItem",
    "SallaSimulator", "SallaStore", "SlackRequest", "SlackSimulator", "line", "sample_store", "sign",
]
