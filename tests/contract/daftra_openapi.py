"""Daftra's official api2 document as the contract of every request the Enerpize adapter sends.

``check_calls(sim.calls)`` takes the Enerpize simulator's call log and returns one line per
violation (an empty list when everything is documented):

- the path and method exist in the document (``/api2`` prefix and ``.json`` suffix stripped,
  ``/invoices/3001`` read as ``/invoices/{id}``);
- every query parameter is documented for that operation (and an integer parameter is an integer);
- the JSON body validates, with jsonschema (Draft 2020-12, ``$ref``s resolved by ``referencing``),
  against the operation's request-body schema, strictly: no top-level key or field that the
  document does not list where it lists properties, and the documented JSON types.

Where we knowingly send something the document does not describe, the departure is listed below
by name with its reason (``QUERY_DEPARTURES``, ``BODY_DEPARTURES``); nothing else is let through.

The document is an export of Daftra's documentation site (an OpenAPI export plus Apidog schemas,
see ``shared/reference/official/README.md``). Its own defects are *read*, not fixed by hand, by the
rules of ``_read_schema`` (each one says which defect it reads and why); those readings are not
departures of ours, and they never widen what a field may hold beyond what the document says
somewhere else.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

DOCUMENT_PATH = Path(os.environ.get(
    "SALLA_SYNC_DAFTRA_OPENAPI",
    Path(__file__).resolve().parents[3] / "shared" / "reference" / "official" / "daftra-api2-subset.openapi.json",
))
DOCUMENT_URI = "urn:daftra:api2-subset"
API_PREFIX = "/api2"

# JSON pointers (unescaped form) into the document.
INVOICE_BODY = "/paths/~1invoices{format}/post/requestBody/content/application~1json/schema"
INVOICE_HEADER = INVOICE_BODY + "/properties/Invoice"
INVOICE_ITEM = INVOICE_BODY + "/properties/InvoiceItem/items"
INVOICE_PAYMENT = INVOICE_BODY + "/properties/Payment/items"
INVOICE_BASE = "/components/schemas/InvoiceBase"  # the header of refund receipts and credit notes
ITEM_REF = "/components/schemas/InvoiceItemRef/properties/InvoiceItem/items"
PAYMENT_BASE = "/components/schemas/PaymentBase"

# The inline invoice schema (from the OpenAPI export) writes ``"type": "null"`` for a field it has no
# type for (its example value was null); the same document's component schemas (from Apidog) type
# the same fields. A placeholder takes its twin's type; without a twin it is left untyped.
_TWINS = {INVOICE_HEADER: INVOICE_BASE, INVOICE_ITEM: ITEM_REF, INVOICE_PAYMENT: PAYMENT_BASE}

_PROBED = "probed, used only when the tenant is seen to honour it"


@dataclass(frozen=True)
class BodyDeparture:
    """A field we send that the document does not describe (or types otherwise), and why."""

    name: str
    reason: str
    at: tuple[str, ...]  # JSON pointers of the property in the document, one per schema it amends
    schema: dict[str, Any]  # what the field is checked against instead


# (document path, query parameter) -> why we send it although the document does not list it.
QUERY_DEPARTURES: dict[tuple[str, str], str] = {
    ("/invoices{format}", "filter[po_number]"): _PROBED,
    ("/refund_receipts{format}", "filter[po_number]"): _PROBED,
    ("/refund_receipts{format}", "po_number"): _PROBED,
    ("/clients{format}", "filter[client_number]"): _PROBED,
    ("/clients{format}", "client_number"): _PROBED,
    ("/products{format}", "filter[product_code]"): _PROBED,
    ("/products{format}", "product_code"): _PROBED,
}

BODY_DEPARTURES: tuple[BodyDeparture, ...] = (
    BodyDeparture(
        "Invoice.shipping_tax_id / RefundReceipt.shipping_tax_id",
        "not in the document's invoice schema (a known gap, shared/reference/official/README.md); Daftra's "
        "own WooCommerce plugin sends it, and without it shipping carries no VAT and the document's total "
        "could not equal Salla's",
        (INVOICE_HEADER + "/properties/shipping_tax_id", INVOICE_BASE + "/properties/shipping_tax_id"),
        {"type": "integer"},
    ),
    BodyDeparture(
        "Invoice.discount_amount and InvoiceItem.discount as numbers",
        "the inline invoice schema types them integer, but they are money with halalas (a fixed amount "
        "when discount_type is 2), and the same document's InvoiceBase and InvoiceItemRef (refund receipts, "
        "credit notes) type them as numbers (double)",
        (INVOICE_HEADER + "/properties/discount_amount", INVOICE_ITEM + "/properties/discount"),
        {"type": "number", "minimum": 0},
    ),
    BodyDeparture(
        "InvoiceItem.quantity as a number",
        "typed integer, but the invoice schema's own description says \"Decimal values are allowed\"; "
        "a Salla quantity that is not whole is sent as it is",
        (INVOICE_ITEM + "/properties/quantity", ITEM_REF + "/properties/quantity"),
        {"type": "number", "exclusiveMinimum": 0},
    ),
    BodyDeparture(
        "Payment.status on an invoice",
        "the inline invoice schema's Payment omits it; the same document's PaymentBase (a refund "
        "receipt's InvoicePayment) documents it (1 = completed), and Daftra's WooCommerce plugin sends "
        "1 for a completed payment: without it a tenant may book Salla's collected money as pending",
        (INVOICE_PAYMENT + "/properties/status",),
        {"type": "integer", "enum": [0, 1, 2, 3]},
    ),
)

_TYPE_NAMES = {"double": "number", "float": "number", "int": "integer", "date-time": "string", "date": "string"}
_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SCHEMA_ONE = ("items", "additionalProperties", "not", "contains")


# -- reading the document --------------------------------------------------------------------------

def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _at(document: Any, pointer: str) -> Any:
    node = document
    for token in pointer.lstrip("/").split("/"):
        node = node[_unescape(token)]
    return node


def _schema_nodes(schema: Any, pointer: str) -> Iterator[tuple[str, dict]]:
    """Every schema object under ``schema`` (itself included), with its JSON pointer."""
    if not isinstance(schema, dict):
        return
    yield pointer, schema
    for key in _SCHEMA_MAPS:
        for name, sub in (schema.get(key) or {}).items():
            yield from _schema_nodes(sub, f"{pointer}/{key}/{_escape(name)}")
    for key in _SCHEMA_LISTS:
        for n, sub in enumerate(schema.get(key) or []):
            yield from _schema_nodes(sub, f"{pointer}/{key}/{n}")
    for key in _SCHEMA_ONE:
        if isinstance(schema.get(key), dict):
            yield from _schema_nodes(schema[key], f"{pointer}/{key}")


def _roots(document: dict) -> Iterator[tuple[str, dict]]:
    """Every schema the document holds: request bodies, parameters, components."""
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if not isinstance(operation, dict):
                continue
            base = f"/paths/{_escape(path)}/{method}"
            for media, content in ((operation.get("requestBody") or {}).get("content") or {}).items():
                if isinstance(content.get("schema"), dict):
                    yield f"{base}/requestBody/content/{_escape(media)}/schema", content["schema"]
            for n, parameter in enumerate(operation.get("parameters") or []):
                if isinstance(parameter.get("schema"), dict):
                    yield f"{base}/parameters/{n}/schema", parameter["schema"]
    for name, schema in document.get("components", {}).get("schemas", {}).items():
        yield f"/components/schemas/{_escape(name)}", schema


def _type_of(schema: dict) -> Any:
    kind = schema.get("type")
    names = kind if isinstance(kind, list) else [kind] if kind is not None else []
    read = []
    for name in names:
        name = _TYPE_NAMES.get(name, name)
        if name not in read:
            read.append(name)
    return read if isinstance(kind, list) else (read[0] if read else None)


def _read_schema(schema: dict, twin: dict | None) -> None:
    """Read one schema object of the export as the JSON Schema it means (in place).

    - ``type`` names that are not JSON Schema types (``double``, ``date-time``) are the types they
      name (number, string); OpenAPI 3.0's ``nullable: true`` adds null;
    - an ``enum`` of descriptions (``"1 => Percentage"``) is documentation, not the values;
    - ``maxLength`` written as a string is that number;
    - ``required`` lists are not checked: the inline invoice schema marks every one of its 47 header
      fields and all 8 top-level keys required while its own text says "client_id is the only
      required field" and calls Payment optional; the components mark ``InvoiceItem.invoice_id``
      and ``PaymentBase.invoice_id`` required, which cannot exist before the document does;
    - a ``readOnly`` property is not part of a request (OpenAPI: it SHOULD NOT be sent), so it is not
      accepted in one;
    - a ``"type": "null"`` placeholder takes the type of its twin in the components (see ``_TWINS``),
      else is left untyped.
    """
    kind = _type_of(schema)
    if kind is None:
        schema.pop("type", None)
    else:
        schema["type"] = kind
    if schema.pop("nullable", False) and "type" in schema:
        kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        schema["type"] = kinds + ["null"] if "null" not in kinds else kinds
    enum = schema.get("enum")
    if isinstance(enum, list) and any(isinstance(v, str) and "=>" in v for v in enum):
        del schema["enum"]
    for key in ("maxLength", "minLength", "maxItems", "minItems"):
        if isinstance(schema.get(key), str) and schema[key].strip().isdigit():
            schema[key] = int(schema[key])
    schema.pop("required", None)
    properties = schema.get("properties")
    if isinstance(properties, dict):
        for name in [n for n, sub in properties.items() if isinstance(sub, dict) and sub.get("readOnly")]:
            del properties[name]
        twin_properties = (twin or {}).get("properties") or {}
        for name, sub in properties.items():
            if isinstance(sub, dict) and sub.get("type") == "null":
                borrowed = twin_properties.get(name, {}).get("type")
                if borrowed is not None and _type_of({"type": borrowed}) != "null":
                    sub["type"] = _type_of({"type": borrowed})
                else:
                    del sub["type"]


def _ref_target(schema: dict) -> str | None:
    ref = schema.get("$ref")
    return ref[1:] if isinstance(ref, str) and ref.startswith("#/") else None


@lru_cache(maxsize=1)
def _document() -> dict:
    """The document, read as JSON Schema, strict, with our departures applied."""
    if not DOCUMENT_PATH.is_file():
        raise FileNotFoundError(f"Daftra's api2 document is not at {DOCUMENT_PATH} "
                                "(set SALLA_SYNC_DAFTRA_OPENAPI to its path)")
    original = json.loads(DOCUMENT_PATH.read_text(encoding="utf-8"))
    document = copy.deepcopy(original)
    twins = {pointer: _at(original, twin) for pointer, twin in _TWINS.items()}
    nodes = [node for pointer, root in _roots(document) for node in _schema_nodes(root, pointer)]
    for pointer, schema in nodes:
        _read_schema(schema, twins.get(pointer))

    for departure in BODY_DEPARTURES:
        for pointer in departure.at:
            parent_pointer, _, name = pointer.rpartition("/properties/")
            parent = _at(document, parent_pointer)
            parent.setdefault("properties", {})[_unescape(name)] = copy.deepcopy(departure.schema)

    # Strict about names: an object that lists its properties accepts no other. The members of an
    # allOf are left open (each lists only its share of the keys); the allOf itself is closed, with
    # unevaluatedProperties, which sees through allOf and $ref.
    members: set[str] = set()
    for pointer, schema in nodes:
        for n, member in enumerate(schema.get("allOf") or []):
            members.add(f"{pointer}/allOf/{n}")
            target = _ref_target(member)
            if target:
                members.add(target)
    for pointer, schema in nodes:
        if pointer in members:
            continue
        if schema.get("allOf"):
            # Name the members' keys here too (``true``: their schemas still come from the members),
            # so a key whose *content* is wrong is reported there, not also as an unknown key.
            names = schema.setdefault("properties", {})
            for member in schema["allOf"]:
                target = _ref_target(member)
                resolved = _at(document, target) if target else member
                for name in resolved.get("properties") or {}:
                    names.setdefault(name, True)
        if schema.get("properties") or schema.get("allOf"):
            schema["unevaluatedProperties"] = False
    return document


@lru_cache(maxsize=1)
def _registry() -> Registry:
    resource = Resource.from_contents(_document(), default_specification=DRAFT202012)
    return Registry().with_resource(DOCUMENT_URI, resource)


@lru_cache(maxsize=None)
def _validator(pointer: str) -> Draft202012Validator:
    return Draft202012Validator({"$ref": f"{DOCUMENT_URI}#{quote(pointer, safe='/~')}"}, registry=_registry())


# -- matching a request to an operation ------------------------------------------------------------

@dataclass(frozen=True)
class _Operation:
    path: str  # as the document writes it, e.g. "/invoices/{id}{format}"
    method: str
    parameters: dict[str, dict]  # query parameter name -> its schema
    body: str | None  # JSON pointer of the JSON request-body schema


@lru_cache(maxsize=1)
def _paths() -> list[tuple[re.Pattern[str], str]]:
    """(pattern of the path after /api2 and without .json, document path), literal paths first."""
    rows = []
    for path in _document()["paths"]:
        bare = path.removesuffix("{format}")
        literal = "{" not in bare
        pattern = re.escape(bare.removesuffix(".json"))
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", pattern)
        rows.append((not literal, re.compile(f"^{pattern}$"), path))
    return [(pattern, path) for _, pattern, path in sorted(rows, key=lambda row: row[0])]


def _operation(path: str, method: str) -> _Operation | None | str:
    for pattern, doc_path in _paths():
        if pattern.match(path):
            operation = _document()["paths"][doc_path].get(method.lower())
            if not isinstance(operation, dict):
                return doc_path  # the path exists, the method does not
            parameters = {p["name"]: p.get("schema") or {} for p in operation.get("parameters") or []
                          if p.get("in") == "query"}
            content = (operation.get("requestBody") or {}).get("content") or {}
            body = None
            if "application/json" in content:
                body = f"/paths/{_escape(doc_path)}/{method.lower()}/requestBody/content/application~1json/schema"
            return _Operation(doc_path, method.upper(), parameters, body)
    return None


# -- the check -------------------------------------------------------------------------------------

def check_request(method: str, path: str, query: dict[str, str] | None = None, body: Any = None) -> list[str]:
    """The violations of one request (path as sent, with the /api2 prefix)."""
    where = f"{method} {path}"
    if not path.startswith(API_PREFIX + "/"):
        return [f"{where}: not under {API_PREFIX}"]
    bare = path[len(API_PREFIX):].removesuffix(".json")
    found = _operation(bare, method)
    if found is None:
        return [f"{where}: no such path in the document"]
    if isinstance(found, str):
        return [f"{where}: the document has no {method} on {found}"]
    violations = []
    for name, value in (query or {}).items():
        if name in found.parameters:
            kind = found.parameters[name].get("type")
            if kind == "integer" and not re.fullmatch(r"-?\d+", str(value)):
                violations.append(f"{where}: query parameter {name}={value!r} is not an integer")
        elif (found.path, name) not in QUERY_DEPARTURES:
            violations.append(f"{where}: query parameter {name!r} is not documented for {found.path}")
    if found.body is None:
        if body is not None:
            violations.append(f"{where}: the document describes no body for this call")
    elif body is None:
        violations.append(f"{where}: no JSON body")
    else:
        for error in sorted(_validator(found.body).iter_errors(body), key=lambda e: [str(p) for p in e.absolute_path]):
            violations.append(f"{where}: body {error.json_path}: {error.message}")
    return violations


def check_calls(calls: Iterable[Any]) -> list[str]:
    """The violations of a simulator's recorded calls (``Call``: method, path, query, body), each once."""
    seen: dict[str, None] = {}
    for call in calls:
        for violation in check_request(call.method, call.path, call.query, getattr(call, "body", None)):
            seen.setdefault(violation, None)
    return list(seen)
