"""The demo and test data set: one Saudi store (SAR, 15 % VAT), sixteen orders.

Everything is deterministic. Order ids are ``418149270 + (reference - 1001)``; invoice ids run
from 560001 in the order below. Totals are Salla's invoice totals, which the Enerpize formula
reproduces to the halala when an invoice is mapped correctly (see ``salla_store``: an invoice's
``discount`` is its whole discount, the lines' own included, as in Salla's documented example).

| ref  | order id  | customer          | status       | invoices (id: type = total)                        | demonstrates |
|------|-----------|-------------------|--------------|----------------------------------------------------|--------------|
| 1001 | 418149270 | محمد العتيبي       | completed    | 560001: Tax Invoice = 310.50                        | plain paid order, mada; the interfaces.md example (2 x SSD 256GB, shipping 20) |
| 1002 | 418149271 | نورة القحطاني      | restored     | 560002: Tax Invoice = 402.50; 560003: Credit Note = 402.50 | invoice + return (refund receipt) |
| 1003 | 418149272 | فهد الشمري         | completed    | 560004: Tax Invoice = 448.50; 560005: Tax Invoice = 138.00 | two tax invoices on one order |
| 1004 | 418149273 | guest (null)      | completed    | 560006: Tax Invoice = 223.10                        | guest order, ``"customer": null`` |
| 1005 | 418149274 | سارة الزهراني      | completed    | 560007: Tax Invoice = 161.50                        | untaxed shipping (``shipping_cost.taxable: false``), bank |
| 1006 | 418149275 | عبدالله الدوسري    | delivered    | 560008: Tax Invoice = 120.75                        | cash on delivery fee 10.00 (taxed), payment cod |
| 1007 | 418149276 | ريم الحربي         | completed    | 560009: Tax Invoice = 333.50                        | invoice-level discount 30.00 (coupon) before tax |
| 1008 | 418149277 | خالد المطيري       | completed    | 560010: Tax Invoice = 231.73                        | line discounts (the invoice's ``discount`` is their sum, 22.50; sub_total 224.00 is before them); a line tax of 18.225 that must round half up to 18.23 |
| 1009 | 418149278 | هند السبيعي        | completed    | 560011: Tax Invoice = 152.00                        | zero-rated item (tax percent 0) beside a 15 % item |
| 1010 | 418149279 | أحمد الغامدي       | completed    | 560012: Tax Invoice = 125.35                        | invoice lines without SKU: one whose order item has one, one with none at all |
| 1011 | 418149280 | لطيفة العنزي       | under_review | (none)                                             | no invoice yet -> Failed, reason names the status |
| 1012 | 418149281 | محمد العتيبي       | completed    | 560013: Tax Invoice = 65.90                         | looked up by internal id 418149281; all amounts numeric; 4.10 x 3 -> tax 1.845 -> 1.85 |
| 1013 | 418149282 | نورة القحطاني      | restored     | 560014 = 166.75; 560015 = 103.50; 560016 = 63.25 (Tax Invoices); 560017: Credit Note = 51.75 | 4 invoices (pagination with ``invoices_per_page`` < 4), partial return |
| 1014 | 418149283 | فهد الشمري         | restored     | 560018: فاتورة ضريبية = 166.75; 560019: إشعار دائن = 166.75 | Arabic invoice types |
| 1015 | 418149284 | guest (no key)    | delivered    | 560020: Tax Invoice = 180.25                        | guest without a ``customer`` key; COD fee + untaxed shipping |
| 1016 | 418149285 | سارة الزهراني      | completed    | 560021: Tax Invoice, stated 144.75 (lines add to 143.75) | bad invoice -> Failed (totals differ), nothing created |

Numbers with no order: 1017, 1099 (and any other) -> Record not found.
Customers 1001/1012 share one customer, as do 1002/1013, 1003/1014 and 1005/1016 (find-or-create).
"""

from __future__ import annotations

from dataclasses import replace

from sandbox.salla_store import CREDIT_NOTE_AR, TAX_INVOICE_AR, SallaStore, line

SSD = line("SSD 256GB", "125.00", sku="sam-ssd-256g")
COFFEE = line("قهوة عربية 500 جرام", "45.00", sku="coffee-500g")
DALLAH = line("دلة قهوة ستيل", "89.00", sku="dallah-steel")
BAKHOOR = line("بخور معطر 100 جرام", "75.00", sku="bakhoor-100g")
OUD = line("دهن عود 12 مل", "250.00", sku="oud-oil-12ml")
PRAYER_MAT = line("سجادة صلاة", "55.00", sku="prayer-mat-01")
SHEMAGH = line("شماغ أحمر", "120.00", sku="shemagh-red")
THOBE = line("ثوب أبيض مقاس 56", "180.00", sku="thobe-white-56")
MISWAK = line("مسواك أراك", "4.10", sku="miswak-arak")
DATES = line("تمر سكري 1 كجم", "60.00", sku="dates-sukkari-1kg")
MEDICINE = line("دواء معفى من الضريبة", "30.00", sku="med-zero-01", tax_percent="0")
KEYBOARD = line("لوحة مفاتيح عربية", "99.00", sku="kb-ar-01")
GIFT_WRAP = line("تغليف هدية", "10.00", sku="", type="service")

RECORD_NOT_FOUND = (1017, 1099)


def sample_store() -> SallaStore:
    """A fresh copy of the sample store (tests may add to it freely)."""
    s = SallaStore()
    mohammed = s.add_customer("محمد", "العتيبي", mobile="555000101", email="m.otaibi@example.sa")
    noura = s.add_customer("نورة", "القحطاني", mobile="555000102", email="noura.q@example.sa")
    fahad = s.add_customer("فهد", "الشمري", mobile="555000103", email=None)
    sara = s.add_customer("سارة", "الزهراني", mobile="555000104", email="sara.z@example.sa")
    abdullah = s.add_customer("عبدالله", "الدوسري", mobile="555000105", email="a.dosari@example.sa")
    reem = s.add_customer("ريم", "الحربي", mobile="555000106", email="reem.h@example.sa")
    khalid = s.add_customer("خالد", "المطيري", mobile="555000107", email="khalid.m@example.sa")
    hind = s.add_customer("هند", "السبيعي", mobile="555000108", email="hind.s@example.sa")
    ahmed = s.add_customer("أحمد", "الغامدي", mobile="555000109", email="ahmed.g@example.sa")
    latifa = s.add_customer("لطيفة", "العنزي", mobile="555000110", email="latifa.a@example.sa")

    # 1001: the plain paid order of interfaces.md (invoice 560001 / INV-8841, total 310.50).
    o = s.add_order(1001, customer=mohammed, date="2026-11-20 14:48:20",
                    lines=[replace(SSD, quantity=2)], shipping="20")
    s.add_invoice(o)

    # 1002: sold, then returned in full.
    o = s.add_order(1002, customer=noura, status_slug="restored", payment_method="credit_card",
                    date="2026-11-02 10:15:00", lines=[OUD, BAKHOOR], shipping="25")
    s.add_invoice(o)
    s.add_credit_note(o, date="2026-11-09")

    # 1003: shipped in two parts, one tax invoice each (shipping on the first).
    o = s.add_order(1003, customer=fahad, date="2026-11-03 18:40:00",
                    lines=[replace(THOBE, quantity=2), SHEMAGH], shipping="30")
    s.add_invoice(o, items=[o.items[0].as_line()], shipping="30")
    s.add_invoice(o, items=[o.items[1].as_line()], date="2026-11-05")

    # 1004: a guest checkout.
    o = s.add_order(1004, customer=None, payment_method="credit_card", date="2026-11-04 09:05:00",
                    lines=[replace(COFFEE, quantity=2), DALLAH], shipping="15")
    s.add_invoice(o)

    # 1005: free-of-VAT shipping.
    o = s.add_order(1005, customer=sara, payment_method="bank", date="2026-11-05 21:30:00",
                    lines=[replace(PRAYER_MAT, quantity=2)], shipping="35", shipping_taxable=False)
    s.add_invoice(o)

    # 1006: cash on delivery with a COD fee.
    o = s.add_order(1006, customer=abdullah, status_slug="delivered", payment_method="cod",
                    date="2026-11-06 12:00:00", lines=[BAKHOOR], shipping="20", cod="10")
    s.add_invoice(o)

    # 1007: a coupon taking 30.00 off before tax.
    o = s.add_order(1007, customer=reem, date="2026-11-07 16:20:00", lines=[THOBE, SHEMAGH],
                    shipping="20", discount="30", coupon_code="RAMADAN30")
    s.add_invoice(o)

    # 1008: line discounts; 121.50 x 15 % = 18.225 -> 18.23 (half up; float or half-even gives 18.22).
    o = s.add_order(1008, customer=khalid, payment_method="credit_card", date="2026-11-08 11:11:00",
                    lines=[replace(COFFEE, quantity=3, discount="13.50"), replace(DALLAH, discount="9.00")])
    s.add_invoice(o)

    # 1009: a zero-rated line beside a 15 % line.
    o = s.add_order(1009, customer=hind, date="2026-11-09 08:45:00",
                    lines=[replace(MEDICINE, quantity=2), DATES], shipping="20")
    s.add_invoice(o)

    # 1010: invoice lines without SKU; the keyboard's order item has one, the gift wrap none.
    o = s.add_order(1010, customer=ahmed, date="2026-11-10 19:00:00", lines=[KEYBOARD, GIFT_WRAP])
    s.add_invoice(o, items=[o.items[0].as_line(sku=None), o.items[1].as_line(sku="")])

    # 1011: waiting for review, no invoice yet.
    s.add_order(1011, customer=latifa, status_slug="under_review", payment_method="bank",
                date="2026-11-11 13:30:00", lines=[SSD])

    # 1012: typed in by its internal id 418149281; every amount a JSON number.
    o = s.add_order(1012, customer=mohammed, payment_method="credit_card", date="2026-11-12 10:00:00",
                    lines=[replace(MISWAK, quantity=3), COFFEE])
    s.add_invoice(o, amount_style="numbers")

    # 1013: three tax invoices and a partial return (pagination of the invoice list).
    o = s.add_order(1013, customer=noura, status_slug="restored", date="2026-11-13 17:25:00",
                    lines=[SSD, replace(COFFEE, quantity=2), PRAYER_MAT], shipping="20")
    s.add_invoice(o, items=[o.items[0].as_line()], shipping="20")
    s.add_invoice(o, items=[o.items[1].as_line()], date="2026-11-14")
    s.add_invoice(o, items=[o.items[2].as_line()], date="2026-11-15")
    s.add_credit_note(o, items=[o.items[1].as_line(quantity=1)], date="2026-11-18")

    # 1014: invoice types in Arabic.
    o = s.add_order(1014, customer=fahad, status_slug="restored", date="2026-11-14 20:10:00",
                    lines=[SHEMAGH], shipping="25")
    s.add_invoice(o, type=TAX_INVOICE_AR)
    s.add_credit_note(o, type=CREDIT_NOTE_AR, date="2026-11-19")

    # 1015: guest without a customer key, COD fee and untaxed shipping together.
    o = s.add_order(1015, customer=None, guest_style="absent", status_slug="delivered",
                    payment_method="cod", date="2026-11-15 15:55:00", lines=[replace(DATES, quantity=2)],
                    shipping="25", shipping_taxable=False, cod="15")
    s.add_invoice(o)

    # 1016: Salla states 144.75 but the lines add up to 143.75.
    o = s.add_order(1016, customer=sara, date="2026-11-16 09:30:00", lines=[SSD])
    s.add_bad_invoice(o, off_by="1.00")
    return s

