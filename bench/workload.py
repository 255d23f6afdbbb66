"""The benchmark's store: 100 mixed orders (most with one invoice, some returned, some split)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from sandbox.salla_store import SallaStore
from sandbox.sample_store import BAKHOOR, COFFEE, DALLAH, DATES, OUD, SHEMAGH, THOBE

PRODUCTS = [COFFEE, DALLAH, DATES, BAKHOOR, OUD, SHEMAGH, THOBE]


@dataclass(frozen=True)
class Workload:
    store: SallaStore
    numbers: list[str]
    invoices: int  # Salla invoices (= documents to create)
    single_invoice_numbers: list[str]


def mixed_orders(count: int = 100, first_reference: int = 5001) -> Workload:
    """``count`` orders: 80 % one tax invoice, 10 % invoice + credit note, 10 % two tax invoices.

    Customers repeat (one in four orders is a returning customer) and products come from a small
    catalogue, so clients and products are found in the cache as a real store's would be.
    """
    store = SallaStore()
    customers = [store.add_customer(f"عميل {i}", "التجريبي", mobile=f"5550{i:05d}") for i in range(count * 3 // 4)]
    numbers, singles, invoices = [], [], 0
    for i in range(count):
        reference = first_reference + i
        customer = customers[i % len(customers)] if i % 10 else None  # one order in ten is a guest
        lines = [replace(PRODUCTS[i % len(PRODUCTS)], quantity=1 + i % 3), PRODUCTS[(i * 3 + 1) % len(PRODUCTS)]]
        kind = i % 10
        if kind == 3:  # sold and returned
            order = store.add_order(reference, customer=customer, status_slug="restored", lines=lines, shipping="20")
            store.add_invoice(order)
            store.add_credit_note(order)
            invoices += 2
        elif kind == 7:  # shipped in two parts
            order = store.add_order(reference, customer=customer, lines=lines, shipping="20")
            store.add_invoice(order, items=[order.items[0].as_line()], shipping="20")
            store.add_invoice(order, items=[order.items[1].as_line()])
            invoices += 2
        else:
            order = store.add_order(reference, customer=customer, lines=lines, shipping="15")
            store.add_invoice(order)
            invoices += 1
            singles.append(str(reference))
        numbers.append(str(reference))
    return Workload(store=store, numbers=numbers, invoices=invoices, single_invoice_numbers=singles)
